"""omnialign.models: networks and all inference.

Backbones from a hub id, a local folder, a GGUF file or a tiny config (`backbone`), any-to-any family
adapters (`any_to_any`), score models (`score`: `ScoreModel.score_samples` is the one scoring path),
diffusion models (`diffusion`), and inference (`generation`: one `GenerationBackend` interface over HF
`generate` and vLLM, diffusers media generation, the one response-log-prob function). Training, pipelines
and evaluation all import inference from here; this package imports only `omnialign.data`.
"""

from importlib.metadata import version

__version__ = version("omnialign-models")  # the one version source is the package's pyproject.toml
