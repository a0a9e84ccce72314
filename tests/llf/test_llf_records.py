"""The datasets LLF writes: feedback records (and their training mask), preference records, the journal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnialign.data.encode import ChatEncoder
from omnialign.data.errors import RecordError
from omnialign.data.journal import RowJournal
from omnialign.data.records import load_samples
from omnialign.data.records.rows import MediaWriter, preference_row
from omnialign.data.sample import LabelKey, MediaRef, Message, Part
from omnialign.pipelines.llf.feedback_data import feedback_records, write_jsonl
from omnialign.pipelines.llf.templates import feedback_text

TEXT = "data/tiny/train/align-anything/text-to-text/train.parquet"
IMAGE = "data/tiny/train/align-anything/text-image-to-text/train.parquet"


def _feedback_file(repo_root, tmp_path, source, schema, **options):
    samples = load_samples(repo_root / source, schema).samples[:3]
    records, report = feedback_records(samples, MediaWriter(tmp_path), **options)
    write_jsonl(records, tmp_path / "feedback.jsonl")
    return samples, records, report


def test_feedback_sft_trains_on_the_critique_tokens_only(repo_root, tmp_path, tiny_tokenizer):
    """Each critiqued response is one `sft` record; encoded for SFT, the scored tokens are exactly the
    feedback answer plus the template's end of turn: question, response and task text are all masked."""
    samples, _, report = _feedback_file(repo_root, tmp_path, TEXT, "align-anything/text-to-text")
    assert (report.samples, report.written) == (3, 6)
    loaded = load_samples(tmp_path / "feedback.jsonl", "sft").samples
    assert len(loaded) == 6

    first = samples[0]
    critique = first.meta["response_feedback"]["text_critique_{k}"][0]
    suggestion = first.meta["feedback"]["overall_textfeedback"]
    encoded = ChatEncoder(tiny_tokenizer).encode(loaded[0])
    scored = encoded.input_ids[encoded.response_mask.bool()].tolist()
    assert tiny_tokenizer.decode(scored) == feedback_text(critique, suggestion) + "<|im_end|>\n"
    request = tiny_tokenizer.decode(encoded.input_ids[~encoded.response_mask.bool()].tolist())
    assert first.prompt[0].text in request and first.responses[0][0].text in request


def test_feedback_records_carry_the_prompt_media_and_count_missing_critiques(repo_root, tmp_path):
    samples = load_samples(repo_root / IMAGE, "align-anything/text-image-to-text").samples[:2]
    samples[1].meta["response_feedback"]["text_critique_{k}"] = (None, "a critique")
    records, report = feedback_records(samples, MediaWriter(tmp_path), rationales=True)
    assert report.written == 3 and report.skipped == {"no critique (text_critique_1)": 1}
    write_jsonl(records, tmp_path / "feedback.jsonl")
    loaded = load_samples(tmp_path / "feedback.jsonl", "sft", verify_media=True).samples
    user = loaded[0].prompt[0]
    assert [p.type for p in user.parts] == ["image", "text"]
    assert loaded[0].responses[0][0].text.count("\n- ") == 5  # one rationale line per dimension


def test_preference_records_round_trip_with_media_and_provenance(tmp_path):
    image = tmp_path / "media" / "a.png"
    image.parent.mkdir()
    image.write_bytes(b"not decoded here")
    prompt = (Message("user", (Part.of_media(MediaRef("image", path=str(image))), Part.of_text("Describe"))),)
    row = preference_row(
        "p0",
        prompt,
        (Part.of_text("better"),),
        (Part.of_media(MediaRef("image", data=b"\x89PNG..")),),
        MediaWriter(tmp_path),
        {"feedback": "say more"},
    )
    assert row["messages"][0]["content"][0] == {"type": "image", "image": "media/a.png"}  # relative
    (tmp_path / "pairs.jsonl").write_text(json.dumps(row) + "\n")
    (sample,) = load_samples(tmp_path / "pairs.jsonl", "preference").samples
    assert sample.labels[LabelKey.CHOSEN] == 0
    assert sample.responses[0][0].text == "better"
    embedded = sample.responses[1][0].media
    assert embedded.modality == "image" and Path(embedded.path).read_bytes() == b"\x89PNG.."
    assert sample.prompt[0].parts[0].media.path == str(image)
    assert sample.meta["provenance"] == {"feedback": "say more"}


def test_a_bad_preference_record_names_its_row_and_field(tmp_path):
    rows = [{"prompt": "q", "chosen": "a", "rejected": "b"}, {"prompt": "q", "chosen": "a", "rejected": 3}]
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(RecordError, match=r"pairs.jsonl, row 1, field 'rejected'"):
        load_samples(tmp_path / "pairs.jsonl", "preference")


def test_journal_cuts_a_torn_line_and_refuses_duplicates(tmp_path):
    path = tmp_path / "rows.jsonl"
    journal = RowJournal(path)
    journal.append([{"id": "a", "x": 1}, {"id": "b", "x": 2}])
    with path.open("a") as handle:
        handle.write('{"id": "c", "x"')  # a kill in the middle of a write
    reopened = RowJournal(path)
    assert reopened.torn == 1 and reopened.ids == {"a", "b"}
    with pytest.raises(ValueError, match="already written"):
        reopened.append([{"id": "b"}])
    reopened.append([{"id": "c", "x": 3}])
    assert [row["id"] for row in RowJournal(path).rows()] == ["a", "b", "c"]
