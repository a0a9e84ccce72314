"""The LLF pipeline as stages under one working folder, each a dataset or a trained model on disk.

    feedback_data   align-anything feedback    → <workdir>/feedback_data/{train,val}.jsonl  (`sft`)
    feedback_sft    train app on that data     → <workdir>/feedback_sft/export              (HF folder)
    synthesis       policy + feedback model    → <workdir>/pairs/pairs.jsonl                (`preference`)
    <training>      train app on the pairs     → <workdir>/<name>/                          (DPO, RM, ...)

Stages run in that order; `stages` picks a subset, and every stage reads its inputs from the folder, so a
stage can be rerun alone. Training stages are ordinary train-app runs (`apps/train.py fit --config ...`) with
their data files and run folder pointed into the working folder, so every objective, strategy and overlay
the train app knows applies unchanged (LLF+DPO, or a reward model on the pairs and then PPO: LLF+RLHF).
The synthesis stage resumes by prompt id (see `synthesis.py`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import torch
import torch.distributed as dist
from lightning.pytorch.utilities import rank_zero_info

from omnialign.alignment.llf.feedback_data import feedback_records, write_jsonl
from omnialign.alignment.llf.responders import (
    InterleavedPolicy,
    PromptRefiningGenerator,
    Responder,
    TextPolicy,
)
from omnialign.alignment.llf.synthesis import PairSynthesizer
from omnialign.alignment.media_generation import MediaGenerationOptions, MediaGenerator
from omnialign.alignment.rollout import VLLMBackend
from omnialign.alignment.rollout.generation import GenerationOptions, HFGenerateBackend, RolloutBackend
from omnialign.alignment.text_generation import TextGenerator
from omnialign.data.journal import StageReport
from omnialign.data.records import load_samples
from omnialign.data.records.rows import MediaWriter
from omnialign.data.sample import Sample
from omnialign.models.any_to_any.generation import InterleavedGenerator
from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor

STAGE_ORDER = ("feedback_data", "feedback_sft", "synthesis")


@dataclass
class RecordSource:
    """Records to read: files of one format (any container the data package reads)."""

    files: list[str]
    schema: str
    media_root: str | None = None
    on_invalid: Literal["error", "skip"] = "error"
    limit: int | None = None
    """Use only the first `limit` samples (quick runs)."""

    def load(self) -> list[Sample]:
        samples: list[Sample] = []
        for source in self.files:
            result = load_samples(source, self.schema, on_invalid=self.on_invalid, media_root=self.media_root)
            rank_zero_info(result.report.summary())
            samples += result.samples
        return samples[: self.limit] if self.limit is not None else samples


@dataclass
class FeedbackDataStage:
    """align-anything rows → `sft` records that teach a model to critique one response."""

    train: RecordSource
    val: RecordSource | None = None
    suggestion_fields: list[str] = field(default_factory=lambda: ["overall_textfeedback"])
    """Pair-level fields appended to each critique as its refinement suggestion (t2a: `refine_prompt`)."""
    rationales: bool = False
    """Append the per-dimension rationales of the response to its critique."""


@dataclass
class TrainStage:
    """A train-app run; the pipeline points its data and run folder into the working folder."""

    config: list[str]
    """Train-app config files, applied in order (a recipe, then overlays)."""
    args: list[str] = field(default_factory=list)
    """Extra train-app arguments; `{workdir}` is replaced by the working folder."""
    on_pairs: bool = True
    """Train on the synthesised pairs (`preference` records). Off for a stage with its own data, such as
    PPO on prompts with the reward model an earlier stage trained on the pairs (LLF+RLHF)."""


@dataclass
class MediaGeneratorStage:
    """For generation modalities: the text-to-media generator whose prompts the policy rewrites."""

    name: str
    """Hub id, pipeline folder or `tiny:text-to-image|video|audio`."""
    options: MediaGenerationOptions = field(default_factory=MediaGenerationOptions)


@dataclass
class SynthesisStage:
    """Sample → critique → refine → pairs."""

    prompts: RecordSource
    policy: BackboneOptions
    """The policy that answers and refines (for generation modalities: the prompt writer)."""
    feedback_model: BackboneOptions | None = None
    """The critic; default: the export of the `feedback_sft` stage."""
    generator: MediaGeneratorStage | None = None
    respond_with: Literal["text", "text+image"] = "text"
    """`text+image`: an any-to-any policy answers with text, then an image drawn with classifier-free
    guidance (text+image → text+image)."""
    guidance_scale: float = 5.0
    """Classifier-free guidance of drawn images (`text+image`)."""
    generation: GenerationOptions = field(default_factory=GenerationOptions)
    """Sampling of answers and refinements."""
    feedback_generation: GenerationOptions = field(default_factory=GenerationOptions)
    batch_size: int = 8
    seed: int = 0
    device: str = "cpu"
    """Where the models run (`cuda` on a GPU machine)."""
    backend: Literal["hf", "vllm"] = "hf"
    """Text generation engine: HF `generate` (CPU or GPU), or a vLLM engine per text model (GPU, vllm
    installed; `VLLMBackend`)."""
    zero3: bool = False
    """Shard the text models' weights over the processes of a `torchrun` launch with DeepSpeed ZeRO-3, for
    models larger than one GPU: weights are partitioned while they load, each rank still takes its own
    batches, and all ranks step through generation together."""
    vllm_options: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of each `VLLMBackend` (e.g. `gpu_memory_utilization`, `max_model_len`)."""

    def make_backend(self) -> RolloutBackend:
        """A fresh engine per model: a vLLM engine holds the weights of the one model it serves."""
        return VLLMBackend(**self.vllm_options) if self.backend == "vllm" else HFGenerateBackend()


@dataclass
class LLFPipeline:
    """Every stage's settings; a stage left out is not run."""

    workdir: str
    feedback_data: FeedbackDataStage | None = None
    feedback_sft: TrainStage | None = None
    synthesis: SynthesisStage | None = None
    training: dict[str, TrainStage] = field(default_factory=dict)
    """Trainings after synthesis, run in order, each in `<workdir>/<name>`: on the pairs (`dpo`, `reward`)
    or with their own data (`ppo` with the reward model of `reward`)."""

    # -- locations -------------------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return Path(self.workdir)

    def feedback_file(self, split: str) -> Path:
        return self.root / "feedback_data" / f"{split}.jsonl"

    @property
    def pairs_file(self) -> Path:
        return self.root / "pairs" / "pairs.jsonl"

    @property
    def feedback_model_dir(self) -> Path:
        return self.root / "feedback_sft" / "export"

    def stage_names(self) -> list[str]:
        present = [name for name in STAGE_ORDER if getattr(self, name) is not None]
        return present + list(self.training)


# -- stages ------------------------------------------------------------------------------------------------
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


def train_args(stage: TrainStage, run_dir: Path, train_files: list[Path], extra: list[str]) -> list[str]:
    """The train-app command line of a stage: its configs, then the pipeline's paths, then its own args."""
    args = ["fit"]
    for config in stage.config:
        args += ["--config", config]
    args += [f"--trainer.default_root_dir={run_dir}"]
    if train_files:
        args += [f"--data.init_args.train_files=[{', '.join(str(f) for f in train_files)}]"]
    args += extra
    return args + [arg.replace("{workdir}", str(run_dir.parent)) for arg in stage.args]


def run_training(args: list[str]) -> None:
    """The train app, in-process, on exactly `args` (not on this app's own command line)."""
    from omnialign.alignment.cli import main

    rank_zero_info("train app: " + " ".join(args))
    program, sys.argv = sys.argv, sys.argv[:1]
    try:
        main(args)
    finally:
        sys.argv = program


def run_feedback_sft(pipeline: LLFPipeline, stage: TrainStage) -> None:
    val = pipeline.feedback_file("val")
    extra = [f"--data.init_args.val_files=[{val}]"] if val.exists() else []
    run_training(train_args(stage, pipeline.root / "feedback_sft", [pipeline.feedback_file("train")], extra))


def _placed(model: torch.nn.Module, options: BackboneOptions, device: str) -> torch.nn.Module:
    """On `device`, unless the backbone spreads itself over several GPUs (`model_kwargs.device_map`, for
    models larger than one GPU: layers split across the GPUs of one process)."""
    return (model if "device_map" in options.model_kwargs else model.to(device)).eval()


ZERO3_INFERENCE = {
    "train_micro_batch_size_per_gpu": 1,
    "zero_optimization": {"stage": 3, "stage3_param_persistence_threshold": 0},
}


def _zero3(options: BackboneOptions, processor: Any) -> torch.nn.Module:
    """The model partitioned over the ranks, wrapped by a DeepSpeed engine without optimizer whose forward
    gathers each layer's weights when it runs. A checkpoint is loaded under ZeRO-3 (transformers builds and
    loads it inside `deepspeed.zero.Init` while an `HfDeepSpeedConfig` is alive, so no rank holds it whole);
    a tiny random model is built whole from its seed first, so its weights match an unsharded build."""
    import deepspeed
    from transformers.integrations import HfDeepSpeedConfig

    config = {**ZERO3_INFERENCE, "bf16": {"enabled": options.dtype == "bfloat16"}}
    loading = None if options.is_tiny else HfDeepSpeedConfig(config)  # read through a weak reference
    model = load_causal_lm(options, processor)
    del loading
    engine, *_ = deepspeed.initialize(model=model, config=config)
    return engine.module.eval()


def _text_generator(
    options: BackboneOptions, sampling: GenerationOptions, stage: SynthesisStage
) -> TextGenerator:
    processor = load_processor(options)
    if stage.zero3:
        model = _zero3(options, processor)
    else:
        model = _placed(load_causal_lm(options, processor), options, stage.device)
    return TextGenerator(model, processor, sampling, stage.make_backend())


def _responder(stage: SynthesisStage, pipeline: LLFPipeline) -> Responder:
    media_dir = pipeline.pairs_file.parent / "media"
    if stage.respond_with == "text+image":
        processor = load_processor(stage.policy)
        model = _placed(load_causal_lm(stage.policy, processor), stage.policy, stage.device)
        tokens, scale = stage.generation.max_new_tokens, stage.guidance_scale
        return InterleavedPolicy(InterleavedGenerator(model, processor, tokens, scale), media_dir)
    policy = _text_generator(stage.policy, stage.generation, stage)
    if stage.generator is None:
        return TextPolicy(policy)
    generator = MediaGenerator.load(stage.generator.name, media_dir, stage.generator.options)
    generator.pipeline.to(stage.device)
    return PromptRefiningGenerator(generator, policy)


def _process_group() -> tuple[int, int]:
    """(rank, world size) under torchrun or SLURM-launched torchrun; joins the process group if needed."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def run_synthesis(pipeline: LLFPipeline, stage: SynthesisStage) -> StageReport:
    """Data-parallel over the processes of a `torchrun` launch (one model copy per GPU); rank 0 merges."""
    rank, world = _process_group()
    if stage.zero3 and (stage.generator is not None or stage.respond_with != "text"):
        raise ValueError("synthesis.zero3 shards text models only; generation modalities run unsharded")
    if stage.device == "cuda" and world > 1:
        stage = replace(stage, device=f"cuda:{os.environ.get('LOCAL_RANK', rank)}")
    critic_options = stage.feedback_model or BackboneOptions(name=str(pipeline.feedback_model_dir))
    provenance: dict[str, Any] = {
        "policy": stage.policy.name,
        "feedback_model": critic_options.name,
        "generator": stage.generator.name if stage.generator else None,
        "generation": asdict(stage.generation),
        "feedback_generation": asdict(stage.feedback_generation),
    }
    synthesizer = PairSynthesizer(
        _responder(stage, pipeline),
        _text_generator(critic_options, stage.feedback_generation, stage),
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
        run_training(train_args(stage, pipeline.root / name, [], []))
        return
    if not pipeline.pairs_file.exists():
        raise FileNotFoundError(f"{pipeline.pairs_file}: run the synthesis stage first")
    extra = ["--data.init_args.schema=preference"]
    run_training(train_args(stage, pipeline.root / name, [pipeline.pairs_file], extra))


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
