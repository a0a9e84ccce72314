"""Log-probs of response tokens under a causal LM: the one function every objective, pipeline and judge uses
(`response_token_logprobs`), computing the LM head only where it is needed.

The vocabulary projection is the largest matmul of a small model's step and its `[B, T, V]` output the
largest tensor; for preference and SFT objectives only positions that predict a response token matter. So the
network body runs on the whole sequence, and the head runs on the `N` selected hidden states alone
(`[N, V]` instead of `[B, T, V]`). Models that post-process their logits (soft-capping, scaling) take the
plain full-logits path, so the result is always the model's own distribution.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from omnialign.data.collate import model_inputs
from omnialign.data.interleaved import RESPONSE_PART
from omnialign.models.any_to_any import adapter_for

# config attributes that change logits after the head; their presence (non-null) disables the fast path
_LOGIT_POSTPROCESSING = ("final_logit_softcapping", "logit_scale", "logits_scaling")


def token_logprobs(logits: Tensor, input_ids: Tensor, temperature: float = 1.0) -> Tensor:
    """Log-probability of each token given its prefix, aligned with `input_ids` (position 0 is 0).

    Computed as `logit[target] - logsumexp(logits)` row by row, so no `[B, T, V]` log-softmax tensor is
    materialised: for a 150k vocabulary that tensor is the largest allocation of a preference step.
    """
    shifted = logits[:, :-1, :]
    if temperature != 1.0:
        shifted = shifted / temperature
    targets = input_ids[:, 1:]
    picked = torch.gather(shifted, -1, targets.unsqueeze(-1)).squeeze(-1).float()
    normaliser = torch.stack([torch.logsumexp(row.float(), dim=-1) for row in shifted])
    out = torch.zeros(input_ids.shape, dtype=picked.dtype, device=logits.device)
    out[:, 1:] = picked - normaliser
    return out


def _body_and_head(model: nn.Module) -> tuple[nn.Module, nn.Module] | None:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # peft wraps the model
    prefix = getattr(base, "base_model_prefix", None)
    if not prefix or not hasattr(base, "get_output_embeddings"):
        return None  # not a transformers model: use its logits as they come
    config = base.config.get_text_config()
    if any(getattr(config, name, None) not in (None, 1, 1.0) for name in _LOGIT_POSTPROCESSING):
        return None
    body = getattr(base, prefix, None)
    head = base.get_output_embeddings()
    if body is None or body is base or head is None:
        return None
    return body, head


def response_token_logprobs(
    model: nn.Module, batch: dict[str, Tensor], temperature: float = 1.0, code_cache: str | None = None
) -> Tensor:
    """`[B, T]` log-prob of each response token given its prefix (zero outside `response_mask`).

    Any-to-any models (text and image codes in one stream) are scored by their family adapter, which knows
    which head predicts which token (`code_cache`: where they cache response images' codes)."""
    adapter = adapter_for(model, code_cache)
    if adapter is not None:
        return adapter.response_token_logprobs(model, batch, temperature)
    parts = _body_and_head(model)
    mask = batch["response_mask"].bool()
    if parts is None:
        logits = model(**model_inputs(batch), use_cache=False).logits
        return token_logprobs(logits, batch["input_ids"], temperature) * mask
    body, head = parts
    hidden = body(**model_inputs(batch), use_cache=False).last_hidden_state
    predicts = mask[:, 1:]  # position t-1 predicts token t
    logits = head(hidden[:, :-1][predicts]).float()
    if temperature != 1.0:
        logits = logits / temperature
    targets = batch["input_ids"][:, 1:][predicts]
    picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
    out = torch.zeros(mask.shape, dtype=picked.dtype, device=picked.device)
    out[:, 1:][predicts] = picked
    return out


def response_parts(batch: dict[str, Tensor]) -> dict[str, Tensor]:
    """The response mask split by modality (`text`, `image`) for interleaved batches (those with a
    `response_part` label), so objectives can report and weigh each part; empty for text-only batches."""
    if RESPONSE_PART not in batch:
        return {}
    mask = batch["response_mask"].bool()
    image = batch[RESPONSE_PART].bool() & mask
    return {"text": mask & ~image, "image": image}
