"""A checkpoint written by the train app exports to an HF-format folder equal to the one the run itself
exported at the end of fit (same logits, same tokenizer)."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from omnialign.alignment.cli import main
from omnialign.alignment.export import export_checkpoint


@pytest.mark.slow
def test_exported_checkpoint_equals_the_runs_own_export(repo_root, tmp_path, monkeypatch):
    monkeypatch.chdir(repo_root)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    main(
        [
            "fit",
            "--config=configs/quickstart.yaml",
            "--trainer.logger=false",
            "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=2",
            "--trainer.limit_val_batches=1",
            "--trainer.enable_progress_bar=false",
            f"--trainer.default_root_dir={tmp_path}",
        ]
    )
    [last] = tmp_path.rglob("checkpoints/last.ckpt")
    [run_export] = tmp_path.rglob("export/config.json")
    exported = export_checkpoint(str(last), str(tmp_path / "from-checkpoint"))
    tokenizer = AutoTokenizer.from_pretrained(exported)
    ids = tokenizer("<|user|>\nHello there", return_tensors="pt").input_ids
    with torch.no_grad():
        ours = AutoModelForCausalLM.from_pretrained(exported)(ids).logits
        theirs = AutoModelForCausalLM.from_pretrained(run_export.parent)(ids).logits
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
