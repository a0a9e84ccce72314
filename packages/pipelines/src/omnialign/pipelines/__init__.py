"""omnialign.pipelines: multi-stage jobs on top of the objectives.

A pipeline chains stages (generate → judge → pairs → train → evaluate) through the Python APIs of
`omnialign.models` (inference), `omnialign.alignment` (training) and `omnialign.eval` (judges, reports); it
never formats command lines or rewrites `sys.argv`.
"""

from importlib.metadata import version

__version__ = version("omnialign-pipelines")  # the one version source is the package's pyproject.toml
