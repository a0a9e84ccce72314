"""What every objective's LightningModule shares: the processor, lazy network construction (so sharded
strategies build it in place), the optimiser and schedule, HF-format export, and metric logging.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.strategies import DeepSpeedStrategy
from transformers import PreTrainedModel

from omnialign.alignment.optim import ScheduleOptions, build_optimizer, build_schedule
from omnialign.data.collate import per_sequence_sum
from omnialign.data.datamodules.base import SampleDataModule
from omnialign.data.datamodules.contract import BatchContract
from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor
from omnialign.models.generation.logprobs import response_parts, response_token_logprobs


def disable_dropout(network: torch.nn.Module) -> None:
    """Zero every dropout probability of `network` in place, its config untouched (an export keeps the
    model's own settings): `nn.Dropout` modules, and the float rates attention layers apply functionally
    in train mode (`attention_dropout`, `dropout` attributes of transformers' attention classes)."""
    for module in network.modules():
        if isinstance(module, torch.nn.modules.dropout._DropoutNd):
            module.p = 0.0
        for name in ("attention_dropout", "dropout"):
            if isinstance(getattr(module, name, None), float):
                setattr(module, name, 0.0)


def _adamw(params) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=1e-5, weight_decay=0.0)


class AlignmentModule(LightningModule):
    """Base of every objective. Subclasses build their networks in `configure_model`, which Lightning calls
    inside the strategy's context (DeepSpeed ZeRO-3, FSDP), so no rank materialises a full-size copy it does
    not need; the processor is built at construction because the datamodule needs it in `setup`."""

    def __init__(
        self,
        backbone: BackboneOptions | None = None,
        optimizer: OptimizerCallable = _adamw,
        schedule: ScheduleOptions | None = None,
        dropout: bool = False,
    ) -> None:
        """
        Args:
            dropout: Train with the networks' dropout on. Off by default, as TRL does for its preference and
                RL trainers: the policy's log-probs are compared with a reference's (and with its own at
                rollout time), so both must be computed the same way; training is then deterministic too.
        """
        super().__init__()
        self.backbone_options = backbone or BackboneOptions()
        self.optimizer_factory = optimizer
        self.schedule = schedule or ScheduleOptions()
        self.dropout = dropout
        self.processor = self.build_processor()

    def build_processor(self):
        """What the datamodule encodes with; objectives whose networks are not causal LMs override it."""
        return load_processor(self.backbone_options)

    def datamodule(self) -> SampleDataModule | None:
        """The fitted OmniAlign datamodule, or None (no trainer yet, or batches from plain dataloaders)."""
        data = self._trainer.datamodule if self._trainer is not None else None
        return data if isinstance(data, SampleDataModule) else None

    def batch_contract(self) -> BatchContract:
        """What the datamodule promises about its batches (no promises for plain dataloaders)."""
        data = self.datamodule()
        return data.contract() if data is not None else BatchContract()

    def announce_sharded_construction(self) -> None:
        """Under DeepSpeed ZeRO-3, register the engine config with transformers before any network is built.

        Lightning calls `configure_model` inside `deepspeed.zero.Init`, which partitions each parameter as it
        is created; `from_pretrained` only loads checkpoint weights into such partitioned parameters when
        transformers knows ZeRO-3 is on (`HfDeepSpeedConfig`, held alive by this module). Without it the
        partitions would keep their random initialisation.
        """
        trainer = self._trainer
        config = getattr(trainer.strategy, "config", None) if trainer is not None else None
        if config is None or not getattr(trainer.strategy, "zero_stage_3", False):
            return
        from transformers.integrations import HfDeepSpeedConfig

        self._hf_deepspeed_config = HfDeepSpeedConfig(config)

    def on_fit_start(self) -> None:
        """Set every network's mode on purpose: `from_pretrained` returns eval mode, a network built from a
        config comes in train mode, and Lightning keeps whatever it finds. Trained networks run in train mode
        (gradient checkpointing only runs in train mode), with their dropout switched off unless `dropout`;
        frozen ones (reference, scorers, frozen towers) run in eval mode."""
        for child in self.children():
            trained = any(p.requires_grad for p in child.parameters())
            child.train(trained)
            if trained and not self.dropout:
                disable_dropout(child)
        # frozen networks in eval mode are the choice here, not the accident Lightning warns about
        warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode at the start")

    def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure=None) -> None:
        """Free the gradients as soon as the optimiser has used them. Lightning zeroes them inside the next
        step's closure, after that step's forward, so a full parameter-sized set of gradients would sit beside
        the forward's activations: about 0.5 GB of peak memory for a fully trained 135M model. (With
        gradient accumulation this runs at accumulation boundaries only; DeepSpeed zeroes its own.)"""
        super().optimizer_step(epoch, batch_idx, optimizer, optimizer_closure)
        inner = getattr(optimizer, "optimizer", optimizer)  # Lightning wraps the torch optimiser
        if isinstance(inner, torch.optim.Optimizer):
            inner.zero_grad(set_to_none=True)

    def create_optimizer(
        self, factory: OptimizerCallable, params: list[torch.nn.Parameter]
    ) -> torch.optim.Optimizer:
        """`factory` over `params`, on torch's fused Adam kernel where the config leaves that open
        (`optim.build_optimizer`); not under DeepSpeed, whose engine steps its own flat partitions."""
        strategy = self._trainer.strategy if self._trainer is not None else None
        return build_optimizer(factory, params, allow_fused=not isinstance(strategy, DeepSpeedStrategy))

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = self.create_optimizer(self.optimizer_factory, params)
        total = int(self.trainer.estimated_stepping_batches)
        return {"optimizer": optimizer, "lr_scheduler": build_schedule(optimizer, self.schedule, total)}

    def log_metrics(self, prefix: str, metrics: dict[str, torch.Tensor], batch_size: int) -> None:
        """Log detached diagnostics under `prefix/`: per step in training, epoch means in evaluation."""
        on_step = prefix == "train"
        for name, value in metrics.items():
            self.log(
                f"{prefix}/{name}",
                value.detach().float().mean(),
                on_step=on_step,
                on_epoch=not on_step,
                prog_bar=name == "loss",
                batch_size=batch_size,
                sync_dist=not on_step,
            )

    def export_pretrained(self, directory: str | Path) -> Path:
        raise NotImplementedError


class PolicyModule(AlignmentModule):
    """Base for objectives that train one causal-LM-style policy (SFT, DPO family, RL)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.policy: PreTrainedModel | None = None

    def configure_model(self) -> None:
        if self.policy is None:
            self.announce_sharded_construction()
            self.policy = load_causal_lm(self.backbone_options, self.processor)

    def load_starting_policy(self) -> torch.nn.Module:
        """The backbone as training starts from it, without LoRA: what a frozen reference copies."""
        return load_causal_lm(
            BackboneOptions(**{**vars(self.backbone_options), "lora": None}), self.processor
        )

    def response_logprobs(self, model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed log-probs of each sequence's response tokens, and their count."""
        return self.response_logprobs_by_part(model, batch)[:2]

    def response_logprobs_by_part(
        self, model: torch.nn.Module, batch: dict
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, tuple[torch.Tensor, torch.Tensor]]]:
        """As `response_logprobs`, plus the same pair per modality of an interleaved response
        (`{"text": (logps, counts), "image": ...}`, empty for text-only batches), from the same forward."""
        per_token = response_token_logprobs(model, batch, code_cache=self.backbone_options.image_code_cache)
        parts = {
            name: (per_sequence_sum(per_token * mask, batch), per_sequence_sum(mask.float(), batch))
            for name, mask in response_parts(batch).items()
        }
        return per_sequence_sum(per_token, batch), per_sequence_sum(batch["response_mask"], batch), parts

    def export_pretrained(self, directory: str | Path) -> Path:
        """Write model and processor with `save_pretrained`; LoRA adapters are merged into a copy so the
        folder loads with plain `AutoModelForCausalLM.from_pretrained`, and are also written unmerged as a
        peft adapter folder in `<directory>/adapter` (`PeftModel.from_pretrained(base, that folder)`), the
        form adapter hubs, vLLM's LoRA serving and further fine-tuning take."""
        if self.policy is None:
            raise RuntimeError("the policy has not been built yet (configure_model was not called)")
        directory = Path(directory)
        model = self.policy
        if hasattr(model, "merge_and_unload"):
            model.save_pretrained(directory / "adapter")
            model = copy.deepcopy(model).merge_and_unload()
        model.save_pretrained(directory)
        self.processor.save_pretrained(directory)
        return directory
