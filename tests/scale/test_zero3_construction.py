"""Under ZeRO-3 the module registers the engine config with transformers before building networks, so
`from_pretrained` loads real weights into partitioned parameters; under any other strategy it does not."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from lightning.pytorch.strategies import DDPStrategy, DeepSpeedStrategy
from transformers.integrations.deepspeed import is_deepspeed_zero3_enabled, unset_hf_deepspeed_config

from omnialign.alignment.modules.sft import SFTModule

pytest.importorskip("deepspeed")


@pytest.fixture
def module():
    module = SFTModule()
    yield module
    unset_hf_deepspeed_config()  # never leak a ZeRO-3 flag into other tests


@pytest.mark.parametrize("stage,expected", [(3, True), (2, False)])
def test_zero3_is_announced_only_under_stage_3(module, stage, expected):
    module._trainer = SimpleNamespace(strategy=DeepSpeedStrategy(stage=stage))
    module.announce_sharded_construction()
    assert is_deepspeed_zero3_enabled() is expected


def test_nothing_is_announced_without_deepspeed(module):
    module._trainer = SimpleNamespace(strategy=DDPStrategy())
    module.announce_sharded_construction()
    assert not is_deepspeed_zero3_enabled()
