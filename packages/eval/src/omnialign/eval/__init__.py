"""omnialign.eval: torchmetrics metrics for reward, cost and moderation models, arenas and generation, and
the eval-anything runner behind `apps/evaluate.py` (see the package README)."""

__version__ = "0.1.0"
