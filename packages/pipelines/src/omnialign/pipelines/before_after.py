"""Before/after report of a training run: greedy answers of the base model and of the trained policy on
held-out prompts, scored by the same transparent rule, with intervals, printed and written beside the run.

"Before" is the policy with its LoRA adapters disabled (exactly the base weights; no second copy), or a fresh
load of the base backbone for a full fine-tune. Greedy decoding makes both answers a function of the weights
alone. The comparison is paired (same prompts): mean score before and after with percentile-bootstrap 95%
intervals, the mean per-prompt difference with its paired bootstrap interval, and the win rate of the
trained policy against the base (a tie counts half) with a Wilson interval.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer

from omnialign.alignment.callbacks import ExportPretrained, run_directory
from omnialign.data.records import load_samples
from omnialign.data.sample import Sample
from omnialign.eval.stats import bootstrap_interval, wilson_interval
from omnialign.models.backbone import BackboneOptions, load_causal_lm
from omnialign.models.generation.text import GenerationOptions, TextGenerator
from omnialign.models.rules import PlainProse


def compare(before: Sequence[float], after: Sequence[float], resamples: int, seed: int) -> dict[str, Any]:
    """Paired summary of per-prompt scores before and after training."""
    if len(before) != len(after) or not before:
        raise ValueError(f"need the same non-zero number of scores, got {len(before)} and {len(after)}")
    n = len(before)
    wins = sum(a > b for b, a in zip(before, after, strict=True))
    ties = sum(a == b for b, a in zip(before, after, strict=True))
    differences = [a - b for b, a in zip(before, after, strict=True)]

    def summary(values: Sequence[float]) -> dict[str, Any]:
        return {"mean": sum(values) / n, "ci95": list(bootstrap_interval(list(values), resamples, seed=seed))}

    return {
        "prompts": n,
        "before": summary(before),
        "after": summary(after),
        "difference": summary(differences),
        "win_rate": {
            "value": (wins + 0.5 * ties) / n,
            "ci95": list(wilson_interval(wins + 0.5 * ties, n)),
            "wins": wins,
            "ties": ties,
            "losses": n - wins - ties,
        },
    }


def _interval(stats: dict[str, Any]) -> str:
    low, high = stats["ci95"]
    return f"{stats.get('mean', stats.get('value')):.3f} [{low:.3f}, {high:.3f}]"


def format_report(report: dict[str, Any]) -> str:
    win = report["win_rate"]
    return "\n".join(
        [
            f"held-out before/after ({report['prompts']} prompts never trained on, judge "
            f"{report['judge']['rule']}, greedy answers; mean [95% interval]):",
            f"  score before (base):     {_interval(report['before'])}",
            f"  score after (aligned):   {_interval(report['after'])}",
            f"  difference (paired):     {_interval(report['difference'])}",
            f"  win rate vs base:        {_interval(win)}  ({win['wins']} wins, {win['ties']} ties, "
            f"{win['losses']} losses)",
            f"  report: {report['report_file']}",
            f"  HF-format export: {report['export']}",
        ]
    )


class BeforeAfterReport(Callback):
    """At the end of `fit`, judge greedy answers of the base model and the trained policy on held-out
    prompts. List it after `ExportPretrained` so the report can name the export."""

    def __init__(
        self,
        prompts_file: str,
        judge: PlainProse | None = None,
        max_new_tokens: int = 64,
        batch_size: int = 8,
        max_prompts: int | None = None,
        resamples: int = 2000,
        seed: int = 0,
        filename: str = "before_after.json",
    ) -> None:
        """
        Args:
            prompts_file: Held-out prompts (`prompts` records) that training never saw.
            judge: The rule that scores every answer (default `PlainProse()`).
            max_new_tokens: Longest answer in tokens.
            batch_size: Prompts per `generate` call.
            max_prompts: Use only the first this many prompts (None: all).
            resamples: Bootstrap resamples of the intervals.
            seed: Bootstrap seed.
            filename: Report file, written in the run directory (beside `checkpoints/`).
        """
        self.prompts_file = prompts_file
        self.judge = judge or PlainProse()
        self.generation = GenerationOptions(max_new_tokens=max_new_tokens, do_sample=False)
        self.batch_size = batch_size
        self.max_prompts = max_prompts
        self.resamples = resamples
        self.seed = seed
        self.filename = filename

    def _answers(self, model: Any, processor: Any, samples: list[Sample]) -> list[str]:
        generator = TextGenerator(model, processor, self.generation)
        answers: list[str] = []
        for start in range(0, len(samples), self.batch_size):
            answers += generator.generate(samples[start : start + self.batch_size], seed=0)
        return answers

    def _before_and_after(self, pl_module: LightningModule, samples: list[Sample]) -> tuple[list, list]:
        policy, processor = pl_module.policy, pl_module.processor
        after = self._answers(policy, processor, samples)
        if hasattr(policy, "disable_adapter"):
            with policy.disable_adapter():
                return self._answers(policy, processor, samples), after
        options: BackboneOptions = pl_module.backbone_options
        base = load_causal_lm(BackboneOptions(**{**vars(options), "lora": None}), processor).eval()
        return self._answers(base.to(pl_module.device), processor, samples), after

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        samples = load_samples(self.prompts_file, "prompts").samples[: self.max_prompts]
        was_training = pl_module.policy.training
        pl_module.policy.eval()
        before, after = self._before_and_after(pl_module, samples)
        pl_module.policy.train(was_training)
        scores_before = [self.judge.score(text) for text in before]
        scores_after = [self.judge.score(text) for text in after]
        target = run_directory(trainer) / self.filename
        exports = [c for c in trainer.callbacks if isinstance(c, ExportPretrained)]
        report = {
            **compare(scores_before, scores_after, self.resamples, self.seed),
            "judge": self.judge.describe(),
            "prompts_file": self.prompts_file,
            "max_new_tokens": self.generation.max_new_tokens,
            "report_file": str(target.resolve()),
            "export": str(exports[0].target(trainer).resolve()) if exports else None,
            "answers": [
                {
                    "prompt": s.prompt[-1].text,
                    "before": b,
                    "after": a,
                    "score_before": sb,
                    "score_after": sa,
                }
                for s, b, a, sb, sa in zip(samples, before, after, scores_before, scores_after, strict=True)
            ],
        }
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        print(format_report(report), flush=True)
