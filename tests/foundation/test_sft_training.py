"""The SFT module learns a planted pattern, exports a folder plain transformers loads, and the train app
runs the quickstart config end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer, seed_everything
from transformers import AutoModelForCausalLM, AutoTokenizer

from omnialign.alignment.modules.sft import SFTModule
from omnialign.data.datamodules import SFTDataModule
from omnialign.models.backbone import BackboneOptions


def _write_planted(path: Path, n: int) -> None:
    """Every response is the prompt's words in reverse order: learnable, and far from random init."""
    words = ["red", "blue", "green", "cat", "dog", "sun", "moon", "tree"]
    g = torch.Generator().manual_seed(n)
    with path.open("w") as f:
        for _ in range(n):
            picked = [words[i] for i in torch.randperm(len(words), generator=g)[:3].tolist()]
            row = {"prompt": "Reverse: " + " ".join(picked), "response": " ".join(reversed(picked))}
            f.write(json.dumps(row) + "\n")


def _validation_loss(trainer: Trainer, module: SFTModule, data: SFTDataModule) -> float:
    return trainer.validate(module, datamodule=data, verbose=False)[0]["val/loss"]


def _fit(tmp_path: Path, seed: int) -> tuple[float, float]:
    seed_everything(seed)
    tmp_path.mkdir(parents=True)
    _write_planted(tmp_path / "train.jsonl", 96)
    _write_planted(tmp_path / "val.jsonl", 16)
    data = SFTDataModule([str(tmp_path / "train.jsonl")], [str(tmp_path / "val.jsonl")], batch_size=16)
    module = SFTModule(
        backbone=BackboneOptions(name="tiny:llama"),
        optimizer=lambda params: torch.optim.AdamW(params, lr=3e-3),
    )
    common = dict(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False)
    before = _validation_loss(Trainer(**common), module, data)
    trainer = Trainer(max_epochs=5, default_root_dir=tmp_path, enable_model_summary=False, **common)
    trainer.fit(module, datamodule=data)
    return before, _validation_loss(trainer, module, data)


def test_sft_learns_a_planted_pattern_deterministically(tmp_path):
    before, after = _fit(tmp_path / "a", seed=0)
    assert after < 0.6 * before, f"validation loss {before:.3f} -> {after:.3f}: expected a 40% drop"
    before_again, after_again = _fit(tmp_path / "b", seed=0)
    assert (before_again, after_again) == pytest.approx((before, after), rel=1e-5)


def test_export_round_trip_gives_identical_logits(tmp_path):
    module = SFTModule(backbone=BackboneOptions(name="tiny:qwen2", seed=3))
    module.configure_model()
    module.export_pretrained(tmp_path / "export")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "export")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "export")
    ids = tokenizer("<|im_start|>user\nHello<|im_end|>\n", return_tensors="pt").input_ids
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, module.policy.eval()(ids).logits)
    assert tokenizer.chat_template == module.processor.chat_template


def _run_app(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(cwd / "apps" / "train.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**__import__("os").environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"},
    )


@pytest.mark.slow
def test_quickstart_config_runs_end_to_end(repo_root, tmp_path):
    out = tmp_path / "run"
    result = _run_app(
        [
            "fit",
            "--config",
            "configs/quickstart.yaml",
            "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=3",
            "--trainer.limit_val_batches=1",
            f"--trainer.default_root_dir={out}",
            f"--trainer.logger.init_args.save_dir={out}",
        ],
        cwd=repo_root,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    printed = result.stdout + result.stderr
    assert "HF-format export:" in printed and "last checkpoint:" in printed
    exports = list(out.rglob("export/config.json"))
    assert len(exports) == 1, printed[-2000:]
    assert AutoModelForCausalLM.from_pretrained(exports[0].parent) is not None
    assert (out / "checkpoints" / "last.ckpt").exists(), "checkpoints live at <default_root_dir>/checkpoints"
    assert (out / "config.yaml").exists(), "the resolved config is written beside the checkpoints"

    resumed = _run_app(
        [
            "fit",
            "--config",
            "configs/quickstart.yaml",
            "--trainer.max_epochs=2",
            "--trainer.limit_train_batches=3",
            "--trainer.limit_val_batches=1",
            f"--trainer.default_root_dir={out}",
            f"--trainer.logger.init_args.save_dir={out}",
            "--ckpt_path=last",
        ],
        cwd=repo_root,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Restoring states from the checkpoint path" in resumed.stdout + resumed.stderr


def test_unknown_config_key_fails_with_a_clear_message(repo_root, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((repo_root / "configs" / "quickstart.yaml").read_text() + "\nmodel_typo: 3\n")
    result = _run_app(["fit", "--config", str(bad), "--print_config"], cwd=repo_root, timeout=120)
    assert result.returncode != 0
    assert "model_typo" in result.stderr


def test_unknown_nested_key_fails(repo_root):
    result = _run_app(
        ["fit", "--config", "configs/quickstart.yaml", "--model.init_args.backbone.nmae=x", "--print_config"],
        cwd=repo_root,
        timeout=120,
    )
    assert result.returncode != 0
    assert "nmae" in result.stderr
