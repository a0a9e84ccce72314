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
        logps, counts, parts = self.response_logprobs_by_part(self.policy, batch)
        out = sft_nll(logps, counts, averaging=self.loss_averaging)
        if self.loss_averaging == "token":
            loss = out.loss.sum() / out.num_tokens.sum().clamp_min(1.0)
        else:
            loss = out.loss.mean()
        # per-token NLL of each modality of interleaved responses (text, image codes), for monitoring
        per_part = {f"nll/{name}": -lp.sum() / n.sum().clamp_min(1.0) for name, (lp, n) in parts.items()}
        metrics = {"loss": loss, "tokens": out.num_tokens, **per_part}
        self.log_metrics(prefix, metrics, out.num_tokens.shape[0])
        return loss

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val")
