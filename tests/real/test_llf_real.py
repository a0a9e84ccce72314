"""bench/real/llf.py on a cut-down setting: SmolLM2-135M-Instruct answers two prompts that ask for at most
25 words, the rule critic critiques, the policy refines; every row ends as a pair or a counted skip, and each
pair's critique states its original answer's word count, recounted here."""

from __future__ import annotations

import json

import pytest
from bench_scripts import bench_script

from omnialign.pipelines.llf.cli import build, parser

llf = bench_script("llf")


@pytest.mark.parametrize("name", ["model-critic", "rule-critic"])
def test_smollm2_llf_configs_parse(name):
    pipeline = build(parser().parse_args(["--config", str(llf.CONFIGS / f"{name}.yaml")]))
    assert pipeline.synthesis.policy.name == "smollm2-135m-instruct"
    assert (pipeline.synthesis.critic is None) == (name == "model-critic")


@pytest.mark.heavy
def test_rule_critic_pipeline_runs_on_real_answers(tmp_path):
    result = llf.run("rule-critic", tmp_path, prompts=2, dpo=False)
    assert result["pairs"] + sum(result["skipped"].values()) == 2
    for line in (tmp_path / "rule-critic" / "pairs" / "pairs.jsonl").read_text().splitlines():
        row = json.loads(line)
        words = len(row["provenance"]["original"].split())
        assert f"The answer has {words} words, but the limit is 25." in row["provenance"]["feedback"]
