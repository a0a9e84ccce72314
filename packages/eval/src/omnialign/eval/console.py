"""Console entry point of the installed eval package (`omnialign-evaluate`, = `apps/evaluate.py`). It returns
None, because a console script passes its function's return value to `sys.exit`; the CLI prints where its
outputs are."""

from __future__ import annotations


def evaluate() -> None:
    """`omnialign-evaluate tasks|scores|moderation --config <run>`."""
    from omnialign.eval.cli import main

    main()
