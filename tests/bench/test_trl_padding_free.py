"""The peer's padding-free SFT (bench variant `best-pf`) is a fair comparison only if it computes the padded
loss on a CPU: TRL documents `padding_free=True` for FlashAttention 2/3 only, and on sdpa it is right only
because transformers builds the block-diagonal mask from the restarting position ids. Checked through TRL's
own collator and `compute_loss` on the benchmark's tiny model and records, so a TRL or transformers upgrade
that breaks it fails here instead of timing a wrong loss."""

from __future__ import annotations

import pytest
import torch


@pytest.mark.slow
def test_trl_padding_free_sft_gives_the_padded_loss_and_gradients(repo_root, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(repo_root / "bench"))
    import trl.trainer.utils
    from datasets import Dataset
    from peer.trl_side import common_args
    from peer.workload import QUICK, assistant, chat_prompt, model_folder, records
    from trl import SFTConfig, SFTTrainer

    # the `best` branch the variant runs (peer.trl_side.use_best_path), for this test only
    monkeypatch.setattr(trl.trainer.utils, "_use_triton", lambda device: True)
    workload = QUICK["tiny"]
    folder = model_folder(workload, tmp_path / "models")
    rows = [{"prompt": chat_prompt(r), "completion": assistant(r["chosen"])} for r in records(workload, 4)]
    results = []
    for options in ({"max_length": workload.max_length}, {"padding_free": True, "max_length": None}):
        args = common_args(workload, tmp_path / str(len(results)), 1, 4, "best-nogc")
        trainer = SFTTrainer(
            model=str(folder), args=SFTConfig(**args, **options), train_dataset=Dataset.from_list(rows)
        )
        batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
        scored = (batch["labels"][..., 1:] != -100).sum()
        loss = trainer.compute_loss(trainer.model.train(), batch, num_items_in_batch=scored)
        loss.backward()
        grads = torch.cat([p.grad.flatten() for p in trainer.model.parameters()])
        results.append((batch["input_ids"].shape[0], int(scored), loss.detach(), grads))
    (padded_rows, padded_scored, padded_loss, padded_grads), (pf_rows, pf_scored, pf_loss, pf_grads) = results
    assert (padded_rows, pf_rows) == (4, 1) and pf_scored == padded_scored > 0
    torch.testing.assert_close(pf_loss, padded_loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(pf_grads, padded_grads, rtol=1e-4, atol=1e-6)
