"""Direct preference optimisation for any→text policies: DPO, cDPO, robust DPO, IPO, SimPO, ORPO and KTO
through one module, for every input modality the backbone's processor handles.

KTO learns from unpaired examples; here each pair gives one desirable (the chosen response) and one
undesirable example, the usual way to run KTO on paired data, and its reference point z0 is the batch's
policy-vs-reference KL on mismatched (prompt, other row's response) sequences, as in the paper.

Chosen and rejected responses go through the policy in one concatenated forward (the preference batch
already holds both). The reference log-probs come from one of three sources:
- `frozen`: a second, frozen copy of the backbone (loaded the same way, never saved in checkpoints);
- `adapters`: the policy itself with its LoRA adapters disabled (no second copy in memory);
- `precomputed`: one pass over the training pairs before the first step, with the still-untrained policy;
  cached, saved inside the Lightning checkpoint, and looked up by pair index afterwards — the reference
  model never stays in memory and costs no forward per step.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import Tensor

from omnialign.alignment.losses.preference import PREFERENCE_LOSSES, PreferenceOutput
from omnialign.alignment.modules.base import PolicyModule
from omnialign.alignment.ops import pair_by_winner
from omnialign.alignment.reference import ReferencePolicy, ReferenceSource, drop_rebuilt
from omnialign.data.collate import rotate_responses
from omnialign.models.backbone import BackboneOptions, load_causal_lm, tokenizer_of

DPOLoss = Literal[tuple(PREFERENCE_LOSSES)]  # type: ignore[valid-type]
"""The `loss` choices: the rows of the loss table (derived, never listed by hand)."""


class DPOModule(PolicyModule):
    def __init__(
        self,
        backbone: BackboneOptions | None = None,
        loss: DPOLoss = "sigmoid",
        beta: float = 0.1,
        label_smoothing: float = 0.0,
        simpo_gamma: float = 0.5,
        orpo_lambda: float = 0.1,
        kto_desirable_weight: float = 1.0,
        kto_undesirable_weight: float = 1.0,
        reference: ReferenceSource | Literal["precomputed"] = "frozen",
        reference_dtype: str | None = None,
        **kwargs,
    ) -> None:
        """
        Args:
            loss: A row of `losses.preference.PREFERENCE_LOSSES`: `sigmoid` (DPO; with `label_smoothing` > 0
                conservative DPO), `robust` (unbiased under label noise `label_smoothing`), `ipo`, `simpo`
                (reference-free), `orpo` (reference-free, SFT + odds ratio), `kto` (unpaired examples).
            beta: Inverse temperature β (IPO's τ; SimPO's β on length-averaged log-probs).
            label_smoothing: Assumed label-flip rate ε for `sigmoid` and `robust`.
            simpo_gamma: SimPO's target margin γ.
            orpo_lambda: ORPO's weight λ of the odds-ratio term.
            kto_desirable_weight: KTO's λ_D (weight of desirable examples).
            kto_undesirable_weight: KTO's λ_U (weight of undesirable examples).
            reference: Where reference log-probs come from (see the module docstring); `adapters` needs
                `backbone.lora`.
            reference_dtype: Parameter dtype of a `frozen` reference (float32, bfloat16, float16): it only
                runs forwards, so bf16 halves its memory; None: the backbone's dtype.
        """
        super().__init__(backbone=backbone, **kwargs)
        if loss not in get_args(DPOLoss):
            raise ValueError(f"unknown loss '{loss}'; choose from {list(get_args(DPOLoss))}")
        self.spec = PREFERENCE_LOSSES[loss]
        if self.spec.inputs == "unpaired+kl" and reference == "precomputed":
            raise ValueError(
                f"{loss} scores mismatched pairs each step: use reference 'frozen' or 'adapters'"
            )
        self.reference_policy = ReferencePolicy(
            "frozen" if reference == "precomputed" else reference, reference_dtype
        )
        self.reference_policy.check(has_lora=self.backbone_options.lora is not None)
        self.loss_settings = {
            "beta": beta,
            "label_smoothing": label_smoothing,
            "simpo_gamma": simpo_gamma,
            "orpo_lambda": orpo_lambda,
            "kto_desirable_weight": kto_desirable_weight,
            "kto_undesirable_weight": kto_undesirable_weight,
        }
        """The hyperparameters a table row's `options` name, by argument name."""
        self.reference_source = reference
        self.reference: torch.nn.Module | None = None
        self.reference_cache: dict[str, Tensor] = {}  # split -> [num_pairs, 2] summed reference log-probs
        self.strict_loading = False  # reference weights are rebuilt, never checkpointed
        self.save_hyperparameters(ignore=["optimizer"])

    @property
    def needs_reference(self) -> bool:
        return self.spec.uses_reference

    def configure_model(self) -> None:
        super().configure_model()
        if self.needs_reference and self.reference_source != "precomputed" and self.reference is None:
            options = BackboneOptions(**{**vars(self.backbone_options), "lora": None})
            self.reference = self.reference_policy.frozen_copy(
                lambda: load_causal_lm(options, self.processor)
            )

    # -- reference log-probs -------------------------------------------------------------------------
    def _live_reference_logps(self, batch: dict) -> Tensor:
        with self.reference_policy.network(self.reference, self.policy) as reference:
            return self.response_logprobs(reference, batch)[0]

    def reference_logps(self, batch: dict, split: str) -> Tensor:
        """Summed reference log-probs `[2B]` in batch order."""
        if self.reference_source != "precomputed":
            return self._live_reference_logps(batch)
        if split not in self.reference_cache:
            raise RuntimeError(f"reference log-probs of the {split} pairs were not precomputed")
        cache, index = self.reference_cache[split], batch["targets"]["index"]
        return torch.cat([cache[index, 0], cache[index, 1]])

    @torch.no_grad()
    def precompute_reference(self, loader, size: int) -> Tensor:
        """Reference log-probs `[size, 2]` for the pairs the loader yields, with the current (untrained)
        policy. Each rank scores its shard; the shards are gathered so every rank holds all pairs."""
        was_training = self.policy.training
        self.policy.eval()
        cache = torch.full((size, 2), float("nan"), device=self.device)
        for batch in loader:
            batch = self.transfer_batch_to_device(batch, self.device, 0)
            first, second = self.response_logprobs(self.policy, batch)[0].view(2, -1)
            cache[batch["targets"]["index"]] = torch.stack([first, second], dim=-1).float()
        self.policy.train(was_training)
        if self._trainer is not None and self.trainer.world_size > 1:
            gathered = self.all_gather(cache)  # [world, size, 2]; each pair scored by at least one rank
            cache = torch.nan_to_num(gathered, nan=float("-inf")).amax(dim=0)
        if torch.isnan(cache).any() or torch.isinf(cache).any():
            raise RuntimeError("precomputing reference log-probs missed some pairs")
        return cache

    def on_fit_start(self) -> None:
        super().on_fit_start()
        contract = self.batch_contract()
        if self.spec.inputs == "unpaired+kl" and (contract.packed or contract.shared_prefix):
            option = "packing" if contract.packed else "shared_prefix"
            raise ValueError(
                "KTO's KL term pairs each prompt with another pair's response, rebuilt from a padded batch: "
                f"set {option}: false"
            )
        if not (self.needs_reference and self.reference_source == "precomputed"):
            return
        data = self.datamodule()
        if data is None:
            raise ValueError("reference='precomputed' needs an OmniAlign datamodule (a SampleDataModule)")
        for split in data.splits():
            if split not in self.reference_cache:  # a resumed run restores the cache from the checkpoint
                loader = data.reference_dataloader(split, self.global_rank, self.trainer.world_size)
                self.reference_cache[split] = self.precompute_reference(loader, data.num_samples(split))

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        drop_rebuilt(checkpoint["state_dict"])
        if self.reference_cache:
            checkpoint["reference_cache"] = {k: v.cpu() for k, v in self.reference_cache.items()}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "reference_cache" in checkpoint:
            self.reference_cache = {k: v.to(self.device) for k, v in checkpoint["reference_cache"].items()}

    # -- objective: fed as the loss table's row says (`losses.preference.LossInputs`) ------------------
    def _loss(self, batch: dict, split: str) -> tuple[Tensor, dict[str, Tensor]]:
        logps, counts, parts = self.response_logprobs_by_part(self.policy, batch)
        loss, metrics = self._objective(batch, split, logps, counts)
        return loss, {**metrics, **_part_margins(parts, batch["targets"]["chosen"])}

    def _objective(
        self, batch: dict, split: str, logps: Tensor, counts: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        spec = self.spec
        options = {keyword: self.loss_settings[name] for keyword, name in spec.options.items()}
        if spec.inputs == "unpaired+kl":
            return self._unpaired_loss(batch, split, logps, options)
        chosen, rejected = self._paired_values(batch, split, logps, counts)
        if spec.inputs == "paired+nll":
            out = spec.fn(chosen, rejected, self._chosen_nll(batch, logps, counts), **options)
            return out.losses.mean(), {**self._preference_metrics(out), "nll": out.nll.detach()}
        out = spec.fn(chosen, rejected, **options)
        return out.losses.mean(), self._preference_metrics(out)

    def _normalised(self, values: Tensor, counts: Tensor) -> Tensor:
        return values / counts.clamp_min(1) if self.spec.length_normalised else values

    def _paired_values(self, batch: dict, split: str, logps: Tensor, counts: Tensor) -> tuple[Tensor, Tensor]:
        """(chosen, rejected) per pair: log-ratios if the loss uses the reference, else the policy's own
        log-probs; length-averaged if the loss asks for it."""
        chosen_index = batch["targets"]["chosen"]
        logp_w, logp_l = pair_by_winner(logps, chosen_index)
        if self.spec.uses_reference:
            ref_w, ref_l = pair_by_winner(self.reference_logps(batch, split), chosen_index)
            logp_w, logp_l = logp_w - ref_w, logp_l - ref_l
        count_w, count_l = pair_by_winner(counts, chosen_index)
        return self._normalised(logp_w, count_w), self._normalised(logp_l, count_l)

    def _chosen_nll(self, batch: dict, logps: Tensor, counts: Tensor) -> Tensor:
        """The policy's NLL of each chosen response (no reference term), averaged as the loss asks."""
        chosen_index = batch["targets"]["chosen"]
        return -self._normalised(
            pair_by_winner(logps, chosen_index)[0], pair_by_winner(counts, chosen_index)[0]
        )

    def _mismatched_kl(self, batch: dict) -> Tensor:
        """The batch's KL(π‖π_ref) estimate on (prompt, other row's response) sequences, mean over ranks."""
        tokenizer = tokenizer_of(self.processor)
        mismatched = rotate_responses(batch, tokenizer.pad_token_id, tokenizer.padding_side)
        with torch.no_grad():
            kl = (
                self.response_logprobs(self.policy, mismatched)[0] - self._live_reference_logps(mismatched)
            ).mean()
            if self._trainer is not None and self.trainer.world_size > 1:
                kl = self.trainer.strategy.reduce(kl, reduce_op="mean")
        return kl

    def _unpaired_loss(
        self, batch: dict, split: str, logps: Tensor, options: dict[str, float]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Each pair as one desirable (its chosen response) and one undesirable example."""
        chosen_index = batch["targets"]["chosen"]
        desirable = torch.cat([chosen_index == 0, chosen_index == 1])  # rows: first responses, then second
        kl = self._mismatched_kl(batch)
        out = self.spec.fn(logps, self.reference_logps(batch, split), desirable, kl, **options)
        metrics = {
            "rewards/chosen": out.rewards[desirable],
            "rewards/rejected": out.rewards[~desirable],
            "rewards/accuracies": out.accuracies,
            "kl": kl,
        }
        return out.losses.mean(), metrics

    @staticmethod
    def _preference_metrics(out: PreferenceOutput) -> dict[str, Tensor]:
        return {
            "rewards/chosen": out.rewards_chosen,
            "rewards/rejected": out.rewards_rejected,
            "rewards/margins": out.margins,
            "rewards/accuracies": out.accuracies,
        }

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        loss, metrics = self._loss(batch, "train")
        self.log_metrics("train", {"loss": loss, **metrics}, batch["targets"]["chosen"].shape[0])
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> Tensor:
        loss, metrics = self._loss(batch, "val")
        self.log_metrics("val", {"loss": loss, **metrics}, batch["targets"]["chosen"].shape[0])
        return loss


def _part_margins(parts: dict[str, tuple[Tensor, Tensor]], chosen_index: Tensor) -> dict[str, Tensor]:
    """Per modality of interleaved responses: the policy's chosen-minus-rejected summed log-prob per pair,
    and how often it is positive (which part of the response the policy has learnt to prefer)."""
    metrics = {}
    for name, (logps, _) in parts.items():
        winner, loser = pair_by_winner(logps, chosen_index)
        metrics[f"logps/{name}/margins"] = (winner - loser).detach()
        metrics[f"logps/{name}/accuracies"] = (winner > loser).float()
    return metrics
