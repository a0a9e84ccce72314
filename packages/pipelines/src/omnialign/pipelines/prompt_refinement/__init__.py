"""SafeSora's prompt-augmentation module: a prompt refiner (a small causal LM) that rewrites a user's
text-to-video prompt before generation, trained on best-of-N rewrites judged by SafeSora's preference and
moderation models (SFT on the best, DPO on best-vs-worst), and a pipeline that reports judged scores of the
videos before and after refinement. Start at `cli.py`."""

from omnialign.pipelines.prompt_refinement.before_after import PromptRefinement, RefinementSummary
from omnialign.pipelines.prompt_refinement.best_of_n import BestOfNWriter
from omnialign.pipelines.prompt_refinement.judges import (
    BrightnessJudge,
    Candidates,
    KeywordJudge,
    RewriteJudge,
    ScoreModelJudge,
    WeightedJudge,
)
from omnialign.pipelines.prompt_refinement.prompts import UserPrompt, load_prompts
from omnialign.pipelines.prompt_refinement.refiner import Refiner
from omnialign.pipelines.prompt_refinement.selection import select_best_worst

__all__ = [
    "BestOfNWriter",
    "BrightnessJudge",
    "Candidates",
    "KeywordJudge",
    "PromptRefinement",
    "RefinementSummary",
    "Refiner",
    "RewriteJudge",
    "ScoreModelJudge",
    "UserPrompt",
    "WeightedJudge",
    "load_prompts",
    "select_best_worst",
]
