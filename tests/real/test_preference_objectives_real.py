"""Reward, cost and DPO on the real SmolLM2-135M-Instruct learn planted properties of
omnialign.data.fixtures.disclosure from their shipped recipes, and carry them to held-out pairs whose items,
phrasings and templates training never saw: reward and DPO the lookup pairs (the asked item's value, not the
other item's: same template, same length), cost the leak-vs-refusal pairs of private questions.

Bars: at least 80% of the held-out pairs ordered right, and a fair coin reaching that count has probability
under 1e-3 (computed, not assumed). Length carries no signal (checked here in tokens), so only the property
itself clears the bar. The full comparison (more pairs,
SimPO and KTO, judged generations, KL to the base) is bench/real/preference_objectives.py, results in
BENCHMARKS.md.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from omnialign.alignment.cli import OmniAlignCLI
from omnialign.data.fixtures import disclosure as d

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "smollm2" / "disclosure"
TRAIN, VAL = 64, 64  # examples; the cost files hold the private half of each
REWARD_TRAIN = d.TRAIN_SIZE  # the recipe's 768 lookup pairs
BAR = 0.8


def coin_tail(hits: int, total: int) -> float:
    """P(Binomial(total, 1/2) >= hits)."""
    return sum(math.comb(total, k) for k in range(hits, total + 1)) / 2**total


def assert_beats_chance(hits: int, total: int) -> None:
    assert hits / total >= BAR, f"{hits}/{total} held-out pairs ordered right"
    assert coin_tail(hits, total) < 1e-3


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("disclosure")
    d.write_dataset(root, {"train": TRAIN, "val": VAL}, seed=1)
    return root


@pytest.fixture(scope="module")
def lookup_data(tmp_path_factory) -> Path:
    """The reward recipe's amount of lookup data: it needs the 768 pairs (64 or 256 stay near chance)."""
    root = tmp_path_factory.mktemp("disclosure-768")
    d.write_dataset(root, {"train": REWARD_TRAIN, "val": VAL}, seed=1)
    return root


def recipe(name: str, data: Path, kind: str, root: Path, batch_size: int = 4) -> OmniAlignCLI:
    """The shipped recipe on this test's data, no logs or checkpoints."""
    return OmniAlignCLI(
        args=[
            "--config",
            str(CONFIGS / f"{name}.yaml"),
            f"--data.init_args.train_files=[{data / 'train' / kind}.jsonl]",
            f"--data.init_args.val_files=[{data / 'val' / kind}.jsonl]",
            f"--data.init_args.batch_size={batch_size}",
            f"--trainer.default_root_dir={root}",
            "--trainer.logger=false",
            "--trainer.enable_checkpointing=false",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
            "--trainer.callbacks=[]",
            "--trainer.num_sanity_val_steps=0",
        ],
        run=False,
    )


def test_no_length_or_direction_shortcut_in_tokens(smollm2):
    tokenizer = smollm2[0]
    for split in ("train", "val"):
        examples = d.make_examples(split, 200, seed=1)
        tokens = [(tokenizer(e.preferred).input_ids, tokenizer(e.dispreferred).input_ids) for e in examples]
        assert 0.4 <= d.length_shortcut_accuracy(tokens) <= 0.6
        safe_vs_leak = [(tokenizer(e.refusal).input_ids, tokenizer(e.answer).input_ids) for e in examples]
        assert 0.35 <= d.length_shortcut_accuracy(safe_vs_leak) <= 0.65
        assert sum(e.preferred == e.refusal for e in examples) == 100
        lookup = [(tokenizer(e.answer).input_ids, tokenizer(e.wrong_answer).input_ids) for e in examples]
        assert 0.4 <= d.length_shortcut_accuracy(lookup) <= 0.6


@pytest.mark.heavy
def test_reward_model_orders_held_out_lookup_pairs(lookup_data, tmp_path):
    """The recipe as shipped (768 pairs, batch 8, lr 1e-4, one epoch; about 12 minutes on 2 cores)."""
    cli = recipe("reward", lookup_data, "lookup", tmp_path, batch_size=8)
    cli.trainer.fit(cli.model, cli.datamodule)  # validates once, after the epoch
    total = cli.datamodule.num_samples("val")
    assert_beats_chance(round(cli.trainer.callback_metrics["val/accuracy"] * total), total)


@pytest.mark.heavy
def test_cost_model_orders_held_out_pairs(data, tmp_path):
    cli = recipe("cost", data, "cost", tmp_path)
    cli.trainer.fit(cli.model, cli.datamodule)  # validates once, after the epoch
    metrics = cli.trainer.callback_metrics
    total = cli.datamodule.num_samples("val")
    assert_beats_chance(round(metrics["val/accuracy"] * total), total)
    assert metrics["val/sign_accuracy"] >= BAR  # C > 0 exactly for the leaks, on most held-out responses


@pytest.mark.heavy
def test_dpo_raises_held_out_implicit_reward_accuracy(data, tmp_path):
    """The recipe's reference is the untrained policy (precomputed), so the validation `rewards/accuracies`
    after the epoch is the share of held-out pairs where log π/π_base favours the preferred response; it
    starts at 0 (every margin is exactly 0 before training)."""
    cli = recipe("dpo", data, "lookup", tmp_path)
    cli.trainer.fit(cli.model, cli.datamodule)
    metrics = cli.trainer.callback_metrics
    total = cli.datamodule.num_samples("val")
    assert_beats_chance(round(float(metrics["val/rewards/accuracies"]) * total), total)
    assert metrics["val/rewards/margins"] > 0
