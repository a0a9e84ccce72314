"""Supervised fine-tuning: next-token loss on response tokens only, for any backbone and modality."""

from __future__ import annotations

from typing import Literal

import torch

from omnialign.alignment.losses.sft import sft_nll
from omnialign.alignment.modules.base import PolicyModule
from omnialign.models.backbone import BackboneOptions


class SFTModule(PolicyModule):
    """Trains the policy to produce the responses of an SFT dataset.

    `loss_averaging='token'` weighs every response token equally across the batch (long answers count
    more, as in most LM training); `'sequence'` weighs every example equally.
    """

    def __init__(
        self,
        backbone: BackboneOptions | None = None,
        loss_averaging: Literal["token", "sequence"] = "token",
        **kwargs,
    ) -> None:
        super().__init__(backbone=backbone, **kwargs)
        self.loss_averaging = loss_averaging
        self.save_hyperparameters(ignore=["optimizer"])

    def _step(self, batch: dict[str, torch.Tensor], prefix: str) -> torch.Tensor:
        out = sft_nll(*self.response_logprobs(self.policy, batch), averaging=self.loss_averaging)
        if self.loss_averaging == "token":
            loss = out.loss.sum() / out.num_tokens.sum().clamp_min(1.0)
        else:
            loss = out.loss.mean()
        self.log_metrics(prefix, {"loss": loss, "tokens": out.num_tokens}, out.num_tokens.shape[0])
        return loss

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val")
