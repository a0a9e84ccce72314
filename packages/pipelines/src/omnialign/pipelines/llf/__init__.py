"""Learning from language feedback (LLF): a feedback model critiques, the policy refines, refined ≻ original
becomes preference data for DPO or a reward model. Start at `pipeline.py`; `apps/llf.py` runs it."""

from omnialign.pipelines.llf.config import LLFPipeline
from omnialign.pipelines.llf.pipeline import run_pipeline

__all__ = ["LLFPipeline", "run_pipeline"]
