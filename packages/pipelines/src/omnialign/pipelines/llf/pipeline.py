"""The LLF pipeline as stages under one working folder, each a dataset or a trained model on disk.

    feedback_data   align-anything feedback    → <workdir>/feedback_data/{train,val}.jsonl  (`sft`)
    feedback_sft    train app on that data     → <workdir>/feedback_sft/export              (HF folder)
    synthesis       policy + feedback model    → <workdir>/pairs/pairs.jsonl                (`preference`)
    <training>      train app on the pairs     → <workdir>/<name>/                          (DPO, RM, ...)

Stages run in that order; `stages` picks a subset, and every stage reads its inputs from the folder, so a
stage can be rerun alone. Training stages are ordinary train-app runs through the training Python API
(`omnialign.alignment.training.fit`, the same as `apps/train.py fit --config ...`) with their data files and
run folder pointed into the working folder, so every objective, strategy and overlay the train app knows
applies unchanged (LLF+DPO, or a reward model on the pairs and then PPO: LLF+RLHF).
The synthesis stage resumes by prompt id (see `synthesis.py`).
"""

from __future__ import annotations

import os
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch.distributed as dist
from lightning.pytorch.utilities import rank_zero_info

from omnialign.alignment.training import fit
from omnialign.data.journal import StageReport
from omnialign.data.records.rows import MediaWriter
from omnialign.models.backbone import BackboneOptions
from omnialign.pipelines.llf.config import (
    FeedbackDataStage,
    LLFPipeline,
    SynthesisStage,
    TrainStage,
)
from omnialign.pipelines.llf.feedback_data import feedback_records, write_jsonl
from omnialign.pipelines.llf.loading import process_group, responder, text_generator
from omnialign.pipelines.llf.synthesis import PairSynthesizer


def run_feedback_data(pipeline: LLFPipeline, stage: FeedbackDataStage) -> None:
    splits = {"train": stage.train, "val": stage.val}
    for split, source in splits.items():
        if source is None:
            continue
        target = pipeline.feedback_file(split)
        records, report = feedback_records(
            source.load(), MediaWriter(target.parent), tuple(stage.suggestion_fields), stage.rationales
        )
        if not records:
            raise ValueError(f"no feedback records from {source.files}: {report.summary()}")
        write_jsonl(records, target)
        rank_zero_info(f"[{split}] {report.summary()} → {target}")


def _with_workdir(value: Any, workdir: Path) -> Any:
    """`{workdir}` in string values (nested lists too) → the working folder."""
    if isinstance(value, str):
        return value.replace("{workdir}", str(workdir))
    if isinstance(value, list):
        return [_with_workdir(item, workdir) for item in value]
    return value


def train_overrides(
    stage: TrainStage, run_dir: Path, train_files: list[Path], extra: dict[str, Any]
) -> dict[str, Any]:
    """A stage's settings over its configs: the pipeline's paths, then the pipeline's extras, then the
    stage's own overrides (which win, as a later `--config` layer would)."""
    overrides: dict[str, Any] = {"trainer.default_root_dir": str(run_dir)}
    if train_files:
        overrides["data.init_args.train_files"] = [str(f) for f in train_files]
    overrides |= extra
    return overrides | {key: _with_workdir(value, run_dir.parent) for key, value in stage.overrides.items()}


def run_training(stage: TrainStage, overrides: dict[str, Any]) -> None:
    """The train app's `fit`, in-process, through the training Python API."""
    rank_zero_info(f"training: {stage.config} with {overrides}")
    fit(stage.config, overrides)


def run_feedback_sft(pipeline: LLFPipeline, stage: TrainStage) -> None:
    val = pipeline.feedback_file("val")
    extra: dict[str, Any] = {"data.init_args.val_files": [str(val)]} if val.exists() else {}
    train_files = [pipeline.feedback_file("train")]
    run_training(stage, train_overrides(stage, pipeline.root / "feedback_sft", train_files, extra))


def run_synthesis(pipeline: LLFPipeline, stage: SynthesisStage) -> StageReport:
    """Data-parallel over the processes of a `torchrun` launch (one model copy per GPU); rank 0 merges."""
    rank, world = process_group()
    if stage.zero3 and (stage.diffusion is not None or stage.respond_with != "text"):
        raise ValueError("synthesis.zero3 shards text models only; generation modalities run unsharded")
    if stage.device == "cuda" and world > 1:
        stage = replace(stage, device=f"cuda:{os.environ.get('LOCAL_RANK', rank)}")
    critic_options = stage.feedback_model or BackboneOptions(name=str(pipeline.feedback_model_dir))
    critic = stage.critic or text_generator(critic_options, stage.feedback_generation, stage)
    provenance: dict[str, Any] = {
        "policy": stage.policy.name,
        "feedback_model": type(stage.critic).__name__ if stage.critic else critic_options.name,
        "diffusion": stage.diffusion.name if stage.diffusion else None,
        "generation": asdict(stage.generation),
        "feedback_generation": asdict(stage.feedback_generation),
    }
    synthesizer = PairSynthesizer(
        responder(stage, pipeline),
        critic,
        pipeline.pairs_file,
        batch_size=stage.batch_size,
        seed=stage.seed,
        provenance=provenance,
        rank=rank,
        world_size=world,
        lockstep=stage.zero3,
    )
    samples = stage.prompts.load()
    report = synthesizer.run(samples)
    if world > 1:
        dist.barrier()
    if rank == 0:
        counts = synthesizer.merge(samples)
        rank_zero_info(
            f"all ranks: {counts['pairs']} pairs in {pipeline.pairs_file}, {counts['skipped']} skipped "
            f"(reasons in {synthesizer.skipped_path})"
        )
    if world > 1:
        dist.barrier()
    return report


def run_pair_training(pipeline: LLFPipeline, name: str, stage: TrainStage) -> None:
    if not stage.on_pairs:
        run_training(stage, train_overrides(stage, pipeline.root / name, [], {}))
        return
    if not pipeline.pairs_file.exists():
        raise FileNotFoundError(f"{pipeline.pairs_file}: run the synthesis stage first")
    extra = {"data.init_args.schema": "preference"}
    run_training(stage, train_overrides(stage, pipeline.root / name, [pipeline.pairs_file], extra))


def run_pipeline(pipeline: LLFPipeline, stages: list[str] | None = None) -> None:
    """Run the named stages (default: all configured), in pipeline order."""
    configured = pipeline.stage_names()
    unknown = sorted(set(stages or []) - set(configured))
    if unknown:
        raise ValueError(f"unknown or unconfigured stages {unknown}; this pipeline has {configured}")
    for name in [s for s in configured if stages is None or s in stages]:
        rank_zero_info(f"== LLF stage: {name} ==")
        if name == "feedback_data":
            run_feedback_data(pipeline, pipeline.feedback_data)
        elif name == "feedback_sft":
            run_feedback_sft(pipeline, pipeline.feedback_sft)
        elif name == "synthesis":
            run_synthesis(pipeline, pipeline.synthesis)
        else:
            run_pair_training(pipeline, name, pipeline.training[name])
