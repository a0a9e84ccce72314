"""The reference-policy component every objective shares (`omnialign.alignment.reference`): its settings
checks, the frozen copy, which network runs as the reference, and what is dropped from checkpoints."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import torch
from torch import nn

from omnialign.alignment.reference import ReferencePolicy, drop_rebuilt


@pytest.mark.parametrize(
    "policy, has_lora, message",
    [
        (ReferencePolicy("adapters"), False, "needs LoRA"),
        (ReferencePolicy("adapters", "bfloat16"), True, "reference_dtype"),
        (ReferencePolicy("frozen", "float64"), False, "reference_dtype"),
        (ReferencePolicy("precomputed"), False, "'frozen' or 'adapters'"),  # type: ignore[arg-type]
    ],
)
def test_settings_that_cannot_work_are_errors(policy, has_lora, message):
    with pytest.raises(ValueError, match=message):
        policy.check(has_lora)


def test_a_frozen_copy_is_frozen_and_in_its_dtype_and_adapters_build_none():
    built = ReferencePolicy("frozen", "bfloat16").frozen_copy(lambda: nn.Linear(2, 2))
    assert not built.training
    assert {(p.dtype, p.requires_grad) for p in built.parameters()} == {(torch.bfloat16, False)}
    assert ReferencePolicy("adapters").frozen_copy(lambda: nn.Linear(2, 2)) is None


class _PeftLike(nn.Linear):
    """peft's `PeftModel.disable_adapter()` is a context manager."""

    def __init__(self) -> None:
        super().__init__(2, 2)
        self.adapters_on = True

    @contextmanager
    def disable_adapter(self):
        self.adapters_on = False
        try:
            yield
        finally:
            self.adapters_on = True


class _DiffusersLike(nn.Linear):
    """diffusers' `PeftAdapterMixin` switches adapters with two calls."""

    def __init__(self) -> None:
        super().__init__(2, 2)
        self.adapters_on = True

    def disable_adapters(self) -> None:
        self.adapters_on = False

    def enable_adapters(self) -> None:
        self.adapters_on = True


@pytest.mark.parametrize("trained", [_PeftLike(), _DiffusersLike()], ids=["peft", "diffusers"])
def test_the_adapters_reference_is_the_trained_network_with_adapters_off_then_on_again(trained):
    with (
        pytest.raises(RuntimeError, match="boom"),
        ReferencePolicy("adapters").network(None, trained) as reference,
    ):
        assert reference is trained and not trained.adapters_on
        assert not torch.is_grad_enabled()
        raise RuntimeError("boom")
    assert trained.adapters_on


def test_the_frozen_reference_runs_the_copy_and_must_have_been_built():
    frozen, trained = nn.Linear(2, 2), nn.Linear(2, 2)
    with ReferencePolicy("frozen").network(frozen, trained) as reference:
        assert reference is frozen
    with pytest.raises(RuntimeError, match="not built"), ReferencePolicy("frozen").network(None, trained):
        pass


def test_rebuilt_weights_are_dropped_from_a_state_dict_and_nothing_else():
    state = {"reference.w": 1, "policy.w": 2, "diffusion.vae.w": 3, "policy.reference.w": 4}
    drop_rebuilt(state, ("reference.", "diffusion.vae."))
    assert state == {"policy.w": 2, "policy.reference.w": 4}
