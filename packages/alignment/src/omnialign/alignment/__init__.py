"""omnialign.alignment."""

from importlib.metadata import version

__version__ = version("omnialign-alignment")  # the one version source is the package's pyproject.toml
