"""Models of the synthesis stage, placed the way the launch asks: one device, a `device_map` over the GPUs
of one process, or partitioned over the ranks of a `torchrun` launch with DeepSpeed ZeRO-3."""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist

from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor
from omnialign.models.generation.interleaved import InterleavedGenerator
from omnialign.models.generation.media import MediaGenerator
from omnialign.models.generation.text import GenerationOptions, TextGenerator
from omnialign.pipelines.llf.config import LLFPipeline, SynthesisStage
from omnialign.pipelines.llf.responders import (
    InterleavedPolicy,
    PromptRefiningResponder,
    Responder,
    TextPolicy,
)


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


def text_generator(
    options: BackboneOptions, sampling: GenerationOptions, stage: SynthesisStage
) -> TextGenerator:
    processor = load_processor(options)
    if stage.zero3:
        model = _zero3(options, processor)
    else:
        model = _placed(load_causal_lm(options, processor), options, stage.device)
    return TextGenerator(model, processor, sampling, stage.make_backend())


def responder(stage: SynthesisStage, pipeline: LLFPipeline) -> Responder:
    media_dir = pipeline.pairs_file.parent / "media"
    if stage.respond_with == "text+image":
        processor = load_processor(stage.policy)
        model = _placed(load_causal_lm(stage.policy, processor), stage.policy, stage.device)
        tokens, scale = stage.generation.max_new_tokens, stage.guidance_scale
        return InterleavedPolicy(InterleavedGenerator(model, processor, tokens, scale), media_dir)
    policy = text_generator(stage.policy, stage.generation, stage)
    if stage.diffusion is None:
        return TextPolicy(policy)
    generator = MediaGenerator.load(stage.diffusion.name, media_dir, stage.diffusion.options)
    generator.pipeline.to(stage.device)
    return PromptRefiningResponder(generator, policy)


def process_group() -> tuple[int, int]:
    """(rank, world size) under torchrun or SLURM-launched torchrun; joins the process group if needed."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)
