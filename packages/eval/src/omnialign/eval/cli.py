"""`apps/evaluate.py`'s logic: parse a strict run config, evaluate (eval-anything tasks, or a score model's
benchmark), write results JSON, per-sample JSONL and the HTML report.

Outputs under `output_dir`: `results.json` (a list of entries with exactly the keys model, task, metric,
value, n, ci_low, ci_high, ci_method), `samples.jsonl` (one row per model × item: inputs, output, score,
judge verdict) and `report/report.html` with its PNGs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from jsonargparse import auto_cli

from omnialign.data.datamodules.moderation import ModerationInputs
from omnialign.eval.distributed import process_group
from omnialign.eval.image_metrics import ImageMetricOptions
from omnialign.eval.judges import Judge
from omnialign.eval.moderation_eval import score_moderation, summarise_moderation
from omnialign.eval.report import write_moderation_report, write_report, write_score_report
from omnialign.eval.results import as_json
from omnialign.eval.runner import ModelSpec, RunOptions, evaluate
from omnialign.eval.scoring import ScoreKind, ScoreSubset, score_pairs, summarise_scores
from omnialign.eval.tasks import load_registry
from omnialign.models.backbone import BackboneOptions, load_processor
from omnialign.models.device import resolve_device
from omnialign.models.score import ScoreModel


def run(
    models: list[ModelSpec],
    registry: str,
    tasks: list[str],
    data_root: str,
    output_dir: str,
    judges: dict[str, Judge] | None = None,
    resamples: int = 1000,
    baseline: str | None = None,
    image_metrics: ImageMetricOptions | None = None,
) -> Path:
    """Evaluate `models` on the named `tasks` of `registry` and write the three outputs.

    Under a launcher that starts several processes (`torchrun --nproc-per-node N apps/evaluate.py tasks
    ...`), each process answers and judges its share of every task's items and rank 0 writes the outputs,
    identical to a single-process run's.

    Args:
        models: Models under evaluation, each a name and an adapter.
        registry: YAML file declaring the tasks.
        tasks: Names of the registry's tasks to run, in order.
        data_root: Folder the tasks' `data` paths are relative to.
        output_dir: Where results.json, samples.jsonl and report/ are written.
        judges: Judge per role named by the tasks.
        resamples: Bootstrap resamples per confidence interval.
        baseline: Model the others face in the Safe RLHF arena (tasks with a cost judge).
        image_metrics: Weights and sizes for the FID/KID/IS/CLIPScore a task asks for.
    """
    declared = load_registry(registry)
    unknown = [name for name in tasks if name not in declared]
    if unknown:
        raise ValueError(f"tasks {unknown} are not in {registry}; declared: {sorted(declared)}")
    selected = [declared[name] for name in tasks]
    judges = judges or {}
    roles = {role for t in selected for role in (t.judge, t.cost_judge) if role is not None}
    unbound = sorted(roles - judges.keys())
    if unbound:
        raise ValueError(f"no judge bound to roles {unbound}; add them under `judges`")
    if baseline is not None and baseline not in {m.name for m in models}:
        raise ValueError(f"baseline '{baseline}' is not one of the models")
    with process_group() as shards:
        sizes = image_metrics or ImageMetricOptions()
        results, rows = evaluate(
            models, selected, judges, RunOptions(Path(data_root), resamples, baseline, sizes, shards)
        )
        out = Path(output_dir)
        if shards.is_main:
            _write(results, rows, out)
            write_report(results, rows, out / "report", media_root=Path(data_root))
    return out


def scores(
    model: str,
    subsets: list[ScoreSubset],
    output_dir: str,
    kind: ScoreKind = "reward",
    head: str | None = None,
    processor: str | None = None,
    schema: str = "pku-saferlhf",
    dimension: str | None = None,
    batch_size: int = 8,
    media_root: str | None = None,
    split: str = "train",
    columns: dict[str, str] | None = None,
    dimension_letters: dict[str, str] | None = None,
    device: str = "auto",
) -> Path:
    """Benchmark a trained reward or cost model on preference pairs, per subset; same three outputs.

    Args:
        model: Folder written by `ScoreModel.save_pretrained`.
        subsets: Named groups of preference files, each reported on its own.
        output_dir: Where results.json, samples.jsonl and report/ are written.
        kind: `reward` (preference accuracy, margin) or `cost` (ranking and sign accuracy).
        head: Score head to read; default: the one named like `kind`.
        processor: Tokenizer/processor location when not in `model` (e.g. `tiny:llama`).
        schema: Record schema of the files.
        dimension: Preference dimension that decides the chosen response (PKU-SafeRLHF: `better`,
            `safer`; align-anything: `overall`, ...); None: the schema's default.
        batch_size: Pairs per forward pass.
        media_root: Folder relative media paths are resolved against.
        split: Split read from hub ids and saved `DatasetDict` folders among the files (e.g. `test`).
        columns: Schema field -> column holding it in the files, for data whose columns are named
            differently (`{prompt: question}`); unmapped columns keep their names.
        dimension_letters: align-anything only: preference dimension -> the letter its preference and
            rationale columns use in the files (`{consistency: a}` reads `a_audio`, `a_rationale_1`).
        device: `auto` (the GPU when CUDA is available, else the CPU), `cpu`, `cuda:1`, ...
    """
    score_model = ScoreModel.from_pretrained(model).to(resolve_device(device))
    loaded = load_processor(BackboneOptions(name=processor or model))
    metric, rows = score_pairs(
        score_model,
        loaded,
        subsets,
        kind,
        head or kind,
        schema=schema,
        dimension=dimension,
        batch_size=batch_size,
        media_root=media_root,
        split=split,
        columns=columns,
        dimension_letters=dimension_letters,
    )
    results = summarise_scores(Path(model).name, kind, metric, rows)
    out = _write(results, rows, Path(output_dir))
    write_score_report(results, rows, kind, out / "report")
    return out


def moderation(
    model: str,
    files: list[str],
    output_dir: str,
    processor: str | None = None,
    schema: str = "safesora/labels",
    inputs: ModerationInputs = "prompt+video",
    batch_size: int = 8,
    media_root: str | None = None,
    split: str = "train",
    columns: dict[str, str] | None = None,
    device: str = "auto",
) -> Path:
    """Benchmark a multi-label moderation model per harm category; same three outputs.

    Args:
        model: Folder written by `ScoreModel.save_pretrained`, one head per category it predicts.
        files: SafeSora label (or eval-prompt) files.
        output_dir: Where results.json, samples.jsonl and report/ are written.
        processor: Tokenizer/processor location when not in `model` (e.g. `tiny:llama`).
        schema: `safesora/labels` or `safesora/eval`.
        inputs: What the classifier judges: `prompt` alone or `prompt+video`.
        batch_size: Records per forward pass.
        media_root: Folder relative media paths are resolved against.
        split: Split read from hub ids and saved `DatasetDict` folders among the files.
        columns: Schema field -> column holding it in the files, for data whose columns are named
            differently; unmapped columns keep their names.
        device: `auto` (the GPU when CUDA is available, else the CPU), `cpu`, `cuda:1`, ...
    """
    score_model = ScoreModel.from_pretrained(model).to(resolve_device(device))
    loaded = load_processor(BackboneOptions(name=processor or model))
    metric, rows = score_moderation(
        score_model,
        loaded,
        files,
        schema,
        inputs,
        batch_size,
        media_root=media_root,
        split=split,
        columns=columns,
    )
    results = summarise_moderation(Path(model).name, metric, rows)
    out = _write(results, rows, Path(output_dir))
    write_moderation_report(results, out / "report")
    return out


def _write(results: list[dict], rows: list[dict], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(as_json(results), indent=2, allow_nan=False))
    with (out / "samples.jsonl").open("w") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)
    return out


def main(args: list[str] | None = None) -> Path:
    """Subcommands `tasks` (eval-anything tasks), `scores` (reward/cost benchmarks) and `moderation`, each
    taking `--config run.yaml` with every option also a flag; unknown keys are errors."""
    commands = {"tasks": run, "scores": scores, "moderation": moderation}
    out = auto_cli(commands, args=args, as_positional=False)
    if int(os.environ.get("RANK", "0")) == 0:  # one line per run, not one per process
        print(f"results: {out / 'results.json'}\nsamples: {out / 'samples.jsonl'}")
        print(f"report: {out / 'report' / 'report.html'}")
    return out
