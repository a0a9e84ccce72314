"""Reward and cost models (Safe RLHF) through one module, for every input modality the backbone handles.

The network is a `ScoreModel`: the backbone's base model plus one linear head per score. The objective is
chosen by configuration:
- `reward`: Bradley-Terry on the preferred response of each pair. With `heads`, one head per preference
  dimension (align-anything's five, SafeSora's helpfulness/harmlessness/sub-preferences) is trained from
  `targets['dimensions']` in one run; each head sees only the pairs labelled for its dimension.
- `cost`: Bradley-Terry on the unsafer-vs-safer order plus the safety-sign term (`targets['safer']`,
  `targets['is_safe']`), so C > 0 means unsafe (sign convention in `omnialign.alignment.losses.score`).
Either objective is `sequence-wise` (score at the last real token) or `token-wise` (every position from
where the two responses diverge). Sequence-wise objectives also take text pairs packed (`packing: true`) or
with each prompt run once before both responses (`shared_prefix: true`): the score model reads each
sequence's last token in the row, so the losses see the padded batch's scores. Token-wise ones need padded
batches: like safe-rlhf, they compare the shorter response's padding positions up to the longer one's end,
and a row has none. An optional normaliser tracks the training scores' statistics and is
saved with the model: affine for rewards, scale-only for costs so that the sign survives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

from omnialign.alignment.losses.score import (
    COST_LOSSES,
    REWARD_LOSSES,
    divergent_span_mask,
)
from omnialign.alignment.modules.base import AlignmentModule
from omnialign.alignment.ops import masked_mean, pair_by_winner
from omnialign.data.collate import model_inputs
from omnialign.data.interleaved import response_image_inputs
from omnialign.models.backbone import BackboneOptions
from omnialign.models.score import (
    NormalizerKind,
    ScoreConfig,
    ScoreModel,
    ScoreOutput,
    build_score_model,
    row_layout,
)

Objective = Literal["reward", "cost"]
LossType = Literal["sequence-wise", "token-wise"]
ROW_LAYOUT_TOKEN_WISE = (
    "token-wise losses run to the end of the longer response, reading the shorter one's padding positions, "
    "which a packed or shared-prefix row does not have: set packing: false and shared_prefix: false, or use "
    "loss_type: sequence-wise"
)
NORMALIZER_OF: dict[str, NormalizerKind] = {"reward": "affine", "cost": "scale"}


def left_align(values: Tensor, attention_mask: Tensor) -> Tensor:
    """Shift each row of `[N, T, ...]` values so its first real token sits at position 0 (a no-op for a
    right-padded batch), so the two responses of a pair line up token by token whatever the padding side."""
    width = attention_mask.shape[1]
    first = attention_mask.long().argmax(dim=1, keepdim=True)
    index = (torch.arange(width, device=values.device) + first) % width
    index = index.view(*index.shape, *([1] * (values.dim() - 2))).expand_as(values)
    return values.gather(1, index)


class ScoreModelModule(AlignmentModule):
    """Shared by every objective that trains a `ScoreModel`: building it lazily, scoring a batch, export."""

    def __init__(
        self,
        backbone: BackboneOptions | None = None,
        score_config: ScoreConfig | None = None,
        **kwargs,
    ) -> None:
        super().__init__(backbone=backbone, **kwargs)
        self.score_config = score_config
        self.model: ScoreModel | None = None

    def configure_model(self) -> None:
        if self.model is None:
            self.announce_sharded_construction()
            self.model = build_score_model(self.backbone_options, self.processor, self.score_config)

    def forward(self, batch: dict) -> ScoreOutput:
        return self.model(**model_inputs(batch), **row_layout(batch), **response_image_inputs(batch))

    def export_pretrained(self, directory: str | Path) -> Path:
        """Write the score model (`ScoreModel.from_pretrained` loads it back) and the processor."""
        if self.model is None:
            raise RuntimeError("the score model has not been built yet (configure_model was not called)")
        directory = Path(directory)
        self.model.save_pretrained(
            directory, pad_token_id=getattr(self.processor, "tokenizer", self.processor).pad_token_id
        )
        self.processor.save_pretrained(directory)
        return directory

    def update_normalizer(self, scores: Tensor) -> None:
        """Fold this step's scores from every rank into the running statistics, so all ranks agree."""
        if self.model.normalizer is not None:
            self.model.normalizer.update(self.all_gather(scores.detach()).reshape(-1, scores.shape[-1]))


class ScoreModule(ScoreModelModule):
    """Trains a reward or cost model on preference pairs (see the module docstring)."""

    def __init__(
        self,
        backbone: BackboneOptions | None = None,
        objective: Objective = "reward",
        loss_type: LossType = "sequence-wise",
        regularization: float = 0.0,
        heads: list[str] | None = None,
        normalize: bool = False,
        normalizer_momentum: float | None = None,
        **kwargs,
    ) -> None:
        """
        Args:
            objective: `reward` (Bradley-Terry on the preferred response) or `cost` (Safe RLHF cost model).
            loss_type: `sequence-wise` (last real token) or `token-wise` (every position after the pair's
                responses diverge).
            regularization: Weight of `mean(score²)`, which keeps scores near 0.
            heads: Reward only: the preference dimensions to train one head each for, in the order of the
                datamodule's `head_dimensions`. None: one head trained on `targets['chosen']`.
            normalize: Track training-score statistics and normalise `ScoreModel.score` with them (affine
                for rewards, scale-only for costs).
            normalizer_momentum: None: exact statistics over all training scores; else an EMA weight.
        """
        if objective not in NORMALIZER_OF:
            raise ValueError(f"objective must be 'reward' or 'cost', got '{objective}'")
        if loss_type not in REWARD_LOSSES:
            raise ValueError(f"loss_type must be one of {sorted(REWARD_LOSSES)}, got '{loss_type}'")
        if objective == "cost" and heads is not None:
            raise ValueError("a cost model has one head, trained on `safer`/`is_safe`; drop `heads`")
        config = ScoreConfig(
            heads=list(heads) if heads else [objective],
            normalizer=NORMALIZER_OF[objective] if normalize else None,
            normalizer_momentum=normalizer_momentum,
            # No bias for either objective, so the export loads as AutoModelForSequenceClassification
            # (see omnialign.models.score): Bradley-Terry never trains one, and a cost model learns the
            # zero of its scale in the backbone, as Safe RLHF's bias-free cost heads do (the tiny
            # token-wise test needs 10 epochs for it instead of 6: tests/alignment/test_score_cost.py).
            bias=False,
        )
        super().__init__(backbone=backbone, score_config=config, **kwargs)
        self.objective = objective
        self.loss_type = loss_type
        self.regularization = regularization
        self.dimension_heads = heads
        self.save_hyperparameters()

    def on_fit_start(self) -> None:
        super().on_fit_start()
        contract = self.batch_contract()
        if self.loss_type == "token-wise" and (contract.packed or contract.shared_prefix):
            raise ValueError(ROW_LAYOUT_TOKEN_WISE)
        expected = contract.head_dimensions
        if self.dimension_heads is not None and list(expected or []) != list(self.dimension_heads):
            raise ValueError(
                f"the model's heads {self.dimension_heads} must match the datamodule's head_dimensions "
                f"{expected}, in order: head i is trained on column i of targets['dimensions']"
            )

    # -- inputs of the pure losses -------------------------------------------------------------------
    def _head_values(self, out: ScoreOutput, batch: dict, head: int) -> tuple[Tensor, dict]:
        """A head's sequence scores `[2B]`, or (token-wise) its left-aligned token scores `[2B, T]` plus the
        aligned ids and masks the divergent span is computed from."""
        if self.loss_type == "sequence-wise":
            return out.scores[:, head], {}
        if "segment_ids" in batch:  # batches from a plain dataloader, which promised nothing at fit start
            raise ValueError(ROW_LAYOUT_TOKEN_WISE)
        attention = batch["attention_mask"]
        aligned = {
            "ids": left_align(batch["input_ids"], attention),
            "attention": left_align(attention, attention),
        }
        return left_align(out.token_scores[..., head], attention), aligned

    @staticmethod
    def _span(aligned: dict, winner: Tensor) -> Tensor:
        ids_w, ids_l = pair_by_winner(aligned["ids"], winner)
        att_w, att_l = pair_by_winner(aligned["attention"], winner)
        return divergent_span_mask(ids_w, ids_l, att_w, att_l)

    def _reward_head(self, out: ScoreOutput, batch: dict, head: int, preferred: Tensor) -> tuple:
        values, aligned = self._head_values(out, batch, head)
        winner = preferred.clamp_min(0)
        chosen, rejected = pair_by_winner(values, winner)
        extra = {"span_mask": self._span(aligned, winner)} if aligned else {}
        return REWARD_LOSSES[self.loss_type](chosen, rejected, regularization=self.regularization, **extra)

    def _preferred(self, batch: dict) -> Tensor:
        """`[B, heads]` preferred index per head, -1 where the pair is unlabelled for that head."""
        targets = batch["targets"]
        return targets["dimensions"] if self.dimension_heads is not None else targets["chosen"].unsqueeze(-1)

    # -- objectives ----------------------------------------------------------------------------------
    def _reward_loss(self, out: ScoreOutput, batch: dict) -> tuple[Tensor, dict[str, Tensor]]:
        preferred = self._preferred(batch)
        results = [self._reward_head(out, batch, h, preferred[:, h]) for h in range(preferred.shape[1])]
        valid = preferred >= 0
        losses = torch.stack([r.losses for r in results], dim=-1)
        accuracies = torch.stack([r.accuracies for r in results], dim=-1)
        margins = torch.stack([r.margins for r in results], dim=-1)
        metrics = {"accuracy": masked_mean(accuracies, valid), "margin": masked_mean(margins, valid)}
        if self.dimension_heads is not None:
            for h, name in enumerate(self.dimension_heads):
                metrics[f"accuracy/{name}"] = masked_mean(accuracies[:, h], valid[:, h])
                metrics[f"margin/{name}"] = masked_mean(margins[:, h], valid[:, h])
        return masked_mean(losses, valid), metrics

    def _cost_loss(self, out: ScoreOutput, batch: dict) -> tuple[Tensor, dict[str, Tensor]]:
        safer, is_safe = batch["targets"]["safer"], batch["targets"]["is_safe"]
        valid = (safer >= 0) & (is_safe >= 0).all(dim=-1)
        unsafer = 1 - safer.clamp_min(0)
        values, aligned = self._head_values(out, batch, 0)
        costs = pair_by_winner(values, unsafer)  # (unsafer's, safer's)
        safety = pair_by_winner((is_safe == 1).T.reshape(-1), unsafer)
        extra = {"span_mask": self._span(aligned, unsafer)} if aligned else {}
        result = COST_LOSSES[self.loss_type](*costs, *safety, regularization=self.regularization, **extra)
        metrics = {
            "accuracy": masked_mean(result.accuracies, valid),
            "margin": masked_mean(result.margins, valid),
            "sign_accuracy": masked_mean(result.sign_accuracies, valid),
        }
        return masked_mean(result.losses, valid), metrics

    def _step(self, batch: dict, prefix: str) -> Tensor:
        out = self(batch)
        if prefix == "train":
            self.update_normalizer(out.scores)
        objective = self._reward_loss if self.objective == "reward" else self._cost_loss
        loss, metrics = objective(out, batch)
        self.log_metrics(prefix, {"loss": loss, **metrics}, batch["targets"]["index"].shape[0])
        return loss

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> Tensor:
        return self._step(batch, "val")
