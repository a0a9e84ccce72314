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

from omnialign.data.collate import PREDICTOR_IDS, model_inputs
from omnialign.data.interleaved import RESPONSE_PART
from omnialign.models.any_to_any import adapter_for
from omnialign.models.generation.block_attention import row_attention
from omnialign.models.generation.prefix_mask import ancestor_mask, prefix_attention_mask
from omnialign.models.generation.tied_head import project

# config attributes that change logits after the head; their presence (non-null) disables the fast path
_LOGIT_POSTPROCESSING = ("final_logit_softcapping", "logit_scale", "logits_scaling")


def _body_and_head(model: nn.Module) -> tuple[nn.Module, nn.Module, nn.Module | None] | None:
    """The network body, the LM head and the input embeddings (which the head may be tied to)."""
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
    return body, head, base.get_input_embeddings()


def response_token_logprobs(
    model: nn.Module, batch: dict[str, Tensor], temperature: float = 1.0, code_cache: str | None = None
) -> Tensor:
    """`[B, T]` log-prob of each response token given its prefix (zero outside `response_mask`).

    A token is predicted by the position before it, or, in a shared-prefix batch, by the position its
    `predictor_ids` names (a second response's first token by its prompt's last position), with the
    attention mask built from those predictors. Any-to-any models (text and image codes in one stream) are
    scored by their family adapter, which knows which head predicts which token (`code_cache`: where they
    cache response images' codes)."""
    adapter = adapter_for(model, code_cache)
    if adapter is not None:
        if PREDICTOR_IDS in batch:
            raise ValueError("shared_prefix batches are text-only; any-to-any models score padded batches")
        return adapter.response_token_logprobs(model, batch, temperature)
    inputs = model_inputs(batch)
    ancestors = None
    if PREDICTOR_IDS in batch:
        ancestors = ancestor_mask(batch[PREDICTOR_IDS])
        inputs["attention_mask"] = prefix_attention_mask(model, ancestors)
        sources = batch[PREDICTOR_IDS]
    else:  # position t-1 predicts token t; position 0 predicts nothing
        sources = torch.arange(-1, batch["input_ids"].shape[1] - 1, device=batch["input_ids"].device)
        sources = sources.expand_as(batch["input_ids"])
    mask = batch["response_mask"].bool() & (sources >= 0)
    rows, columns = mask.nonzero(as_tuple=True)
    predictors = sources[rows, columns]
    parts = _body_and_head(model)
    with row_attention(model, batch.get("segment_ids"), batch.get(PREDICTOR_IDS), ancestors) as blocks:
        if parts is None:
            logits = model(**inputs, **blocks, use_cache=False).logits[rows, predictors]
        else:
            body, head, embeddings = parts
            hidden = body(**inputs, **blocks, use_cache=False).last_hidden_state[rows, predictors]
            logits = project(head, hidden, embeddings)
    logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    targets = batch["input_ids"][rows, columns]
    picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
    out = torch.zeros(mask.shape, dtype=picked.dtype, device=picked.device)
    out[rows, columns] = picked
    return out


def response_parts(batch: dict[str, Tensor]) -> dict[str, Tensor]:
    """The response mask split by modality (`text`, `image`) for interleaved batches (those with a
    `response_part` label), so objectives can report and weigh each part; empty for text-only batches."""
    if RESPONSE_PART not in batch:
        return {}
    mask = batch["response_mask"].bool()
    image = batch[RESPONSE_PART].bool() & mask
    return {"text": mask & ~image, "image": image}
