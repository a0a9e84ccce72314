"""Every command README.md shows (fenced `bash` blocks, and inline `uv run`/`torchrun`/`bash`/`sbatch` spans)
is planned here, and the plan is exact both ways: a new README command without a plan, or a plan for a
command the README dropped, fails. So docs and CLI cannot drift apart silently.

Plans:
- `parse`: the app runs in-process, as written, with `--print_config` appended (commands that already end in
  `--help` or `--print_config` run as they are): every flag the README shows must exist. Full runs of the
  tiny recipes are tests/smoke's job (one run per recipe there, none twice here).
- `run`: runs as written, in a temporary folder where it writes files; the quickstart variations (CSV
  logger, resume, export) run cut down, with the overrides in `CUT_DOWN`.
- anything else: not run, with the reason (GPU, cluster, W&B server, or the test suite itself).
Placeholders (`<run>`, `configs/<recipe>.yaml`, ...) are replaced by the values in `PLACEHOLDERS`.
"""

from __future__ import annotations

import re
import runpy
import shlex
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
PARSE, RUN = "parse", "run"
TEST_SUITE = "the test suite itself (CI runs it)"
RECIPE = PARSE  # tiny recipes run in full in tests/smoke
PLAN: dict[str, str] = {
    "pip install uv": "installs uv (.ci/run does the same)",
    "uv run apps/train.py fit --config configs/quickstart.yaml": RUN,
    "uv run pytest": TEST_SUITE,
    "uv run pytest -m smoke": TEST_SUITE,
    "uv run apps/train.py fit --config configs/smollm2/dpo.yaml": "the main job (minutes on the real model); "
    "tests/real/test_main_job.py runs this config through the app, cut down",
    # the real-model evaluation: parsed here; tests/real/test_eval_lookup_real.py runs the three, cut down
    "uv run apps/train.py fit --config configs/smollm2/disclosure/reward.yaml": PARSE,
    "uv run apps/train.py fit --config configs/smollm2/disclosure/dpo.yaml": PARSE,
    "uv run apps/evaluate.py tasks --config configs/smollm2/eval/lookup.yaml": PARSE,
    "uv run apps/self_play.py": "samples the real model for many minutes; tests/pipelines/test_self_play.py "
    "runs the same self-play on a tiny model",
    "uv run apps/train.py fit --help": PARSE,
    "uv run apps/train.py fit --config configs/quickstart.yaml --print_config": PARSE,
    "uv run apps/train.py fit --config configs/quickstart.yaml "
    "--trainer.logger=lightning.pytorch.loggers.CSVLogger --trainer.logger.save_dir=runs/quickstart": RUN,
    "uv run apps/train.py fit --config configs/quickstart.yaml --ckpt_path last": RUN,
    "uv run apps/train.py fit --config configs/dpo/tiny-image.yaml": RECIPE,
    "uv run apps/train.py fit --config configs/dpo/tiny-text.yaml "
    "--config configs/dpo/loss/simpo.yaml": RECIPE,
    "uv run apps/train.py fit --config configs/score/cost_text_tiny.yaml": RECIPE,
    "uv run apps/generate.py --config configs/any_to_any/generate/tiny-janus.yaml": RECIPE,
    "uv run apps/refine_prompt.py best-of-n --config "
    "configs/prompt_refiner/app/best_of_n_brightness_tiny.yaml": RECIPE,
    "uv run apps/train.py fit --config configs/prompt_refiner/sft_tiny.yaml "
    "--data.init_args.train_files='[runs/prompt_refiner/best_of_n_brightness_tiny/sft.jsonl]'": RECIPE,
    "uv run apps/refine_prompt.py refine --config configs/prompt_refiner/app/refine_tiny.yaml "
    "--judge=omnialign.pipelines.prompt_refinement.judges.BrightnessJudge": RECIPE,
    "uv run apps/llf.py --config configs/llf/tiny-text.yaml": RECIPE,
    "uv run apps/llf.py --config configs/llf/tiny-image.yaml --stages=[synthesis]": RECIPE,
    "uv run python -m omnialign.eval.fixtures eval-data": RUN,
    "uv run apps/evaluate.py tasks --config configs/eval/tiny.yaml": RECIPE,
    "uv run torchrun --standalone --nproc-per-node 2 apps/evaluate.py tasks --config configs/eval/tiny.yaml "
    "--output_dir eval-out-2": PARSE,
    "uv run apps/evaluate.py scores --config configs/eval/reward.yaml "
    "--model <export folder of the reward run>": PARSE,
    "uv run apps/evaluate.py moderation --config configs/eval/moderation.yaml --model <export folder>": PARSE,
    "uv run apps/train.py fit --config configs/dpo/tiny-text.yaml "
    "--config configs/strategies/deepspeed_zero3.yaml "
    "--model.init_args.backbone.name=/models/Qwen2.5-0.5B-Instruct": PARSE,
    "torchrun --nnodes=2 --nproc-per-node=8 --node-rank=$NODE_RANK --master-addr=$MASTER_ADDR "
    "--master-port=29500 apps/train.py fit --config configs/<recipe>.yaml "
    "--config configs/strategies/deepspeed_zero2.yaml --trainer.num_nodes=2 --trainer.devices=8": PARSE,
    "sbatch --nodes=2 configs/slurm/train.sbatch --config configs/<recipe>.yaml "
    "--config configs/strategies/deepspeed_zero3.yaml": "needs a SLURM cluster with GPUs",
    "uv run wandb sweep configs/sweeps/quickstart_lr.yaml": "needs a W&B server; "
    "tests/scale/test_sweep_agent.py runs a trial through wandb's agent offline, "
    "tests/scale/test_sweeps.py parses every parameter",
    "uv run wandb agent <entity>/<project>/<sweep id>": "needs a W&B server (see the sweep command)",
    "uv run python -m omnialign.data.fixtures data/tiny": RUN,
    "torchrun --standalone --nproc-per-node=8 apps/llf.py --config configs/llf/gpu-qwen2-vl-7b.yaml "
    "--stages=[synthesis]": PARSE,
    "uv run apps/export.py --checkpoint runs/<run>/checkpoints/last.ckpt --output runs/<run>/hf": RUN,
    "bash bench/deepspeed_zero.sh [local model folder]": "GPU benchmark (DeepSpeed ZeRO-2/3 on CUDA)",
}
PLACEHOLDERS = {
    "configs/<recipe>.yaml": "configs/quickstart.yaml",
    "<export folder of the reward run>": "runs/reward-export",
    "<export folder>": "runs/moderation-export",
}
CUT_DOWN = [  # appended to the quickstart runs: a few steps instead of 8 epochs, outputs in the test's folder
    "--trainer.max_epochs=1",
    "--trainer.limit_train_batches=2",
    "--trainer.limit_val_batches=1",
    "--trainer.enable_progress_bar=false",
]


def readme_commands() -> list[str]:
    """Commands as one line each: continuations joined, comments dropped, `&&` chains split."""
    text = (REPO / "README.md").read_text()
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        lines += [line.split(" # ")[0] for line in block.replace("\\\n", " ").splitlines()]
    lines += re.findall(r"`((?:uv run|torchrun|bash|sbatch) [^`]+)`", text)
    commands = [part for line in lines for part in line.split(" && ")]
    return [" ".join(command.split()) for command in commands if command.strip()]


def app_argv(command: str) -> list[str]:
    """`[apps/x.py, args...]`: launchers (`uv run`, `torchrun ...`) dropped, placeholders filled in."""
    for placeholder, value in PLACEHOLDERS.items():
        command = command.replace(placeholder, value)
    tokens = shlex.split(command)
    start = next(i for i, token in enumerate(tokens) if token.startswith("apps/") and token.endswith(".py"))
    return tokens[start:]


def run_app(argv: list[str], monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", argv)
    try:
        runpy.run_path(str(REPO / argv[0]), run_name="__main__")
    except SystemExit as exit_info:
        assert exit_info.code in (None, 0), f"{' '.join(argv)} exited with {exit_info.code}"


def test_every_readme_command_has_a_plan():
    commands = readme_commands()
    unplanned = sorted(set(commands) - set(PLAN))
    stale = sorted(set(PLAN) - set(commands))
    assert not unplanned, f"README commands without a plan in {__name__}: {unplanned}"
    assert not stale, f"planned commands no longer in README.md: {stale}"


@pytest.mark.parametrize("command", [c for c, plan in PLAN.items() if plan == PARSE])
def test_command_parses_as_written(command, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    argv = app_argv(command)
    if argv[-1] not in ("--help", "--print_config"):
        argv.append("--print_config")
    run_app(argv, monkeypatch)
    assert capsys.readouterr().out.strip(), f"{command} printed nothing"


def global_step(checkpoint: Path) -> int:
    return torch.load(checkpoint, weights_only=False)["global_step"]


@pytest.fixture
def fresh_wandb(monkeypatch):
    """`WANDB_MODE=offline` that wandb really reads: wandb loads its settings once per process, so a test
    that ran wandb earlier in this process would otherwise leave its mode (online: "No API key")."""
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    wandb.teardown()
    yield
    wandb.teardown()


@pytest.mark.slow
def test_quickstart_variations_and_export_run_as_written(tmp_path, monkeypatch, fresh_wandb):
    """The quickstart, its CSV-logger variation, `--ckpt_path last` and the export command, in a fresh folder
    (the commands' relative `runs/...` paths land there), cut down to a few steps. The CSV run is a second
    fresh run into the same checkpoint folder: Lightning keeps the first run's `last.ckpt` and names the new
    one `last-v1.ckpt`; `--ckpt_path last` resumes the newest, so that is the file that must reach step 4."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").symlink_to(REPO / "configs")
    (tmp_path / "data").symlink_to(REPO / "data")
    (tmp_path / "apps").symlink_to(REPO / "apps")
    checkpoints = tmp_path / "runs/quickstart/checkpoints"
    quickstart, csv, resume, export = [c for c, plan in PLAN.items() if plan == RUN and "apps/" in c]
    run_app([*app_argv(quickstart), *CUT_DOWN], monkeypatch)
    assert global_step(checkpoints / "last.ckpt") == 2
    run_app([*app_argv(csv), *CUT_DOWN], monkeypatch)
    [hparams] = (tmp_path / "runs/quickstart").rglob("hparams.yaml")
    assert "train_files" in hparams.read_text(), "the CSV run must log the whole resolved config"
    assert global_step(checkpoints / "last-v1.ckpt") == 2
    run_app([*app_argv(resume), *CUT_DOWN[1:], "--trainer.max_epochs=2"], monkeypatch)
    assert global_step(checkpoints / "last-v1.ckpt") == 4, "resume must continue, not restart"
    assert global_step(checkpoints / "last.ckpt") == 2, "the first run's checkpoint is left alone"
    run_app(app_argv(export.replace("<run>", "quickstart")), monkeypatch)
    assert (tmp_path / "runs/quickstart/hf/config.json").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("command", [c for c, plan in PLAN.items() if plan == RUN and "python -m" in c])
def test_module_command_runs_as_written(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module, *args = shlex.split(command)[4:]
    monkeypatch.setattr(sys, "argv", [module, *args])
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exit_info:
        assert exit_info.code in (None, 0)
    assert (tmp_path / args[0]).is_dir() and any((tmp_path / args[0]).iterdir())
