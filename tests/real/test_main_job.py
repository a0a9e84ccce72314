"""The README's main job (configs/smollm2/dpo.yaml) through the train app, cut down: 4 of the shipped pairs,
2 steps, 3 held-out prompts, short answers. The report must be written, printed and consistent with its own
answers (every score recomputed by the rule, every summary recomputed from the scores)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from omnialign.alignment.cli import main
from omnialign.models.rules import PlainProse

REPO = Path(__file__).resolve().parents[2]


def test_main_job_reports_before_and_after_on_heldout_prompts(tmp_path, capsys):
    config = yaml.safe_load((REPO / "configs" / "smollm2" / "dpo.yaml").read_text())
    pairs = (REPO / "data" / "smollm2" / "preference_train.jsonl").read_text().splitlines()[:4]
    (tmp_path / "pairs.jsonl").write_text("\n".join(pairs) + "\n")
    trainer = config["trainer"]
    trainer |= {"max_steps": 2, "default_root_dir": str(tmp_path / "run"), "enable_progress_bar": False}
    trainer["logger"]["init_args"]["save_dir"] = str(tmp_path / "run")
    report_args = trainer["callbacks"][-1]["init_args"]
    report_args |= {
        "prompts_file": str(REPO / report_args["prompts_file"]),
        "max_prompts": 3,
        "max_new_tokens": 12,
    }
    config["data"]["init_args"] |= {"train_files": [str(tmp_path / "pairs.jsonl")], "batch_size": 2}
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(config))

    main(["fit", "--config", str(tmp_path / "job.yaml")])

    report = json.loads((tmp_path / "run" / "before_after.json").read_text())
    printed = capsys.readouterr().out
    assert "win rate vs base" in printed and report["export"] in printed
    assert Path(report["export"], "config.json").is_file()
    answers = report["answers"]
    assert report["prompts"] == len(answers) == 3
    rule = PlainProse(**{k: v for k, v in report["judge"].items() if k != "rule"})
    before = [rule.score(a["before"]) for a in answers]
    after = [rule.score(a["after"]) for a in answers]
    assert before == [a["score_before"] for a in answers] and after == [a["score_after"] for a in answers]
    assert report["before"]["mean"] == pytest.approx(sum(before) / 3)
    assert report["after"]["mean"] == pytest.approx(sum(after) / 3)
    wins = sum(a > b for a, b in zip(after, before, strict=True))
    ties = sum(a == b for a, b in zip(after, before, strict=True))
    assert (report["win_rate"]["wins"], report["win_rate"]["ties"]) == (wins, ties)
    assert report["win_rate"]["value"] == pytest.approx((wins + ties / 2) / 3)
    for key in ("before", "after", "difference"):
        low, high = report[key]["ci95"]
        assert low <= report[key]["mean"] <= high
