"""Training the prompt refiner on its own best-of-N data raises the judged score on held-out prompts.

Planted setting: a rule-based judge scores a rewrite by how often it contains `vide` (a token of the tiny
tokenizer, as in "video"); the untrained tiny:llama refiner writes it in about 5% of its rewrites. Best-of-N
(N = 8) over 256 training prompts keeps the best rewrite (SFT) and best-vs-worst (DPO); prompts whose 8
rewrites all score the same are skipped. The held-out score is the mean judged score of one rewrite per
prompt over 32 unseen prompts and 4 sampling seeds, through the same `refine` pipeline the app runs.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch
from lightning.pytorch import LightningDataModule, seed_everything
from quiet_trainer import quiet_trainer

from omnialign.alignment.modules.base import PolicyModule
from omnialign.alignment.modules.dpo import DPOModule
from omnialign.alignment.modules.sft import SFTModule
from omnialign.data.datamodules import SFTDataModule
from omnialign.data.datamodules.preference import PreferenceDataModule
from omnialign.models.backbone import BackboneOptions
from omnialign.models.generation.text import GenerationOptions, TextGenerator
from omnialign.pipelines.prompt_refinement import (
    BestOfNWriter,
    KeywordJudge,
    PromptRefinement,
    Refiner,
    UserPrompt,
)
from omnialign.pipelines.prompt_refinement.best_of_n import PREFERENCE_FILE, SFT_FILE

WORDS = ("the", "a", "river", "cat", "blue", "quietly", "builds", "under", "light", "seven", "over", "map")
INSTRUCTION = "Rewrite: "
GENERATION = GenerationOptions(max_new_tokens=12)
JUDGE = KeywordJudge("vide")


def prompts(count: int, seed: int, tag: str) -> list[UserPrompt]:
    rng = np.random.default_rng(seed)
    return [UserPrompt(f"{tag}{i}", " ".join(rng.choice(WORDS, 5))) for i in range(count)]


HELD_OUT = prompts(32, seed=1, tag="held")


def held_out_score(refiner: Refiner, folder) -> float:
    runs = [PromptRefinement(refiner, JUDGE, folder / f"seed{s}", batch_size=16, seed=s) for s in range(4)]
    return float(np.mean([run.run(HELD_OUT).mean_after for run in runs]))


@pytest.fixture(scope="module")
def best_of_n(tmp_path_factory):
    """The best-of-N data and the untrained refiner's held-out score."""
    root = tmp_path_factory.mktemp("planted")
    refiner = Refiner.load("tiny:llama", GENERATION, INSTRUCTION)
    with_one_thread(
        lambda: BestOfNWriter(refiner, JUDGE, root / "data", num_candidates=8, batch_size=16).run(
            prompts(256, seed=0, tag="train")
        )
    )
    return root, with_one_thread(lambda: held_out_score(refiner, root / "before"))


def with_one_thread(run):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run()
    finally:
        torch.set_num_threads(threads)


def train(module: PolicyModule, data: LightningDataModule, epochs: int, root) -> Refiner:
    seed_everything(0)
    quiet_trainer(
        max_epochs=epochs,
        default_root_dir=root,
    ).fit(module, datamodule=data)
    return Refiner(TextGenerator(module.policy.eval(), module.processor, GENERATION), "trained", INSTRUCTION)


def test_sft_on_the_best_rewrites_raises_the_held_out_score(best_of_n):
    root, before = best_of_n
    module = SFTModule(
        backbone=BackboneOptions(name="tiny:llama"), optimizer=partial(torch.optim.AdamW, lr=3e-3)
    )
    data = SFTDataModule([str(root / "data" / SFT_FILE)], batch_size=8, max_length=64)
    after = held_out_score(train(module, data, epochs=4, root=root / "sft"), root / "sft_after")
    print(f"SFT: held-out judged score {before:.3f} -> {after:.3f}")
    assert after > before + 0.3


def test_dpo_on_best_vs_worst_raises_the_held_out_score(best_of_n):
    root, before = best_of_n
    module = DPOModule(
        backbone=BackboneOptions(name="tiny:llama"),
        beta=0.5,
        reference="frozen",
        optimizer=partial(torch.optim.AdamW, lr=3e-3),
    )
    data = PreferenceDataModule(
        train_files=[str(root / "data" / PREFERENCE_FILE)], schema="preference", batch_size=8, max_length=64
    )
    after = held_out_score(train(module, data, epochs=8, root=root / "dpo"), root / "dpo_after")
    print(f"DPO: held-out judged score {before:.3f} -> {after:.3f}")
    assert after > before + 0.3
