"""omnialign.alignment: objectives and the training runtime.

Pure loss functions (`losses`), one LightningModule per objective (`modules`), the reference policy they
share (`reference`), RL rollouts and scorers (`rollout`), and the runtime: the LightningCLI (`cli`), training
as a Python call (`training.fit`), exact resume, resilience, crash-safe checkpoint IO and HF export.
Inference comes from `omnialign.models.generation`; multi-stage jobs live in `omnialign.pipelines`.
"""

from importlib.metadata import version

__version__ = version("omnialign-alignment")  # the one version source is the package's pyproject.toml
