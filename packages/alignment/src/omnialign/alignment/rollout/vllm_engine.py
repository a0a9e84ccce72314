"""A vLLM rollout engine behind `RolloutBackend` (GPU only; vllm is an optional install, never needed on CPU).

The engine runs in the training process beside the policy ("colocated", as TRL and verl do): each rank builds
its own engine on its own GPU (`distributed_executor_backend="external_launcher"` when several ranks run),
and before every rollout the policy's current weights (LoRA merged, ZeRO-3 gathered: `rollout.weights`) are
pushed into the engine's model with vLLM's `LLM.apply_model` + the model's own `load_weights`. Because the
weights are pushed every time, the engine starts from dummy weights and never reads the checkpoint.

Requests reproduce `HFGenerateBackend`'s semantics: the prompt's real tokens (left padding dropped), sampling
with the same temperature/top-p/top-k, stop at `SpecialIds.eos` only (the model's other end tokens are
special, hence suppressed like every special token but end-of-turn, here through a -1e4 logit bias), at most
`max_new_tokens`. Media prompts go in as vLLM expects them: one placeholder token per item (the processor's
expanded run collapsed back to one; vLLM expands it again) and the decoded media in `multi_modal_data`.

Written against vLLM's documented `LLM`, `SamplingParams` and `TokensPrompt`; tested on CPU with a test
double of the engine, not yet against a real vLLM.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from omnialign.alignment.rollout.generation import GenerationOptions, RolloutBackend, SpecialIds
from omnialign.alignment.rollout.sharding import world_size
from omnialign.alignment.rollout.weights import policy_weights
from omnialign.data import media
from omnialign.data.sample import MediaRef, Sample

SUPPRESSED_LOGIT_BIAS = -1e4
"""Added to a suppressed token's logit: exp(-1e4) is 0 in float32, so it is never sampled."""
PLACEHOLDER_KEYS = (
    "image_token_id",
    "image_token_index",
    "video_token_id",
    "video_token_index",
    "audio_token_id",
    "audio_token_index",
)
"""transformers config attributes that name a media placeholder token."""


def sampling_kwargs(options: GenerationOptions, tokens: SpecialIds) -> dict[str, Any]:
    """`vllm.SamplingParams` arguments with `HFGenerateBackend`'s semantics (one sample per request)."""
    return {
        "n": 1,
        "temperature": options.temperature if options.do_sample else 0.0,  # vLLM: 0 is greedy
        "top_p": options.top_p,
        "top_k": options.top_k if options.top_k > 0 else -1,  # -1: off, in every vLLM version
        "max_tokens": options.max_new_tokens,
        "stop_token_ids": [tokens.eos],
        "ignore_eos": True,  # stop at end-of-turn only, like `generate(eos_token_id=tokens.eos)`
        "logit_bias": dict.fromkeys(tokens.suppressed, SUPPRESSED_LOGIT_BIAS) or None,
        "detokenize": False,
    }


def placeholder_ids(config: Any) -> set[int]:
    """The media placeholder token ids of a transformers config (image, video, audio)."""
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    ids = {getattr(c, key, None) for c in (config, text_config) for key in PLACEHOLDER_KEYS}
    return {i for i in ids if isinstance(i, int)}


def collapse_runs(ids: list[int], placeholders: set[int]) -> list[int]:
    """Each run of one repeated placeholder token becomes a single token."""
    return [t for i, t in enumerate(ids) if t not in placeholders or i == 0 or ids[i - 1] != t]


def decode_media(sample: Sample, video_frames: int, audio_rate: int) -> dict[str, list]:
    """vLLM's `multi_modal_data` for a prompt: PIL images, `[T, H, W, 3]` frame arrays, `(wave, rate)`."""
    decoders: dict[str, Callable[[MediaRef], Any]] = {
        "image": media.load_image,
        "video": lambda ref: media.load_video(ref, num_frames=video_frames),
        "audio": lambda ref: (media.load_audio(ref, sample_rate=audio_rate), audio_rate),
    }
    data: dict[str, list] = {}
    for ref in sample.prompt_media():
        data.setdefault(ref.modality, []).append(decoders[ref.modality](ref))
    return data


def build_requests(
    prompts: dict[str, Tensor],
    placeholders: set[int],
    samples: Sequence[Sample] | None,
    video_frames: int = 8,
    audio_rate: int = 16000,
) -> list[dict[str, Any]]:
    """One `TokensPrompt` per row of a (left-padded) prompt batch; media rows need their `samples`."""
    requests = []
    for row, (ids, real) in enumerate(
        zip(prompts["input_ids"], prompts["attention_mask"].bool(), strict=True)
    ):
        request: dict[str, Any] = {"prompt_token_ids": ids[real].tolist()}
        if placeholders & set(request["prompt_token_ids"]):
            if samples is None:
                raise ValueError(
                    f"prompt row {row} holds media placeholders: the vLLM backend needs the rows' samples "
                    "to hand the media to the engine"
                )
            request["prompt_token_ids"] = collapse_runs(request["prompt_token_ids"], placeholders)
            request["multi_modal_data"] = decode_media(samples[row], video_frames, audio_rate)
        requests.append(request)
    return requests


def responses_of(outputs: Sequence[Any], tokens: SpecialIds) -> Tensor:
    """`[N, G]` ids from vLLM's `RequestOutput`s (in request order), right-padded with `tokens.pad`.

    Padding is only unambiguous after an end-of-turn (the response mask stops there); a row cut short
    without one (e.g. by the engine's `max_model_len`) would have its padding read as response tokens, so it
    is an error rather than a silently wrong mask."""
    rows = [list(output.outputs[0].token_ids) for output in outputs]
    width = max(1, max(len(row) for row in rows))
    for index, row in enumerate(rows):
        if len(row) < width and tokens.eos not in row:
            reason = getattr(outputs[index].outputs[0], "finish_reason", None)
            raise RuntimeError(
                f"vLLM ended response {index} after {len(row)} of {width} tokens without end-of-turn "
                f"(finish_reason={reason}); raise the engine's max_model_len"
            )
    return torch.tensor([row + [tokens.pad] * (width - len(row)) for row in rows], dtype=torch.long)


def policy_name(model: nn.Module) -> str:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return getattr(base, "name_or_path", "") or getattr(base.config, "_name_or_path", "")


class VLLMBackend(RolloutBackend):
    """Samples rollouts with a colocated vLLM engine that holds a copy of the policy's current weights."""

    def __init__(
        self,
        gpu_memory_utilization: float = 0.3,
        model: str | None = None,
        dtype: str = "auto",
        max_model_len: int | None = None,
        tensor_parallel_size: int = 1,
        seed: int = 0,
        video_frames: int = 8,
        audio_sample_rate: int = 16000,
        engine_kwargs: dict[str, Any] | None = None,
        engine: Any = None,
        sampling_params: Callable[..., Any] | None = None,
    ) -> None:
        """
        Args:
            gpu_memory_utilization: Share of GPU memory the engine may take for weights and KV cache.
            model: Hub id or folder the engine's architecture and processor come from (default: the
                policy's `name_or_path`); its weights are never read (dummy load, then the policy's).
            dtype: Engine dtype (`auto`: the checkpoint's).
            max_model_len: Longest prompt + response (default: the model's).
            tensor_parallel_size: GPUs per engine.
            seed: Sampling seed; rank r uses `seed + r // tensor_parallel_size`.
            video_frames: Frames decoded per prompt video.
            audio_sample_rate: Rate prompt audio is decoded at (vLLM resamples to the model's).
            engine_kwargs: Further `vllm.LLM` arguments.
            engine: An already built engine with `vllm.LLM`'s `generate` and `apply_model` (tests pass a
                test double; None: built from the policy at the first rollout).
            sampling_params: Factory of the engine's sampling parameters (default `vllm.SamplingParams`).
        """
        if engine is None or sampling_params is None:
            vllm = _import_vllm()
            sampling_params = sampling_params or vllm.SamplingParams
        self.engine = engine
        self.sampling_params = sampling_params
        self.engine_args = {
            "model": model,
            "dtype": dtype,
            "gpu_memory_utilization": gpu_memory_utilization,
            "max_model_len": max_model_len,
            "tensor_parallel_size": tensor_parallel_size,
            "seed": seed,
            "enable_prefix_caching": True,  # the k samples of a prompt share its prefix
            "load_format": "dummy",
            **(engine_kwargs or {}),
        }
        self.media_options = {"video_frames": video_frames, "audio_rate": audio_sample_rate}

    def _build_engine(self, model: nn.Module) -> Any:
        args = dict(self.engine_args)
        args["model"] = args["model"] or policy_name(model)
        if not args["model"]:
            raise ValueError("VLLMBackend needs the hub id or folder of the policy: set its `model` argument")
        if world_size() > 1:
            rank = torch.distributed.get_rank()
            args["distributed_executor_backend"] = "external_launcher"  # one engine per rank, this process
            args["seed"] += rank // args["tensor_parallel_size"]
        # apply_model must reach the engine's model in this process (no pickling of weights)
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        return _import_vllm().LLM(**args)

    def sync_weights(self, model: nn.Module) -> int:
        """Push the policy's current weights into the engine; returns how many tensors were pushed. Every
        engine parameter must be covered: one the policy's names did not reach is an error, never left
        stale (checked where `load_weights` reports what it loaded, as vLLM's models do)."""
        expected = set().union(*self.engine.apply_model(_parameter_names))
        loaded: set[str] | None = set()
        count = 0
        for name, tensor in policy_weights(model):
            for names in self.engine.apply_model(_loader([(name, tensor)])):
                loaded = None if names is None or loaded is None else loaded | set(names)
            count += 1
        missing = expected - loaded if loaded is not None else set()
        if missing:
            raise RuntimeError(
                f"the policy's weights left {len(missing)} vLLM parameters unloaded, "
                f"e.g. {sorted(missing)[:5]}"
            )
        if hasattr(self.engine, "reset_prefix_cache"):  # cached prefixes were computed with the old weights
            self.engine.reset_prefix_cache()
        return count

    @torch.no_grad()
    def generate(
        self,
        model: nn.Module,
        prompts: dict[str, Tensor],
        options: GenerationOptions,
        tokens: SpecialIds,
        samples: Sequence[Sample] | None = None,
    ) -> Tensor:
        if self.engine is None:
            self.engine = self._build_engine(model)
        self.sync_weights(model)
        config = (model.get_base_model() if hasattr(model, "get_base_model") else model).config
        requests = build_requests(prompts, placeholder_ids(config), samples, **self.media_options)
        params = self.sampling_params(**sampling_kwargs(options, tokens))
        outputs = self.engine.generate(requests, params, use_tqdm=False)
        return responses_of(outputs, tokens).to(prompts["input_ids"].device)


def _parameter_names(engine_model: nn.Module) -> set[str]:
    return {name for name, _ in engine_model.named_parameters()}


def _loader(weights: list[tuple[str, Tensor]]) -> Callable[[nn.Module], set[str]]:
    def load(engine_model: nn.Module) -> set[str]:
        return engine_model.load_weights(weights)

    return load


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as error:
        raise ImportError(
            "the vLLM rollout backend needs vllm on a CUDA machine (`uv pip install vllm`, built for the "
            "installed torch); on CPU, or without it, use omnialign.alignment.rollout.HFGenerateBackend "
            "(the default: leave `backend` unset)"
        ) from error
    return vllm
