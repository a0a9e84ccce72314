"""Any-to-any policies: models whose one token stream reads and writes text and VQ image codes.

A family adapter (`adapter_for(model)`) knows, for its family, how a response image becomes codes (the
model's own VQ encoder), how codes decode to pixels, which ids open and close an image, and how to score an
interleaved response (which head predicts which token). Objectives stay family-agnostic: they ask the
adapter for per-token log-probs and get text tokens and image codes alike.
"""

from omnialign.models.any_to_any.adapter import AnyToAnyAdapter, adapter_for

__all__ = ["AnyToAnyAdapter", "adapter_for"]
