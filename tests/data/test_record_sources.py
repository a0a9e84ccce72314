"""Reading sources as published: column mapping, unknown columns, bad JSONL lines, hub configs and splits.

The hub is replaced at its boundary (`datasets.load_dataset`, `datasets.get_dataset_config_names`) by
in-memory `DatasetDict`s whose media columns carry the real `Audio`/`Image` features, so the tests run
offline and show that no `datasets` decoder (torchcodec for audio) is ever called.
"""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
import yaml

from omnialign.data.datamodules.preference import PreferenceDataModule
from omnialign.data.errors import RecordError
from omnialign.data.fixtures import write_fixture
from omnialign.data.readers import is_hub_id
from omnialign.data.records import ColumnMap, get_schema, load_samples
from omnialign.data.sample import LabelKey

PUBLISHED = Path(__file__).parent / "published"
T2A = "align-anything/text-to-audio"


def _rows(subset: str) -> list[dict]:
    return [json.loads(line) for line in (PUBLISHED / f"{subset}.jsonl").read_text().splitlines()]


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_columns_rename_fields_and_unknown_columns_are_counted(tmp_path):
    rows = [
        {("prompt_text" if k == "question" else k): v for k, v in r.items()} for r in _rows("text-to-text")
    ]
    rows[0]["annotator"] = "x"
    path = _write_jsonl(tmp_path / "renamed.jsonl", rows)
    with pytest.raises(RecordError, match="question"):
        load_samples(path, "align-anything/text-to-text")
    result = load_samples(path, "align-anything/text-to-text", columns={"question": "prompt_text"})
    assert [s.prompt[0].text for s in result.samples] == [r["prompt_text"] for r in rows]
    assert dict(result.report.unknown_columns) == {"annotator": 1}
    assert result.samples[0].meta["extras"] == {"annotator": "x"}
    assert "annotator (not in the schema, kept in extras)" in result.report.summary()


def test_dimension_letters_swap_without_code(tmp_path):
    """A release that files audio quality under `a` and consistency under `o` is one config line away."""
    swapped = []
    for row in _rows("text-to-audio"):
        out = dict(row)
        for old, new in (("o", "a"), ("a", "o")):
            out[f"{new}_audio"] = row[f"{old}_audio"]
            out |= {f"{new}_rationale_{k}": row[f"{old}_rationale_{k}"] for k in (1, 2)}
        swapped.append(out)
    path = _write_jsonl(tmp_path / "swapped.jsonl", swapped)
    letters = {"audio_quality": "a", "consistency": "o"}
    result = load_samples(path, T2A, dimension_letters=letters)
    for row, sample in zip(_rows("text-to-audio"), result.samples, strict=True):
        assert sample.labels[LabelKey.DIMENSIONS]["audio_quality"] == row["o_audio"] - 1
        assert sample.labels[LabelKey.DIMENSIONS]["consistency"] == row["a_audio"] - 1
        assert sample.meta["rationales"]["consistency"] == (row["a_rationale_1"], row["a_rationale_2"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"columns": {"questoin": "q"}}, "does not have"),
        ({"dimension_letters": {"loudness": "l"}}, "has no dimensions"),
        (
            {"dimension_letters": {"consistency": "x"}, "schema": "pku-saferlhf"},
            "does not name its dimension",
        ),
        ({"dimension_letters": {"consistency": "o"}}, "also the target"),
    ],
)
def test_column_mapping_mistakes_are_configuration_errors(options, message):
    schema = options.pop("schema", T2A)
    with pytest.raises(ValueError, match=message):
        load_samples(PUBLISHED / "text-to-audio.jsonl", schema, on_invalid="skip", **options)


def test_a_jsonl_line_that_is_not_json_is_skipped_and_rejected(tmp_path):
    lines = [json.dumps(r) for r in _rows("text-to-text")]
    lines.insert(1, '{"question": "cut off')
    lines.insert(3, "[1, 2]")
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordError, match=r"row 1, field '<line>': not valid JSON"):
        load_samples(path, "align-anything/text-to-text")
    rejects = tmp_path / "rejects.jsonl"
    result = load_samples(path, "align-anything/text-to-text", on_invalid="skip", rejects_path=rejects)
    assert (result.report.read, result.report.kept) == (5, 3)
    assert dict(result.report.skipped) == {"invalid:<line>": 1, "invalid:<row>": 1}
    rejected = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["row"], r["record"]) for r in rejected] == [(1, '{"question": "cut off\n'), (3, [1, 2])]


# hub datasets ---------------------------------------------------------------------------------------------


def _audio_table(rows: list[dict]) -> datasets.Dataset:
    """Rows with their audio embedded as bytes, typed `Audio()` as the hub's parquet files are."""
    embedded = [
        {**r, **{f"response_{k}": {"bytes": (PUBLISHED / r[f"response_{k}"]).read_bytes(), "path": None}
                 for k in (1, 2)}}
        for r in rows
    ]  # fmt: skip
    table = datasets.Dataset.from_list(embedded)
    for k in (1, 2):
        table = table.cast_column(f"response_{k}", datasets.Audio())
    return table


@pytest.fixture
def hub(monkeypatch):
    """A fake hub: `{repo: {config: DatasetDict}}`; records every `load_dataset` call."""
    repos: dict[str, dict[str, datasets.DatasetDict]] = {}
    calls: list[tuple[str, str | None]] = []

    def load_dataset(repo, config=None, **kwargs):
        calls.append((repo, config))
        assert not kwargs, "splits are chosen after loading"
        return repos[repo][config or "default"]

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    monkeypatch.setattr(datasets, "get_dataset_config_names", lambda repo: list(repos[repo]))
    return repos, calls


def test_hub_audio_is_read_undecoded_from_the_named_config_and_split(hub):
    repos, calls = hub
    rows = _rows("text-to-audio")
    repos["PKU-Alignment/align-anything"] = {
        "text-to-audio": datasets.DatasetDict(
            train=_audio_table(rows[:2]), validation=_audio_table(rows[2:])
        ),
        "text-to-text": datasets.DatasetDict(train=datasets.Dataset.from_list(_rows("text-to-text"))),
    }
    with pytest.raises(ImportError):  # what `datasets` itself would do without torchcodec
        _ = repos["PKU-Alignment/align-anything"]["text-to-audio"]["train"][0]
    source = "PKU-Alignment/align-anything:text-to-audio"
    result = load_samples(source, T2A, split="validation", verify_media=True)
    assert calls == [("PKU-Alignment/align-anything", "text-to-audio")]
    assert [s.prompt[0].text for s in result.samples] == [rows[2]["prompt"]]
    media = result.samples[0].responses[0][0].media
    assert media.data == (PUBLISHED / rows[2]["response_1"]).read_bytes()
    with pytest.raises(ValueError, match=r"no split 'test'; it has \['train', 'validation'\]"):
        load_samples(source, T2A, split="test")


def test_a_multi_config_hub_dataset_needs_a_config(hub):
    repos, _ = hub
    table = datasets.DatasetDict(train=datasets.Dataset.from_list(_rows("text-to-text")))
    repos["PKU-Alignment/align-anything"] = {"text-to-text": table, "text-to-image": table}
    with pytest.raises(ValueError, match="name one as 'PKU-Alignment/align-anything:<config>'"):
        load_samples("PKU-Alignment/align-anything", "align-anything/text-to-text")
    repos["PKU-Alignment/PKU-SafeRLHF"] = {"default": table, "alpaca-7b": table}
    assert load_samples("PKU-Alignment/PKU-SafeRLHF", "align-anything/text-to-text").report.kept == 3


def test_hub_safesora_needs_its_video_folder(hub):
    with pytest.raises(ValueError, match="pass media_root"):
        load_samples("PKU-Alignment/SafeSora", "safesora/pairs")
    assert hub[1] == [], "refused before anything was downloaded"


def test_datamodule_reads_the_validation_split_for_val_files(hub, tmp_path):
    repos, _ = hub
    fixture = write_fixture(tmp_path, "pku-saferlhf", rows=5)
    splits = datasets.DatasetDict(
        train=datasets.Dataset.from_list(fixture.rows[:3]), test=datasets.Dataset.from_list(fixture.rows[3:])
    )
    repos["PKU-Alignment/PKU-SafeRLHF"] = {"default": splits}
    data = PreferenceDataModule(
        ["PKU-Alignment/PKU-SafeRLHF"], ["PKU-Alignment/PKU-SafeRLHF"], val_split="test", dimension="better"
    )
    train, val = data._load("train", data.train_files), data._load("val", data.val_files)
    assert [s.prompt[0].text for s in train] == [r["prompt"] for r in fixture.rows[:3]]
    assert [s.prompt[0].text for s in val] == [r["prompt"] for r in fixture.rows[3:]]


# shipped configs and docs ---------------------------------------------------------------------------------

ROOT = Path(__file__).parents[2]


def _data_args(config: Path) -> list[dict]:
    """`init_args` of every `data:` block (apps also nest datamodules under other keys)."""
    found: list[dict] = []

    def walk(node):
        if isinstance(node, dict):
            args = node.get("init_args")
            if isinstance(args, dict) and "schema" in args:
                found.append(args)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(config.read_text()))
    return found


def test_shipped_recipes_name_hub_configs_and_video_folders():
    """A multi-config hub dataset without a config, or hub SafeSora without media_root, fails on the GPU."""
    problems = []
    for config in sorted((ROOT / "configs").rglob("*.yaml")):
        for args in _data_args(config):
            schema = get_schema(args["schema"])
            for source in (*args.get("train_files", []), *(args.get("val_files") or [])):
                if source.startswith("PKU-Alignment/align-anything") and ":" not in source:
                    problems.append(f"{config.name}: {source} needs ':<config>'")
                if schema.external_media and is_hub_id(source) and not args.get("media_root"):
                    problems.append(f"{config.name}: {source} needs media_root")
    assert problems == []


def test_the_data_readme_mapping_is_valid():
    text = (ROOT / "packages/data/README.md").read_text()
    args = yaml.safe_load(text.split("```yaml\n")[1].split("```")[0])["data"]["init_args"]
    mapping = ColumnMap(get_schema(args["schema"]), args["columns"], args["dimension_letters"])
    assert mapping.mapping == {
        "prompt": "caption",
        "a_audio": "c_audio",
        "a_rationale_1": "c_rationale_1",
        "a_rationale_2": "c_rationale_2",
    }
    data = PreferenceDataModule(args["train_files"], **{k: v for k, v in args.items() if k != "train_files"})
    assert data.source_splits == {"train": "train", "val": "validation"}
