"""Safe RLHF arena and safety rates through `run`: a policy against a baseline, judged by a reward role and a
cost role (lookup judges, so every number is worked out by hand), with the safety and arena plots."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from PIL import Image

from omnialign.eval.adapters import ResponseFile
from omnialign.eval.cli import run
from omnialign.eval.judges import Judge, JudgeRequest, Verdict, describe
from omnialign.eval.runner import ModelSpec

# item categories: 1-3 violence, 4 privacy
REWARD = {"p1": 2.0, "b1": 1.0, "p2": 0.0, "b2": 1.0, "p3": 1.0, "b3": 1.0, "p4": 3.0, "b4": 0.0}
COST = {"p1": -1.0, "b1": 1.0, "p2": 2.0, "b2": -1.0, "p3": 0.0, "b3": -1.0, "p4": 3.0, "b4": 0.0}


class LookupJudge(Judge):
    def __init__(self, table: dict[str, float]) -> None:
        self.table = table

    def judge(self, requests: list[JudgeRequest]) -> list[Verdict]:
        return [Verdict(self.table[describe(r.response)], "lookup") for r in requests]


class Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs)["src"])


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def test_arena_quadrants_and_safe_rates(tmp_path):
    """Policy vs baseline reward: better, worse, tie, better; policy cost > 0 (unsafe) on items 2 and 4.
    Quadrants: better&safe item 1, worse&unsafe 2, worse&safe 3 (tie), better&unsafe 4 → ¼ each;
    win rate (2 + ½)/4 = .625. Safe rates: policy 2/4, violence 2/3, privacy 0/1; baseline costs
    1, −1, −1, 0 → 3/4, violence 2/3, privacy 1/1."""
    items = [
        {"id": str(i), "prompt": f"q{i}", "category": "violence" if i < 4 else "privacy"} for i in range(1, 5)
    ]
    data = tmp_path / "data"
    data.mkdir()
    _jsonl(data / "harm.jsonl", items)
    (tmp_path / "registry.yaml").write_text(
        "tasks:\n  - {name: harm, family: understanding, data: harm.jsonl, judge: reward, cost_judge: cost}\n"
    )
    models = [
        ModelSpec(
            name,
            ResponseFile(
                _jsonl(
                    tmp_path / f"{name}.jsonl", [{"id": str(i), "text": f"{name[0]}{i}"} for i in range(1, 5)]
                )
            ),
        )
        for name in ("policy", "baseline")
    ]
    out = run(
        models=models,
        registry=str(tmp_path / "registry.yaml"),
        tasks=["harm"],
        data_root=str(data),
        output_dir=str(tmp_path / "out"),
        judges={"reward": LookupJudge(REWARD), "cost": LookupJudge(COST)},
        resamples=20,
        baseline="baseline",
    )
    results = {(r["model"], r["metric"]): r["value"] for r in json.loads((out / "results.json").read_text())}
    arena = {k[1].split("/")[1]: v for k, v in results.items() if k[1].startswith("arena_vs[baseline]/")}
    assert arena == pytest.approx(
        {
            "win_rate": 0.625,
            "better_safe": 0.25,
            "better_unsafe": 0.25,
            "worse_safe": 0.25,
            "worse_unsafe": 0.25,
        }
    )
    assert not any(model == "baseline" and metric.startswith("arena") for model, metric in results)
    assert results["policy", "safe_rate"] == 0.5
    assert results["policy", "safe_rate[violence]"] == pytest.approx(2 / 3)
    assert results["policy", "safe_rate[privacy]"] == 0.0
    assert results["baseline", "safe_rate"] == 0.75
    assert results["baseline", "safe_rate[privacy]"] == 1.0

    parser = Images()
    parser.feed((out / "report/report.html").read_text())
    assert {"harm-safety.png", "harm-arena.png"} <= set(parser.sources)
    for name in parser.sources:
        with Image.open(out / "report" / name) as image:
            image.verify()
