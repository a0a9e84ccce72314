"""omnialign.data."""

from importlib.metadata import version

__version__ = version("omnialign-data")  # the one version source is the package's pyproject.toml
