"""The SFT module learns a planted pattern, exports a folder plain transformers loads, and the train app
runs the quickstart config end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import combinations, permutations
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer, seed_everything
from transformers import AutoModelForCausalLM, AutoTokenizer

from omnialign.alignment.modules.sft import SFTModule
from omnialign.data.collate import model_inputs
from omnialign.data.datamodules import SFTDataModule
from omnialign.models.backbone import BackboneOptions

WORDS = ("red", "blue", "green", "cat", "dog", "sun", "moon", "tree")


def _triples(seed: int = 0) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Ordered word triples for training (every order of 48 word sets) and validation (16 triples of the 8
    other sets). No validation triple's three words occur together in any training prompt, in any order, so
    the model must apply the reversal to combinations it never saw."""
    g = torch.Generator().manual_seed(seed)
    sets = list(combinations(WORDS, 3))
    sets = [sets[i] for i in torch.randperm(len(sets), generator=g).tolist()]
    train = [p for s in sets[8:] for p in permutations(s)]
    val = [p for s in sets[:8] for p in permutations(s)]
    return train, [val[i] for i in torch.randperm(len(val), generator=g)[:16].tolist()]


def _write(path: Path, rows: list[tuple[tuple[str, ...], tuple[str, ...]]]) -> str:
    """`Reverse: <prompt words>` → `<response words>` rows."""
    lines = [json.dumps({"prompt": "Reverse: " + " ".join(p), "response": " ".join(r)}) for p, r in rows]
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


def _order_accuracy(module: SFTModule, prompts: list[tuple[str, ...]], folder: Path) -> float:
    """Share of held-out prompts whose reversed word order the model scores above all five other orders of
    the same three words. The six candidates hold the same tokens, so a model that ignores word order (a
    bag of words) has no preference among them: chance is 1/6."""
    orders = list(permutations(range(3)))
    rows = [(p, tuple(p[i] for i in order)) for p in prompts for order in orders]
    data = SFTDataModule([], [_write(folder / "orders.jsonl", rows)], batch_size=len(orders))
    data.attach_processor(module.processor)
    data.setup("validate")
    policy = module.policy.eval()
    scores = []
    with torch.no_grad():
        for batch in data.val_dataloader():
            logits = policy(**model_inputs(batch)).logits[:, :-1].log_softmax(-1)
            tokens = logits.gather(-1, batch["input_ids"][:, 1:, None]).squeeze(-1)
            scores.append((tokens * batch["response_mask"][:, 1:]).sum(-1))
    best = torch.cat(scores).view(len(prompts), len(orders)).argmax(-1)
    return (best == orders.index((2, 1, 0))).float().mean().item()


def _validation_loss(trainer: Trainer, module: SFTModule, data: SFTDataModule) -> float:
    return trainer.validate(module, datamodule=data, verbose=False)[0]["val/loss"]


def _fit(tmp_path: Path, seed: int) -> tuple[float, float, float, float]:
    """Validation loss and held-out order accuracy, before and after 16 epochs."""
    seed_everything(seed)
    tmp_path.mkdir(parents=True)
    train, val = _triples()
    assert not {frozenset(t) for t in train} & {frozenset(v) for v in val}, "validation word sets are unseen"
    reverse = lambda triples: [(t, t[::-1]) for t in triples]  # noqa: E731
    data = SFTDataModule(
        [_write(tmp_path / "train.jsonl", reverse(train))],
        [_write(tmp_path / "val.jsonl", reverse(val))],
        batch_size=16,
    )
    module = SFTModule(
        backbone=BackboneOptions(name="tiny:llama"),
        optimizer=lambda params: torch.optim.AdamW(params, lr=3e-3),
    )
    common = dict(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False)
    before = _validation_loss(Trainer(**common), module, data)
    order_before = _order_accuracy(module, val, tmp_path)
    trainer = Trainer(max_epochs=16, default_root_dir=tmp_path, enable_model_summary=False, **common)
    trainer.fit(module, datamodule=data)
    after = _validation_loss(trainer, module, data)
    return before, after, order_before, _order_accuracy(module, val, tmp_path)


def test_sft_learns_a_planted_pattern_deterministically(tmp_path):
    """Every response is its prompt's three words reversed; validation prompts combine words never seen
    together in training. A loss drop alone does not show the pattern was learnt: after 5 epochs of 96 rows
    the validation loss fell 6.20 -> 2.63 (58%) while the reversed order came first on 1 of 16 held-out
    prompts, a model that learnt which words to say but not in which order. So the test also ranks all six
    orders of each held-out prompt's words (same tokens, so chance is 1/6 and a bag-of-words model has no
    preference): measured loss 6.22 -> 0.145 and order accuracy 0.31 -> 0.88 (14 of 16) after 16 epochs;
    asked: at least 0.75 (chance 1/6), and a 90% loss drop."""
    before, after, order_before, order_after = _fit(tmp_path / "a", seed=0)
    print(f"val loss {before:.3f} -> {after:.3f}, order accuracy {order_before:.2f} -> {order_after:.2f}")
    assert after < 0.1 * before, f"validation loss {before:.3f} -> {after:.3f}: expected a 90% drop"
    assert order_after >= 0.75, f"reversed order ranked first on {order_after:.0%} of held-out prompts"
    again = _fit(tmp_path / "b", seed=0)
    assert again == pytest.approx((before, after, order_before, order_after), rel=1e-5)


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
