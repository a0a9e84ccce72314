"""The trained policy's current weights as a stream of `(name, full tensor)`, named as the plain transformers
model names them: what an inference engine's loader (vLLM's `load_weights`) reads from a checkpoint.

LoRA adapters are merged into the base weights for the stream and unmerged after it, so the engine samples
from exactly the policy being trained without knowing about peft. Under ZeRO-3 each weight is gathered only
while it is being read (all of them at once for a LoRA merge, which needs base and adapter together).
"""

from __future__ import annotations

from collections.abc import Iterator

from torch import Tensor, nn

from omnialign.models.generation.sharding import fsdp_sharded, gathered

PEFT_PREFIX = "base_model.model."


def is_peft_model(model: nn.Module) -> bool:
    return hasattr(model, "merge_adapter") and hasattr(model, "unmerge_adapter")


def base_name(peft_name: str) -> str | None:
    """The transformers name of a peft-wrapped weight, or None for adapter-only weights (`lora_A/B`, the
    original copy of a `modules_to_save` layer)."""
    if "lora_" in peft_name or ".original_module." in peft_name:
        return None
    name = peft_name.removeprefix(PEFT_PREFIX)
    return name.replace(".base_layer.", ".").replace(".modules_to_save.default.", ".")


def policy_weights(model: nn.Module) -> Iterator[tuple[str, Tensor]]:
    """Every weight of the policy, whole, under its transformers name (tied weights once)."""
    if fsdp_sharded(model):
        raise NotImplementedError(
            "streaming FSDP-sharded weights into a rollout engine is not supported; use DDP or DeepSpeed "
            "(ZeRO-2/3) with the vLLM backend, or HFGenerateBackend under FSDP"
        )
    if is_peft_model(model):
        yield from _merged_weights(model)
        return
    for name, param in model.named_parameters():
        with gathered([param]):
            yield name, param.data


def _merged_weights(model: nn.Module) -> Iterator[tuple[str, Tensor]]:
    with gathered(list(model.parameters())):
        model.merge_adapter()
        try:
            for peft_name, param in model.named_parameters():
                name = base_name(peft_name)
                if name is not None:
                    yield name, param.data
        finally:
            model.unmerge_adapter()
