"""Any-to-any policies: models whose one token stream reads and writes text and VQ image codes.

Families: Janus (codes through a separate generation head and codebook), Emu3 and Chameleon (codes as tokens
of the shared vocabulary). A family adapter (`adapter_for(model)`) knows how a response image becomes codes
(the model's own VQ encoder, optionally cached on disk), how codes decode to pixels, how to read an
interleaved sequence (`hidden_states`, for score models too) and how to score it (which head predicts which
token), and how to sample an image with classifier-free guidance; `ImageMarkers` are the ids that open, fill
and close an image. Objectives stay family-agnostic: they ask the adapter for per-token log-probs and get
text tokens and image codes alike.
"""

from omnialign.models.any_to_any.adapter import AnyToAnyAdapter, adapter_for
from omnialign.models.any_to_any.common import ImageMarkers

__all__ = ["AnyToAnyAdapter", "ImageMarkers", "adapter_for"]
