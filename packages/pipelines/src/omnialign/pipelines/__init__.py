"""omnialign.pipelines: multi-stage jobs on top of the objectives.

A pipeline chains stages (generate → judge → pairs → train → evaluate) through the Python APIs of
`omnialign.models` (inference), `omnialign.alignment` (training: `training.fit`) and `omnialign.eval`
(judges, reports); it never formats command lines or rewrites the process command line.

- `llf`: learning from language feedback (feedback data → feedback-model SFT → pair synthesis → training);
- `prompt_refinement`: SafeSora prompt augmentation (best-of-N rewrites judged → SFT/DPO data; refine).

A new pipeline is a new subpackage here, with its app in `apps/`; `omnialign.alignment` does not change.
"""

from importlib.metadata import version

__version__ = version("omnialign-pipelines")  # the one version source is the package's pyproject.toml
