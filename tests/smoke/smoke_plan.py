"""Which app runs each shipped tiny recipe, on what cut-down inputs, and in which chains.

Every YAML under `configs/` is one of: a tiny recipe (run here), a GPU recipe (path contains `gpu`; parsed
only, by tests/test_configs.py and the apps' own config tests), a file that is not a recipe (`NOT_RECIPES`,
each with the test that covers it), or a real-model recipe owned by tests/real (`configs/smollm2/`).

Train recipes are run by the train app for one step (`--trainer.fast_dev_run=1`); a loss overlay is run on
its base recipe, as the README composes them. LLF pipelines run every stage on two rows, one step per
training (their stage configs in `configs/llf/train/` are the recipes those stages run). Recipes that read
another run's output run in `CHAINS`, in the order the README and the configs' own comments give.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"

OWNED_ELSEWHERE = ("smollm2/",)  # the embedded real model's recipes: tests/real
NOT_RECIPES = {
    "strategies/": "strategy overlays, composed with each objective in tests/scale/test_strategy_presets.py",
    "sweeps/": "W&B sweep files, driven through the train app in tests/scale/test_sweeps.py",
    "eval/registry.yaml": "the eval task registry, read by configs/eval/tiny.yaml below",
}
OVERLAY_BASES = {"dpo/loss": "dpo/tiny-text.yaml"}  # README: --config configs/dpo/tiny-text.yaml --config ...
# Folders of other apps' configs; every other folder holds train-app recipes.
LLF_PIPELINES, LLF_STAGES, GENERATE = "llf", "llf/train", "any_to_any/generate"
REFINE, EVAL = "prompt_refiner/app", "eval"

QUIET = (
    "--trainer.fast_dev_run=1",
    "--trainer.logger=false",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
)


QUIET_OVERRIDES = {flag[2:].split("=")[0]: yaml.safe_load(flag.split("=")[1]) for flag in QUIET}
"""The same settings for an LLF training stage, as dotted-key overrides."""


def is_gpu(recipe: str) -> bool:
    return "gpu" in recipe


def discover() -> set[str]:
    """Every tiny recipe under configs/, as a path relative to it."""
    found = set()
    for path in CONFIGS.rglob("*.yaml"):
        recipe = path.relative_to(CONFIGS).as_posix()
        skipped = (*OWNED_ELSEWHERE, *NOT_RECIPES)
        if not is_gpu(recipe) and not any(recipe.startswith(prefix) for prefix in skipped):
            found.add(recipe)
    return found


def folder(recipe: str) -> str:
    return recipe.rpartition("/")[0]


@dataclass(frozen=True)
class Step:
    """One app run in a workspace whose `configs/` and `data/` are the repository's and whose relative
    output paths (`runs/...`, `eval-data`, `eval-out`) land in a fresh temporary folder."""

    app: str
    """`train` (the train app, in-process), a file under `apps/`, or `-m <module>`."""
    args: tuple[str, ...]
    expect: tuple[str, ...] = ()
    """Files the step must write, relative to the workspace."""
    stages: tuple[str, ...] = ()
    """Recipes the step runs besides its `--config` files (an LLF pipeline's stage configs)."""

    def recipes(self) -> set[str]:
        configs = [arg for flag, arg in zip(self.args, self.args[1:], strict=False) if flag == "--config"]
        return {str(Path(c).relative_to("configs").as_posix()) for c in configs} | set(self.stages)

    def label(self) -> str:
        return " ".join((self.app, *self.args))


def train(*recipes: str, extra: tuple[str, ...] = ()) -> Step:
    configs = [arg for recipe in recipes for arg in ("--config", f"configs/{recipe}")]
    return Step("train", ("fit", *configs, *QUIET, *extra))


def llf(recipe: str) -> Step:
    """The whole pipeline on two prompts (two feedback pairs), short generations, one step per training."""
    config = yaml.safe_load((CONFIGS / recipe).read_text())
    args = ["--config", f"configs/{recipe}", "--feedback_data.train.limit=2"]
    args += ["--feedback_data.val.limit=2"] if "val" in config["feedback_data"] else []
    args += ["--synthesis.prompts.limit=2", "--synthesis.batch_size=2"]
    args += ["--synthesis.generation.max_new_tokens=4", "--synthesis.feedback_generation.max_new_tokens=4"]
    stages = {"feedback_sft": config["feedback_sft"]} | {
        f"training.{name}": stage for name, stage in config["training"].items()
    }
    for key, stage in stages.items():
        args.append(f"--{key}.overrides={json.dumps(stage.get('overrides', {}) | QUIET_OVERRIDES)}")
    workdir = config["workdir"]
    expect = [f"{workdir}/pairs/pairs.jsonl", *(f"{workdir}/{name}/export" for name in config["training"])]
    stage_configs = [Path(c).relative_to("configs").as_posix() for s in stages.values() for c in s["config"]]
    return Step("llf.py", tuple(args), tuple(expect), tuple(stage_configs))


def _brightness_judge() -> str:
    """The README's `--judge` for the refine step: the rule judge the brightness best-of-N config uses."""
    config = yaml.safe_load((CONFIGS / REFINE / "best_of_n_brightness_tiny.yaml").read_text())
    return config["judge"]["class_path"]


def _refiner_chains() -> dict[str, tuple[Step, ...]]:
    best_of_n = "runs/prompt_refiner/best_of_n_tiny"
    brightness = "runs/prompt_refiner/best_of_n_brightness_tiny"
    refine = ("refine", "--config", f"configs/{REFINE}/refine_tiny.yaml", "--source.limit=2")
    refined = ("runs/prompt_refiner/refine_tiny/summary.json",)
    return {
        # README: best-of-N with the brightness rule → SFT on its rows → refine, judged by the same rule.
        "prompt-refiner-readme": (
            Step(
                "refine_prompt.py",
                (
                    "best-of-n",
                    "--config",
                    f"configs/{REFINE}/best_of_n_brightness_tiny.yaml",
                    "--source.limit=2",
                ),
                (f"{brightness}/sft.jsonl",),
            ),
            train(
                "prompt_refiner/sft_tiny.yaml",
                extra=(f"--data.init_args.train_files=[{brightness}/sft.jsonl]",),
            ),
            Step("refine_prompt.py", (*refine, f"--judge={_brightness_judge()}"), refined),
        ),
        # The configs' defaults: SafeSora judges trained first, best-of-N judged by them → SFT and DPO of the
        # refiner on its rows → refine with the SFT export, judged by the same models.
        "prompt-refiner-judged": (
            train("score/safesora_preference_tiny.yaml"),
            train("score/moderation_video_tiny.yaml"),
            Step(
                "refine_prompt.py",
                ("best-of-n", "--config", f"configs/{REFINE}/best_of_n_tiny.yaml", "--source.limit=2"),
                (f"{best_of_n}/sft.jsonl", f"{best_of_n}/preference.jsonl"),
            ),
            train("prompt_refiner/sft_tiny.yaml"),
            train("prompt_refiner/dpo_tiny.yaml"),
            Step("refine_prompt.py", refine, refined),
        ),
    }


def _eval_chains() -> dict[str, tuple[Step, ...]]:
    return {
        # README: the eval fixtures, then every task family on them.
        "eval-tasks": (
            Step("-m omnialign.eval.fixtures", ("eval-data",), ("eval-data/responses/strong.jsonl",)),
            Step(
                "evaluate.py", ("tasks", "--config", f"configs/{EVAL}/tiny.yaml"), ("eval-out/results.json",)
            ),
        ),
        # README: score-model benchmarks read the export of a configs/score/*_tiny.yaml run.
        "eval-reward": (
            train("score/reward_text_tiny.yaml"),
            Step(
                "evaluate.py",
                ("scores", "--config", f"configs/{EVAL}/reward.yaml"),
                ("eval-out/reward/results.json",),
            ),
        ),
        "eval-moderation": (
            train("score/moderation_prompt_tiny.yaml"),
            Step(
                "evaluate.py",
                ("moderation", "--config", f"configs/{EVAL}/moderation.yaml"),
                ("eval-out/moderation/results.json",),
            ),
        ),
    }


CHAINS: dict[str, tuple[Step, ...]] = {**_refiner_chains(), **_eval_chains()}


def _single(recipe: str) -> Step:
    parent = folder(recipe)
    if parent in OVERLAY_BASES:
        return train(OVERLAY_BASES[parent], recipe)
    if parent == LLF_PIPELINES:
        return llf(recipe)
    if parent == GENERATE:
        return Step("generate.py", ("--config", f"configs/{recipe}"))
    return train(recipe)


def singles() -> dict[str, Step]:
    """A step of its own for every tiny recipe that no chain runs and no LLF pipeline runs as a stage. Refine
    and eval configs read another run's output, so they run only in chains: one left out of every chain is
    missing from `planned()`, which the coverage test reports."""
    chained = {recipe for steps in CHAINS.values() for step in steps for recipe in step.recipes()}
    pipelines = [recipe for recipe in discover() if folder(recipe) == LLF_PIPELINES]
    staged = {stage for recipe in pipelines for stage in llf(recipe).stages}
    left = sorted(discover() - chained - staged)
    return {recipe: _single(recipe) for recipe in left if folder(recipe) not in (REFINE, EVAL, LLF_STAGES)}


def planned() -> set[str]:
    steps = [*singles().values(), *(step for steps in CHAINS.values() for step in steps)]
    return {recipe for step in steps for recipe in step.recipes()}
