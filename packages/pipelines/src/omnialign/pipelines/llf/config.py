"""The LLF pipeline's configuration: one dataclass per stage, read from YAML by the app (`cli.py`).

Dataclasses rather than free dicts so jsonargparse checks every key strictly and `--print_config` shows
every default; the paths every stage reads and writes are derived here, in one place (`LLFPipeline`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from omnialign.models.backbone import BackboneOptions
from omnialign.models.generation.media import MediaGenerationOptions
from omnialign.models.generation.text import GenerationBackend, GenerationOptions, HFGenerateBackend
from omnialign.models.generation.vllm import VLLMBackend
from omnialign.pipelines.llf.critics import Critic
from omnialign.pipelines.sources import RecordSource

STAGE_ORDER = ("feedback_data", "feedback_sft", "synthesis")


@dataclass
class FeedbackDataStage:
    """align-anything rows → `sft` records that teach a model to critique one response."""

    train: RecordSource
    val: RecordSource | None = None
    suggestion_fields: list[str] = field(default_factory=lambda: ["overall_textfeedback"])
    """Pair-level fields appended to each critique as its refinement suggestion (t2a: `refine_prompt`)."""
    rationales: bool = False
    """Append the per-dimension rationales of the response to its critique."""


@dataclass
class TrainStage:
    """A train-app run; the pipeline points its data and run folder into the working folder."""

    config: list[str]
    """Train-app config files, applied in order (a recipe, then overlays)."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Settings on top of the config files, by dotted key (`model.init_args.backbone.name: tiny:qwen2-vl`);
    `{workdir}` in a string value is replaced by the working folder."""
    on_pairs: bool = True
    """Train on the synthesised pairs (`preference` records). Off for a stage with its own data, such as
    PPO on prompts with the reward model an earlier stage trained on the pairs (LLF+RLHF)."""


@dataclass
class DiffusionStage:
    """For generation modalities: the text-to-media diffusion model whose prompts the policy rewrites (run
    through a `MediaGenerator`)."""

    name: str
    """Hub id, pipeline folder or `tiny:text-to-image|video|audio`."""
    options: MediaGenerationOptions = field(default_factory=MediaGenerationOptions)


@dataclass
class SynthesisStage:
    """Sample → critique → refine → pairs."""

    prompts: RecordSource
    policy: BackboneOptions
    """The policy that answers and refines (for generation modalities: the prompt writer)."""
    feedback_model: BackboneOptions | None = None
    """The feedback model; default: the export of the `feedback_sft` stage."""
    critic: Critic | None = None
    """A critic that is not a feedback model (e.g. `WordLimitCritic`, a rule); replaces `feedback_model`."""
    diffusion: DiffusionStage | None = None
    respond_with: Literal["text", "text+image"] = "text"
    """`text+image`: an any-to-any policy answers with text, then an image drawn with classifier-free
    guidance (text+image → text+image)."""
    guidance_scale: float = 5.0
    """Classifier-free guidance of drawn images (`text+image`)."""
    generation: GenerationOptions = field(default_factory=GenerationOptions)
    """Sampling of answers and refinements."""
    feedback_generation: GenerationOptions = field(default_factory=GenerationOptions)
    batch_size: int = 8
    seed: int = 0
    device: str = "cpu"
    """Where the models run (`cuda` on a GPU machine)."""
    backend: Literal["hf", "vllm"] = "hf"
    """Text generation engine: HF `generate` (CPU or GPU), or a vLLM engine per text model (GPU, vllm
    installed; `VLLMBackend`)."""
    zero3: bool = False
    """Shard the text models' weights over the processes of a `torchrun` launch with DeepSpeed ZeRO-3, for
    models larger than one GPU: weights are partitioned while they load, each rank still takes its own
    batches, and all ranks step through generation together."""
    vllm_options: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of each `VLLMBackend` (e.g. `gpu_memory_utilization`, `max_model_len`)."""

    def make_backend(self) -> GenerationBackend:
        """A fresh engine per model: a vLLM engine holds the weights of the one model it serves."""
        return VLLMBackend(**self.vllm_options) if self.backend == "vllm" else HFGenerateBackend()


@dataclass
class LLFPipeline:
    """Every stage's settings; a stage left out is not run."""

    workdir: str
    feedback_data: FeedbackDataStage | None = None
    feedback_sft: TrainStage | None = None
    synthesis: SynthesisStage | None = None
    training: dict[str, TrainStage] = field(default_factory=dict)
    """Trainings after synthesis, run in order, each in `<workdir>/<name>`: on the pairs (`dpo`, `reward`)
    or with their own data (`ppo` with the reward model of `reward`)."""

    # -- locations -------------------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return Path(self.workdir)

    def feedback_file(self, split: str) -> Path:
        return self.root / "feedback_data" / f"{split}.jsonl"

    @property
    def pairs_file(self) -> Path:
        return self.root / "pairs" / "pairs.jsonl"

    @property
    def feedback_model_dir(self) -> Path:
        return self.root / "feedback_sft" / "export"

    def stage_names(self) -> list[str]:
        present = [name for name in STAGE_ORDER if getattr(self, name) is not None]
        return present + list(self.training)
