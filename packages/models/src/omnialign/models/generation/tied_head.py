"""The LM head of a model whose input embeddings share its weight, with a gradient the embedding's can be
added into in place.

With tied weights the `[V, D]` matrix gets two gradients each step, one from the head and one from the
embedding lookup, and autograd sums them before the optimiser sees them. It sums in place only when the first
one to arrive is a plain tensor it owns; the head's gradient under `nn.Linear` arrives as a view of a matmul's
output, so autograd allocates a third `[V, D]` buffer for the sum (113 MB for SmolLM2's 49k x 576
vocabulary). Where fresh pages are expensive (a CPU VM faults in every page of a new buffer) that allocation
costs about as much as the head's own weight-gradient matmul, and it always adds one `[V, D]` to peak memory.
`project` returns the same logits and gradients, with the head's weight gradient made by one matmul into a
buffer of its own.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class _TiedProjection(torch.autograd.Function):
    """`hidden @ weight.T` whose weight gradient is a fresh, contiguous `[V, D]` tensor."""

    @staticmethod
    def forward(ctx, hidden: Tensor, weight: Tensor) -> Tensor:
        ctx.save_for_backward(hidden, weight)
        return hidden @ weight.t()

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, Tensor]:
        hidden, weight = ctx.saved_tensors
        # under autocast the forward ran in the lower precision: cast as autograd's own casts would
        grad_hidden = (grad @ weight.to(grad.dtype)).to(hidden.dtype)
        grad_weight = (grad.t() @ hidden.to(grad.dtype)).to(weight.dtype)
        return grad_hidden, grad_weight


def _is_plain_tied_head(head: nn.Module, embeddings: nn.Module | None) -> bool:
    """Whether calling the head's weight directly is the head's own forward: a bias-free `nn.Linear` (not a
    peft or quantised layer), tied to the input embeddings, with no module hooks (FSDP and ZeRO-3 gather
    parameters in hooks) and a plain tensor weight (not a sharded DTensor)."""
    return (
        type(head) is nn.Linear
        and head.bias is None
        and embeddings is not None
        and getattr(embeddings, "weight", None) is head.weight
        and head.weight.requires_grad
        and type(head.weight) is nn.Parameter
        and not (head._forward_hooks or head._forward_pre_hooks)
        and not (nn.modules.module._global_forward_hooks or nn.modules.module._global_forward_pre_hooks)
    )


def project(head: nn.Module, hidden: Tensor, embeddings: nn.Module | None) -> Tensor:
    """Logits of `hidden` under `head`; through `_TiedProjection` when the head is tied to `embeddings`."""
    if torch.is_grad_enabled() and _is_plain_tied_head(head, embeddings):
        return _TiedProjection.apply(hidden, head.weight)
    return head(hidden)
