"""Text generation: one interface (`GenerationBackend`) over HF `generate` and vLLM (`vllm.VLLMBackend`),
and `TextGenerator`, samples in and text out, for every caller that is not an RL rollout.

RL rollouts (`omnialign.alignment.rollout`), offline pipeline stages (LLF sampling, critique and refinement;
best-of-N prompt rewrites) and evaluation all sample through the same backends with the same special-token
suppression, so a response is produced the same way wherever it is produced. `TextGenerator` seeds each
batch on its own: rerunning one batch of a resumed stage regenerates the same text without replaying the
batches before it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from omnialign.data.collate import model_inputs, pad_sequences
from omnialign.data.interleaved import encoder_for
from omnialign.data.sample import Sample
from omnialign.models.backbone import tokenizer_of
from omnialign.models.generation.sharding import needs_synced_generation


@dataclass
class GenerationOptions:
    """How responses are sampled. Defaults sample from the policy's own distribution (no top-k/top-p), which
    PPO's importance ratios assume."""

    max_new_tokens: int = 64
    """Longest response; a response that reaches it without an end-of-turn is scored as it is."""
    temperature: float = 1.0
    """Sampling temperature; log-probs for the update use the same one."""
    top_p: float = 1.0
    """Nucleus sampling mass (1.0: off)."""
    top_k: int = 0
    """Top-k sampling (0: off)."""
    do_sample: bool = True
    """False: greedy decoding (evaluation); temperature, top-p and top-k are then unused."""

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1 or self.temperature <= 0:
            raise ValueError("max_new_tokens must be >= 1 and temperature > 0")

    def sampling(self) -> dict[str, Any]:
        """`generate` keyword arguments of the decoding strategy (greedy takes no sampling settings)."""
        if not self.do_sample:
            return {"do_sample": False}
        return {"do_sample": True, "temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k}


@dataclass(frozen=True)
class SpecialIds:
    """The token ids generation must know: end of turn, padding, and the ids a response may never contain."""

    eos: int
    pad: int
    suppressed: list[int]
    """Every special token but end-of-turn: chat markers and media placeholders. A sampled `<|image_pad|>`
    would make the next forward expect image features that are not there, and a reply has no use for a
    turn marker. Sampling renormalises over the rest; PPO's ratios compare the same (unsuppressed) log-probs
    of the sampled tokens before and after an update, so they stay consistent."""

    @staticmethod
    def of(tokenizer) -> SpecialIds:
        eos = tokenizer.eos_token_id
        special = [i for i, token in tokenizer.added_tokens_decoder.items() if token.special and i != eos]
        return SpecialIds(eos, tokenizer.pad_token_id, sorted(special))


class GenerationBackend(ABC):
    """Samples response token ids for a left-padded prompt batch (an RL rollout tiles its prompts k times)."""

    @abstractmethod
    def generate(
        self,
        model: nn.Module,
        prompts: dict[str, Tensor],
        options: GenerationOptions,
        tokens: SpecialIds,
        samples: Sequence[Sample] | None = None,
    ) -> Tensor:
        """`[N, G]` response ids, `G <= max_new_tokens`, never one of `tokens.suppressed`; anything after a
        row's first `tokens.eos` is ignored. `samples` (the prompt sample of each row) serve engines that take
        raw media instead of the batch's media tensors."""


class HFGenerateBackend(GenerationBackend):
    """transformers' `generate`, with the policy being trained (no weight copy, works on CPU).

    Under ZeRO-3 or FSDP with several ranks every rank keeps stepping until all are done (`synced_gpus`):
    each forward gathers sharded weights collectively, so a rank that stopped early would hang the others.
    """

    @torch.no_grad()
    def generate(
        self,
        model: nn.Module,
        prompts: dict[str, Tensor],
        options: GenerationOptions,
        tokens: SpecialIds,
        samples: Sequence[Sample] | None = None,
    ) -> Tensor:
        # generate derives positions from the attention mask (left padding included) and extends them itself
        inputs = {key: value for key, value in prompts.items() if key != "position_ids"}
        width = inputs["input_ids"].shape[1]
        out = model.generate(
            **inputs,
            max_new_tokens=options.max_new_tokens,
            **options.sampling(),
            eos_token_id=tokens.eos,
            pad_token_id=tokens.pad,
            suppress_tokens=tokens.suppressed or None,
            use_cache=True,
            synced_gpus=needs_synced_generation(model),
        )
        return out[:, width:]


def response_mask_of(generated: Tensor, eos_id: int) -> Tensor:
    """1 on each generated token up to and including the first `eos_id`, 0 after it."""
    is_eos = (generated == eos_id).long()
    return ((is_eos.cumsum(-1) - is_eos) == 0).long()


class TextGenerator:
    """One model + processor that answers prompts with text."""

    def __init__(
        self,
        model: nn.Module,
        processor: Any,
        options: GenerationOptions,
        backend: GenerationBackend | None = None,
        max_length: int = 2048,
    ) -> None:
        """
        Args:
            model: A causal LM (any supported backbone) in eval mode.
            processor: Its processor or tokenizer (chat template, media processing).
            options: Sampling settings.
            backend: Generation engine (default: HF `generate` with `model` itself).
            max_length: Longest prompt in tokens; a longer one is an error naming the sample.
        """
        self.model = model
        self.options = options
        self.backend = backend or HFGenerateBackend()
        self.encoder = encoder_for(processor, max_length=max_length)
        self.tokenizer = tokenizer_of(processor)
        self.tokens = SpecialIds.of(self.tokenizer)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def generate(self, samples: Sequence[Sample], seed: int) -> list[str]:
        """One response per sample, sampled under `seed` (the caller's RNG state is left untouched)."""
        encoded = [self.encoder.encode_prompt(sample) for sample in samples]
        batch = model_inputs(pad_sequences(encoded, self.tokens.pad, side="left"))
        batch = {key: value.to(self.device) for key, value in batch.items()}
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            generated = self.backend.generate(self.model, batch, self.options, self.tokens, list(samples))
        keep = response_mask_of(generated, self.tokens.eos).bool()
        generated = torch.where(keep, generated, torch.full_like(generated, self.tokens.pad))
        texts = self.tokenizer.batch_decode(generated.cpu(), skip_special_tokens=True)
        return [text.strip() for text in texts]
