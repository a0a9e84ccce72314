"""Pair synthesis killed half-way and rerun finishes with every row exactly once, equal to an uninterrupted
run: finished batches are not regenerated, a torn last line is redone, nothing is duplicated or lost; and
two processes under torchrun write the same pairs as one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from omnialign.data.journal import RowJournal
from omnialign.data.records import load_samples
from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor
from omnialign.models.generation.text import GenerationOptions, TextGenerator
from omnialign.pipelines.llf.responders import TextPolicy
from omnialign.pipelines.llf.synthesis import PairSynthesizer

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
    """The merged pairs and skips."""
    return RowJournal(output).rows() + RowJournal(output.with_name("pairs.skipped.jsonl")).rows()


def _part_rows(output: Path) -> list[dict]:
    """What the (single) rank has written so far."""
    parts = output.with_name("pairs.parts")
    return RowJournal(parts / "rank0.jsonl").rows() + RowJournal(parts / "rank0.skipped.jsonl").rows()


def test_an_interrupted_run_resumes_to_the_same_rows(tmp_path):
    samples = load_samples(PROMPTS, "align-anything/text-to-text").samples[:10]
    policy, critic = _generator(0, 8), _generator(1, 8)

    def synthesizer(folder: str, responder) -> PairSynthesizer:
        return PairSynthesizer(responder, critic, tmp_path / folder / "pairs.jsonl", batch_size=3, seed=7)

    whole = synthesizer("whole", TextPolicy(policy))
    whole.run(samples)
    whole.merge(samples)
    expected = _rows(tmp_path / "whole" / "pairs.jsonl")
    assert len(expected) == 10

    with pytest.raises(Killed):
        synthesizer("resumed", DiesOnBatch(policy, fatal=2)).run(samples)
    pairs = tmp_path / "resumed" / "pairs.jsonl"
    assert len(_part_rows(pairs)) == 6  # batches 0 and 1 finished, batch 2 never wrote
    part = tmp_path / "resumed" / "pairs.parts" / "rank0.jsonl"
    part.write_bytes(part.read_bytes()[:-9])  # the kill also tore the last line of the pairs part

    rerun = DiesOnBatch(policy, fatal=-1)
    resumed = synthesizer("resumed", rerun)
    report = resumed.run(samples)
    assert report.torn_lines == 1 and report.done_before == 5
    assert rerun.calls == 3  # batch 1 (torn row), 2 and 3: batch 0 was not regenerated
    resumed.merge(samples)
    rows = _rows(pairs)
    assert Counter(row["id"] for row in rows).most_common(1)[0][1] == 1
    assert sorted(rows, key=lambda r: r["id"]) == sorted(expected, key=lambda r: r["id"])


def _synthesis_config(folder: Path, limit: int = 10, zero3: bool = False) -> Path:
    config = folder / "llf.yaml"
    config.write_text(
        f"""workdir: {folder}
synthesis:
  zero3: {str(zero3).lower()}
  prompts: {{files: [{PROMPTS}], schema: align-anything/text-to-text, limit: {limit}}}
  policy: {{name: tiny:llama}}
  feedback_model: {{name: tiny:llama, seed: 1}}
  generation: {{max_new_tokens: 8}}
  feedback_generation: {{max_new_tokens: 8}}
  batch_size: 3
  seed: 3
"""
    )
    return config


APP = str(PROMPTS.parents[5] / "apps" / "llf.py")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "DS_ACCELERATOR": "cpu"}
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> list[dict]:
    """The pairs of 7 prompts (batches of 3) synthesised by one process."""
    folder = tmp_path_factory.mktemp("one")
    subprocess.run([sys.executable, APP, "--config", str(_synthesis_config(folder, 7))], check=True, env=ENV)
    rows = _rows(folder / "pairs" / "pairs.jsonl")
    assert len(rows) == 7
    return rows


def test_two_processes_under_torchrun_write_the_pairs_of_one(one_process, tmp_path):
    """Ranks take alternate batches, each into its own part file; rank 0 merges in prompt order."""
    config = _synthesis_config(tmp_path, 7)
    subprocess.run([*TORCHRUN, APP, "--config", str(config)], check=True, env=ENV, timeout=300)
    parts = sorted(p.name for p in (tmp_path / "pairs" / "pairs.parts").iterdir())
    assert parts == ["rank0.jsonl", "rank0.skipped.jsonl", "rank1.jsonl", "rank1.skipped.jsonl"]
    assert _rows(tmp_path / "pairs" / "pairs.jsonl") == one_process


def test_zero3_sharded_models_synthesise_the_pairs_of_one_process(one_process, tmp_path):
    """Policy and critic partitioned over 2 ranks with DeepSpeed ZeRO-3 (gloo, CPU). Rank 1 has one batch
    fewer than rank 0 and generates a filler batch, so both ranks join the same number of weight gathers;
    the pairs equal those of a single unsharded process."""
    pytest.importorskip("deepspeed", reason="deepspeed not installed (uv sync installs its default group)")
    config = _synthesis_config(tmp_path, 7, zero3=True)
    subprocess.run([*TORCHRUN, APP, "--config", str(config)], check=True, env=ENV, timeout=300)
    assert _rows(tmp_path / "pairs" / "pairs.jsonl") == one_process
