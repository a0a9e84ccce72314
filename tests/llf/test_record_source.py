"""The LLF config's record sources read data as the training datamodules do: a `columns` mapping for files
whose columns are named differently and a `split` for hub ids and saved `DatasetDict` folders, given in the
pipeline's YAML config and checked strictly by its parser."""

from __future__ import annotations

import datasets
import pytest
import yaml
from llf_helpers import REPO

from omnialign.data.errors import RecordError
from omnialign.pipelines.llf.cli import build, parser

TEXT = REPO / "data/tiny/train/align-anything/text-to-text/train.parquet"
SCHEMA = "align-anything/text-to-text"


def test_feedback_data_reads_renamed_columns_from_a_test_split(tmp_path, monkeypatch):
    """`question` renamed to `prompt_text`, saved as a `DatasetDict` whose only split is `test`: through
    `columns` and `split` in the config, the same samples as the shipped file; without the mapping, the error
    names the missing field."""
    monkeypatch.chdir(REPO)  # the shipped config's paths are relative to the repository
    table = datasets.Dataset.from_parquet(str(TEXT)).rename_column("question", "prompt_text")
    datasets.DatasetDict({"test": table}).save_to_disk(str(tmp_path / "hf"))
    renamed = {"files": [str(tmp_path / "hf")], "schema": SCHEMA, "split": "test"}
    renamed["columns"] = {"question": "prompt_text"}
    config = yaml.safe_load((REPO / "configs/llf/tiny-text.yaml").read_text())
    config["feedback_data"]["train"] = renamed
    (tmp_path / "llf.yaml").write_text(yaml.safe_dump(config))
    pipeline = build(parser().parse_args(["--config", str(tmp_path / "llf.yaml")]))
    original = build(parser().parse_args(["--config", str(REPO / "configs/llf/tiny-text.yaml")]))
    read, shipped = pipeline.feedback_data.train.load(), original.feedback_data.train.load()
    assert [(s.prompt, s.responses, s.labels) for s in read] == [
        (s.prompt, s.responses, s.labels) for s in shipped
    ]
    assert len(read) == table.num_rows > 0
    config["feedback_data"]["train"]["columns"] = None
    (tmp_path / "unmapped.yaml").write_text(yaml.safe_dump(config))
    unmapped = build(parser().parse_args(["--config", str(tmp_path / "unmapped.yaml")]))
    with pytest.raises(RecordError, match="row 0, field 'question'"):
        unmapped.feedback_data.train.load()
