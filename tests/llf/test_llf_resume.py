"""Pair synthesis killed half-way and rerun finishes with every row exactly once, equal to an uninterrupted
run: finished batches are not regenerated, a torn last line is redone, nothing is duplicated or lost."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from omnialign.alignment.llf.responders import TextPolicy
from omnialign.alignment.llf.synthesis import PairSynthesizer
from omnialign.alignment.rollout.generation import GenerationOptions
from omnialign.alignment.text_generation import TextGenerator
from omnialign.data.journal import RowJournal
from omnialign.data.records import load_samples
from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor

PROMPTS = Path(__file__).resolve().parents[2] / "data/tiny/train/align-anything/text-to-text/train.parquet"


class Killed(Exception):
    """Stands for the process dying."""


class DiesOnBatch(TextPolicy):
    """The policy, except that the process dies when batch `fatal` (0-based) starts."""

    def __init__(self, policy: TextGenerator, fatal: int) -> None:
        super().__init__(policy)
        self.calls, self.fatal = 0, fatal

    def respond(self, samples, seed):
        if self.calls == self.fatal:
            raise Killed
        self.calls += 1
        return super().respond(samples, seed)


def _generator(seed: int, tokens: int) -> TextGenerator:
    options = BackboneOptions(name="tiny:llama", seed=seed)
    processor = load_processor(options)
    return TextGenerator(load_causal_lm(options, processor).eval(), processor, GenerationOptions(tokens))


def _rows(output: Path) -> list[dict]:
    rows = RowJournal(output).rows() + RowJournal(output.with_name("pairs.skipped.jsonl")).rows()
    return sorted(rows, key=lambda row: row["id"])


def test_an_interrupted_run_resumes_to_the_same_rows(tmp_path):
    samples = load_samples(PROMPTS, "align-anything/text-to-text").samples[:10]
    policy, critic = _generator(0, 8), _generator(1, 8)

    def synthesizer(folder: str, responder) -> PairSynthesizer:
        return PairSynthesizer(responder, critic, tmp_path / folder / "pairs.jsonl", batch_size=3, seed=7)

    synthesizer("whole", TextPolicy(policy)).run(samples)
    expected = _rows(tmp_path / "whole" / "pairs.jsonl")
    assert len(expected) == 10

    with pytest.raises(Killed):
        synthesizer("resumed", DiesOnBatch(policy, fatal=2)).run(samples)
    pairs = tmp_path / "resumed" / "pairs.jsonl"
    done = len(_rows(pairs))
    assert done == 6  # batches 0 and 1 finished, batch 2 never wrote
    data = pairs.read_bytes()
    pairs.write_bytes(data[:-9])  # the kill also tore the last line of the pairs file

    rerun = DiesOnBatch(policy, fatal=-1)
    report = synthesizer("resumed", rerun).run(samples)
    assert report.torn_lines == 1 and report.done_before == 5
    assert rerun.calls == 3  # batch 1 (torn row), 2 and 3: batch 0 was not regenerated
    resumed = _rows(pairs)
    assert Counter(row["id"] for row in resumed).most_common(1)[0][1] == 1
    assert resumed == expected
