"""The training Python API (`omnialign.alignment.training.fit`): overrides become one strictly validated
config layer on top of the recipe files, with no command line involved."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnialign.alignment.training import fit, nest

REPO = Path(__file__).resolve().parents[2]


def test_dotted_overrides_nest_like_a_yaml_recipe():
    layer = nest({"trainer.max_epochs": 1, "data.init_args.train_files": [Path("a.jsonl")], "seed": 3})
    assert layer == {
        "trainer": {"max_epochs": 1},
        "data": {"init_args": {"train_files": ["a.jsonl"]}},
        "seed": 3,
    }


@pytest.mark.parametrize(
    "overrides", [{"trainer": 1, "trainer.max_epochs": 1}, {"trainer.max_epochs": 1, "trainer": {"a": 1}}]
)
def test_overrides_that_disagree_about_a_section_are_an_error(overrides):
    with pytest.raises(ValueError, match="override"):
        nest(overrides)


def test_an_unknown_override_key_is_an_error_not_a_default(capsys):
    with pytest.raises(SystemExit):
        fit([REPO / "configs/quickstart.yaml"], {"trainer.max_epoch": 1})
    assert "max_epoch" in capsys.readouterr().err
