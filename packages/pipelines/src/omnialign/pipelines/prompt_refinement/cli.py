"""`apps/refine_prompt.py`'s commands: build the refiner, the diffusion model and the judge a YAML config
names, then run a stage.

- `best-of-n`: best-of-N refinement data (`sft.jsonl`, `preference.jsonl`, `skipped.jsonl` under
  `output_dir`) for the refiner's SFT and DPO recipes in `configs/prompt_refiner/`.
- `refine`: prompt → refined prompt → video, with judged scores before and after (`results.jsonl`,
  `summary.json` and the videos under `output_dir`).

Every option is a flag too; unknown keys are errors (`--print_config` shows the resolved config).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from jsonargparse import auto_cli

from omnialign.models.generation.media import MediaGenerationOptions, MediaGenerator
from omnialign.models.generation.text import GenerationOptions
from omnialign.pipelines.prompt_refinement.before_after import PromptRefinement
from omnialign.pipelines.prompt_refinement.best_of_n import BestOfNWriter
from omnialign.pipelines.prompt_refinement.judges import RewriteJudge
from omnialign.pipelines.prompt_refinement.prompts import inline_prompts, load_prompts, unique
from omnialign.pipelines.prompt_refinement.refiner import INSTRUCTION, Refiner
from omnialign.pipelines.sources import RecordSource


def _device(device: str | None) -> torch.device:
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def _models(
    refiner: str,
    diffusion: str | None,
    judge: RewriteJudge,
    output_dir: str,
    generation: GenerationOptions | None,
    media: MediaGenerationOptions | None,
    instruction: str,
    device: str | None,
) -> tuple[Refiner, MediaGenerator | None]:
    """The refiner and the diffusion model's `MediaGenerator` on `device`, the judge prepared there; media go
    to `output_dir/media`."""
    where = _device(device)
    loaded = Refiner.load(refiner, generation, instruction, device=str(where))
    videos = None
    if diffusion is not None:
        videos = MediaGenerator.load(diffusion, Path(output_dir) / "media", media)
        videos.pipeline.to(where)
    judge.prepare(where)
    return loaded, videos


def _provenance(refiner: str, diffusion: str | None, **settings: Any) -> dict[str, Any]:
    return {"refiner": refiner, "diffusion": diffusion, **settings}


def best_of_n(
    source: RecordSource,
    output_dir: str,
    judge: RewriteJudge,
    refiner: str = "tiny:llama",
    diffusion: str | None = "tiny:text-to-video",
    num_candidates: int = 4,
    batch_size: int = 8,
    seed: int = 0,
    min_margin: float = 0.0,
    instruction: str = INSTRUCTION,
    generation: GenerationOptions | None = None,
    media: MediaGenerationOptions | None = None,
    device: str | None = None,
) -> Path:
    """Write best-of-N refinement data: N rewrites per prompt, their videos, judged; best as `sft`,
    best-vs-worst as `preference` records. Rerunning after a kill finishes the missing rows only.

    Args:
        source: The user prompts: records of a prompt-only schema (`prompts`, `safesora/eval`) or of any
            schema with prompts, with `limit`, `on_invalid`, `split` and `columns` as in training.
        output_dir: Where the three JSONL files and `media/` go.
        judge: What scores each candidate (a SafeSora score/moderation model, a weighted mix, a rule).
        refiner: The prompt refiner: hub id, local folder (a refiner run's export) or `tiny:<name>`.
        diffusion: Text-to-video diffusion model (hub id, pipeline folder, `tiny:text-to-video`); None judges
            the rewrites without videos (rule-based judges only).
        num_candidates: N, rewrites per prompt.
        batch_size: Prompts per batch (decides each batch's seed, so keep it when resuming).
        seed: Base seed.
        min_margin: The best rewrite must beat the worst by more than this, else the prompt is skipped.
        instruction: Text the refiner's request starts with, before the user's prompt.
        generation: How the refiner samples (temperature, length).
        media: How videos are generated (steps, size, frames).
        device: `cuda`, `cpu`, ... (default: cuda when available).
    """
    refiner_model, videos = _models(
        refiner, diffusion, judge, output_dir, generation, media, instruction, device
    )
    writer = BestOfNWriter(
        refiner_model,
        judge,
        output_dir,
        generator=videos,
        num_candidates=num_candidates,
        batch_size=batch_size,
        seed=seed,
        min_margin=min_margin,
        provenance=_provenance(
            refiner, diffusion, media=vars(media or MediaGenerationOptions()) if videos else None
        ),
    )
    writer.run(load_prompts(source))
    return Path(output_dir)


def refine(
    output_dir: str,
    judge: RewriteJudge,
    prompts: list[str] | None = None,
    source: RecordSource | None = None,
    refiner: str = "tiny:llama",
    diffusion: str | None = "tiny:text-to-video",
    batch_size: int = 8,
    seed: int = 0,
    instruction: str = INSTRUCTION,
    generation: GenerationOptions | None = None,
    media: MediaGenerationOptions | None = None,
    device: str | None = None,
) -> Path:
    """Refine prompts, generate the videos of the user's prompt and of the refinement from the same seed,
    and write both judged scores (`results.jsonl`) and their means (`summary.json`).

    Args:
        output_dir: Where results, summary and `media/` go.
        judge: What scores each video (or prompt).
        prompts: Prompts given inline.
        source: Prompt records to read, after the inline prompts.
        refiner: The prompt refiner: hub id, local folder (a refiner run's export) or `tiny:<name>`.
        diffusion: Text-to-video diffusion model; None judges the prompts without videos (rule-based judges).
        batch_size: Prompts per batch (decides each batch's seed).
        seed: Base seed.
        instruction: Text the refiner's request starts with (the one it was trained with).
        generation: How the refiner samples.
        media: How videos are generated.
        device: `cuda`, `cpu`, ... (default: cuda when available).
    """
    selected = inline_prompts(prompts or [])
    if source is not None:
        selected += load_prompts(source)
    if not selected:
        raise ValueError("give prompts, a source or both")
    refiner_model, videos = _models(
        refiner, diffusion, judge, output_dir, generation, media, instruction, device
    )
    pipeline = PromptRefinement(refiner_model, judge, output_dir, videos, batch_size, seed)
    pipeline.run(unique(selected))
    return Path(output_dir)


def main(args: list[str] | None = None) -> Path:
    """Subcommands `best-of-n` and `refine`, each taking `--config run.yaml`."""
    return auto_cli({"best-of-n": best_of_n, "refine": refine}, args=args, as_positional=False)
