"""omnialign.eval: torchmetrics metrics for reward, cost and moderation models, arenas and generation, and
the eval-anything runner behind `apps/evaluate.py` (see the package README)."""

from importlib.metadata import version

__version__ = version("omnialign-eval")  # the one version source is the package's pyproject.toml
