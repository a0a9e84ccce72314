"""The optimiser a config names is built as written, except that Adam/AdamW left to torch's choice of
implementation run on the fused kernel (torch's CPU default is a per-tensor loop, ~6x slower)."""

from __future__ import annotations

import functools
import json

import pytest
import torch

from omnialign.alignment.optim import build_optimizer


def _params(seed: int = 0) -> list[torch.nn.Parameter]:
    torch.manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(7, 5)), torch.nn.Parameter(torch.randn(5))]


def _implementation(optimizer: torch.optim.Optimizer) -> tuple:
    return tuple((g["fused"], g["foreach"]) for g in optimizer.param_groups)


@pytest.mark.parametrize("kind", [torch.optim.Adam, torch.optim.AdamW])
def test_adam_left_open_runs_fused_with_the_configured_options(kind):
    factory = functools.partial(kind, lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True)
    optimizer = build_optimizer(factory, _params())
    assert type(optimizer) is kind
    assert _implementation(optimizer) == ((True, None),)
    group = optimizer.param_groups[0]
    assert (group["lr"], group["betas"], group["weight_decay"], group["amsgrad"]) == (
        0.01,
        (0.8, 0.9),
        0.1,
        True,
    )


def test_fused_steps_match_the_loop_implementation():
    """Three steps with the same gradients land on the same parameters (to float rounding)."""
    results = []
    for make in (build_optimizer, lambda factory, params: factory(params)):
        params = _params()
        optimizer = make(functools.partial(torch.optim.AdamW, lr=0.05, weight_decay=0.01), params)
        for step in range(3):
            for i, p in enumerate(params):
                p.grad = torch.full_like(p, 0.1 * (step + 1) * (i + 1)) - p.detach()
            optimizer.step()
        results.append([p.detach().clone() for p in params])
    fused, loop = results
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(fused, loop, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(fused, _params(), strict=True)), "the steps moved them"


@pytest.mark.parametrize(
    "factory, expected",
    [
        (functools.partial(torch.optim.AdamW, lr=0.01, foreach=True), ((None, True),)),
        (functools.partial(torch.optim.AdamW, lr=0.01, foreach=False), ((None, False),)),
        (functools.partial(torch.optim.AdamW, lr=0.01, fused=False), ((False, None),)),
    ],
)
def test_an_implementation_the_config_names_is_kept(factory, expected):
    assert _implementation(build_optimizer(factory, _params())) == expected


def test_other_optimizers_and_deepspeed_are_left_alone():
    sgd = build_optimizer(functools.partial(torch.optim.SGD, lr=0.1), _params())
    assert type(sgd) is torch.optim.SGD and sgd.param_groups[0]["foreach"] is None
    adam = build_optimizer(functools.partial(torch.optim.AdamW, lr=0.1), _params(), allow_fused=False)
    assert _implementation(adam) == ((None, None),)
    integer = [torch.nn.Parameter(torch.randn(3).to(torch.int64), requires_grad=False)]
    assert _implementation(build_optimizer(functools.partial(torch.optim.AdamW), integer)) == ((None, None),)


def test_a_training_module_builds_a_fused_adamw(tmp_path):
    """Through Lightning: the SFT module's configured AdamW is fused on CPU and steps."""
    from lightning.pytorch import Trainer

    from omnialign.alignment.modules.sft import SFTModule
    from omnialign.data.datamodules import SFTDataModule
    from omnialign.models.backbone import BackboneOptions

    rows = tmp_path / "sft.jsonl"
    rows.write_text(
        "".join(json.dumps({"prompt": f"say {i}", "response": f"{i} said"}) + "\n" for i in range(4))
    )
    module = SFTModule(
        backbone=BackboneOptions(name="tiny:llama"),
        optimizer=functools.partial(torch.optim.AdamW, lr=1e-3),
    )
    data = SFTDataModule(train_files=[str(rows)], batch_size=2)
    trainer = Trainer(
        accelerator="cpu",
        max_steps=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, data)
    (optimizer,) = trainer.optimizers
    assert _implementation(optimizer) == ((True, None),)
    assert trainer.global_step == 1
