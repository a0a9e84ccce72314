"""Reward and cost models on one-row batches (`shared_prefix: true`, `packing: true`): each sequence is found
again in the row by hand, and scores, losses, metrics and gradients equal the padded batch's for both
objectives and multi-head training; a one-step fit through the train CLI gives the padded run's first loss;
what the row layouts cannot hold (token-wise losses, attention without an explicit mask, interleaved
responses, media shown to the model) is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback
from lightning.pytorch.callbacks import LambdaCallback
from quiet_trainer import one_step_cli

from omnialign.alignment.modules.score import ScoreModule
from omnialign.data.collate import PREDICTOR_IDS
from omnialign.data.datamodules.preference import PreferenceDataModule
from omnialign.data.fixtures import write_fixture
from omnialign.data.interleaved import RESPONSE_PART
from omnialign.models.backbone import BackboneOptions
from omnialign.models.generation.prefix_mask import ancestor_mask
from omnialign.models.score import row_sequences

REPO = Path(__file__).resolve().parents[2]


def test_row_sequences_by_hand():
    """The shared-prefix row of tests/data/test_shared_prefix.py::test_layout_by_hand: pair 0 is prompt
    (0, 1), first response (2, 3, 4), second response (5); pair 1 is prompt (6), responses (7) and (8, 9).
    Sequences come back firsts then seconds, each as its prompt's positions then its response's."""
    index, attention = row_sequences(
        segment_ids=torch.tensor([[0, 0, 0, 0, 0, 2, 1, 1, 3, 3]]),
        ancestors=ancestor_mask(torch.tensor([[-1, 0, 1, 2, 3, 1, -1, 6, 6, 8]])),
    )
    assert index.tolist() == [[0, 1, 2, 3, 4], [6, 7, 0, 0, 0], [0, 1, 5, 0, 0], [6, 8, 9, 0, 0]]
    assert attention.tolist() == [[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 0, 0]]
    # a packed row (no predictors): sequences of 3 and 2 tokens, each its segment
    index, attention = row_sequences(torch.tensor([[0, 0, 0, 1, 1]]))
    assert index.tolist() == [[0, 1, 2], [3, 4, 0]] and attention.tolist() == [[1, 1, 1], [1, 1, 0]]


CASES = {
    "reward-prefix": ({"objective": "reward"}, "shared_prefix", {}),
    "reward-two-heads-prefix": (
        {"objective": "reward", "heads": ["prompt_following", "clarity"]},
        "shared_prefix",
        {"schema": "align-anything/text-to-text", "head_dimensions": ["prompt_following", "clarity"]},
    ),
    "cost-prefix": ({"objective": "cost"}, "shared_prefix", {"dimension": "safer"}),
    "reward-packed": ({"objective": "reward"}, "packing", {}),
    "cost-packed": ({"objective": "cost"}, "packing", {}),
}


def _batch(module: ScoreModule, train: str, layout: str | None, data_options: dict) -> dict:
    options = {"schema": "pku-saferlhf", **data_options} | ({layout: True} if layout else {})
    data = PreferenceDataModule([train], batch_size=4, max_length=128, **options)
    data.attach_processor(module.processor)
    data.setup("fit")
    return next(iter(data.train_dataloader()))


@pytest.mark.parametrize("case", list(CASES))
def test_scores_loss_and_gradients_match_the_padded_batch(tmp_path, case):
    module_options, layout, data_options = CASES[case]
    schema = data_options.get("schema", "pku-saferlhf")
    train = str(write_fixture(tmp_path, schema, rows=4, seed=0).path)
    module = ScoreModule(backbone=BackboneOptions(name="tiny:llama", seed=3), **module_options)
    module.configure_model()
    padded, row = (_batch(module, train, flag, data_options) for flag in (None, layout))
    assert row["input_ids"].shape[0] == 1 and (PREDICTOR_IDS in row) == (layout == "shared_prefix")
    assert row["input_ids"].numel() <= padded["attention_mask"].sum()
    objective = module._reward_loss if module.objective == "reward" else module._cost_loss
    results = []
    for batch in (padded, row):
        module.model.zero_grad()
        out = module(batch)
        loss, metrics = objective(out, batch)
        loss.backward()
        grads = [p.grad.clone() for p in module.model.parameters()]
        results.append((out.scores.detach(), loss.detach(), metrics, grads))
    (scores_padded, loss_padded, metrics_padded, grads_padded) = results[0]
    (scores_row, loss_row, metrics_row, grads_row) = results[1]
    assert scores_row.shape == scores_padded.shape == (8, len(module.model.config.heads))
    torch.testing.assert_close(scores_row, scores_padded, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(loss_row, loss_padded, rtol=1e-5, atol=1e-5)
    for name, value in metrics_padded.items():
        torch.testing.assert_close(metrics_row[name], value, rtol=1e-5, atol=1e-5)
    for row_grad, padded_grad in zip(grads_row, grads_padded, strict=True):
        torch.testing.assert_close(row_grad, padded_grad, rtol=1e-4, atol=1e-6)
    assert scores_padded.std() > 0 and any(g.abs().sum() > 0 for g in grads_padded)  # a real comparison


class FirstStep(Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.keys, self.loss = set(batch), float(outputs["loss"])


@pytest.mark.parametrize("objective", ["reward", "cost"])
def test_one_step_fit_through_the_cli_gives_the_padded_loss(tmp_path, objective):
    """The shipped tiny recipe, seeded, once padded and once with shared_prefix: the same first batch and
    the same initial weights, so the first training loss must agree."""
    losses = []
    for flag in ("false", "true"):
        cli = one_step_cli(
            REPO / "configs/score/reward_text_tiny.yaml",
            tmp_path / flag,
            f"--data.init_args.shared_prefix={flag}",
            f"--model.init_args.objective={objective}",
            *(["--data.init_args.dimension=safer"] if objective == "cost" else []),
        )
        step = FirstStep()
        cli.trainer.callbacks.append(step)
        cli.trainer.fit(cli.model, cli.datamodule)
        assert (PREDICTOR_IDS in step.keys) == (flag == "true")
        losses.append(step.loss)
    assert losses[1] == pytest.approx(losses[0], rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("layout", ["packing", "shared_prefix"])
def test_a_token_wise_loss_on_a_row_layout_stops_before_the_first_step(tmp_path, layout):
    cli = one_step_cli(
        REPO / "configs/score/reward_text_tiny.yaml",
        tmp_path,
        f"--data.init_args.{layout}=true",
        "--model.init_args.loss_type=token-wise",
    )
    started = []
    cli.trainer.callbacks.append(LambdaCallback(on_train_batch_start=lambda *args: started.append(True)))
    with pytest.raises(ValueError, match=r"token-wise .* set packing: false and shared_prefix: false"):
        cli.trainer.fit(cli.model, cli.datamodule)
    assert not started, "refused at fit start, before the first batch"


def test_what_a_row_layout_cannot_hold_is_refused(tmp_path):
    train = str(write_fixture(tmp_path, "pku-saferlhf", rows=2, seed=0).path)
    module = ScoreModule(backbone=BackboneOptions(name="tiny:llama"), loss_type="token-wise")
    module.configure_model()
    for layout in ("packing", "shared_prefix"):
        row = _batch(module, train, layout, {})
        with pytest.raises(ValueError, match=r"token-wise .* set packing: false and shared_prefix: false"):
            module._reward_loss(module(row), row)
    assert PREDICTOR_IDS in row  # the shared-prefix row: its explicit mask needs sdpa or eager attention
    config = module.model.backbone.config
    config._attn_implementation = "flash_attention_2"  # takes no explicit 4D mask
    with pytest.raises(ValueError, match=r"shared_prefix needs .* 'flash_attention_2'"):
        module(row)
    config._attn_implementation = "sdpa"
    config.layer_types = ["sliding_attention"] * config.num_hidden_layers
    with pytest.raises(ValueError, match="sliding-window"):
        module(row)
    with pytest.raises(ValueError, match="text-only"):  # an any-to-any model's interleaved responses
        module({**row, RESPONSE_PART: torch.zeros_like(row["input_ids"])})
    with pytest.raises(ValueError, match="media_responses_as_input"):  # media shown to a score model
        PreferenceDataModule([train], shared_prefix=True, media_responses_as_input=True)
