"""omnialign.models."""

from importlib.metadata import version

__version__ = version("omnialign-models")  # the one version source is the package's pyproject.toml
