"""omnialign.pipelines: multi-stage jobs on top of the objectives.

A pipeline chains stages (generate → judge → pairs → train → evaluate) through the Python APIs of
`omnialign.models` (inference), `omnialign.alignment` (training) and `omnialign.eval` (judges, reports); it
never formats command lines or rewrites `sys.argv`.
"""

__version__ = "0.1.0"
