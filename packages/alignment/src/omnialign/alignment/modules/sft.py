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
    more, as in most LM training); `'sequence'` weighs every example equally. `image_weight` scales the image
    codes of interleaved responses against their text tokens (an image is hundreds of codes, an answer's
    text often a few dozen tokens, so 1.0 lets the image dominate).
    """

    def __init__(
        self,
        backbone: BackboneOptions | None = None,
        loss_averaging: Literal["token", "sequence"] = "token",
        image_weight: float = 1.0,
        **kwargs,
    ) -> None:
        super().__init__(backbone=backbone, **kwargs)
        self.loss_averaging = loss_averaging
        self.image_weight = image_weight
        self.save_hyperparameters(ignore=["optimizer"])

    def _step(self, batch: dict[str, torch.Tensor], prefix: str) -> torch.Tensor:
        logps, counts, parts = self.response_logprobs_by_part(self.policy, batch)
        tokens = counts
        if "image" in parts:  # image codes count `image_weight` times, in the sum and in the token count
            image_logps, image_counts = parts["image"]
            logps = logps + (self.image_weight - 1.0) * image_logps
            counts = counts + (self.image_weight - 1.0) * image_counts
        out = sft_nll(logps, counts, averaging=self.loss_averaging)
        if self.loss_averaging == "token":
            loss = out.loss.sum() / out.num_tokens.sum().clamp_min(1.0)
        else:
            loss = out.loss.mean()
        # per-token NLL of each modality of interleaved responses (text, image codes), for monitoring
        per_part = {f"nll/{name}": -lp.sum() / n.sum().clamp_min(1.0) for name, (lp, n) in parts.items()}
        metrics = {"loss": loss, "tokens": tokens, **per_part}
        self.log_metrics(prefix, metrics, out.num_tokens.shape[0])
        return loss

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val")
