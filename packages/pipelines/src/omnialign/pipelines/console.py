"""Console entry points of the installed pipelines package (`omnialign-llf`, `omnialign-refine-prompt`): the
same commands as `apps/llf.py` and `apps/refine_prompt.py`, for an install without this repository. Each
returns None, because a console script passes its function's return value to `sys.exit`."""

from __future__ import annotations


def llf() -> None:
    """`omnialign-llf --config <pipeline>` (= `apps/llf.py`)."""
    from omnialign.pipelines.llf.cli import main

    main()


def refine_prompt() -> None:
    """`omnialign-refine-prompt best-of-n|refine --config <run>` (= `apps/refine_prompt.py`)."""
    from omnialign.pipelines.prompt_refinement.cli import main

    print(f"outputs: {main()}")
