"""Console entry points of the installed package (`omnialign-train`, `omnialign-export`,
`omnialign-generate`): the same commands as `apps/train.py`, `apps/export.py` and `apps/generate.py`, for an
install without this repository. Each returns None, because a console script passes its function's return
value to `sys.exit`, which would turn a returned path into exit status 1; the path is printed instead."""

from __future__ import annotations


def train() -> None:
    """`omnialign-train fit --config <recipe>` (= `apps/train.py`)."""
    from omnialign.alignment.cli import main

    main()


def export() -> None:
    """`omnialign-export --checkpoint <ckpt> --output <folder>` (= `apps/export.py`)."""
    from omnialign.alignment.export import main

    main()


def generate() -> None:
    """`omnialign-generate --config <gallery>` (= `apps/generate.py`): any-to-any answers as an HTML page."""
    from jsonargparse import auto_cli

    from omnialign.models.any_to_any.gallery import generate_gallery

    print(f"generations: {auto_cli(generate_gallery, as_positional=False)}")
