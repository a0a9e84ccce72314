"""DPO throughput and peak memory: OmniAlign's DPOModule vs TRL's DPOTrainer, measured in the same run.

Same tiny random Llama-class model (built from one config and seed), same tokenizer and chat template, same
synthetic pairs, batch size, sequence lengths, optimiser and β, on CPU. Each framework runs in its own
subprocess so its peak resident memory (ru_maxrss) is its own. Throughput counts pairs per second over the
timed optimiser steps (after warm-up); "end to end" also counts the one-off reference pass where a variant
precomputes reference log-probs.

    uv run --group bench python bench/dpo_vs_trl.py            # prints a table
    uv run --group bench python bench/dpo_vs_trl.py --write    # also records it in BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
WORDS = tuple(
    [
        "the",
        "river",
        "light",
        "blue",
        "cat",
        "map",
        "seven",
        "builds",
        "under",
        "quietly",
        "over",
        "stone",
        "cloud",
        "apple",
        "bread",
        "milk",
        "fire",
        "rain",
        "snow",
        "tree",
        "fish",
        "bird",
        "star",
        "moon",
        "sun",
        "green",
        "red",
        "dog",
        "house",
        "road",
        "window",
        "paper",
        "music",
        "garden",
        "winter",
    ]
)
SETTINGS = {
    "pairs": 48,  # = (warmup + timed steps) x batch: one pass, so "end to end" counts every pair once
    "batch_size": 4,
    "warmup_steps": 2,
    "timed_steps": 10,
    "beta": 0.1,
    "lr": 1e-5,
    "max_length": 1024,
    "seed": 0,
    "threads": 2,
}
MODEL = {
    "hidden_size": 256,
    "intermediate_size": 688,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "vocab_size": 32000,
}


def synthetic_pairs(n: int, seed: int) -> list[dict[str, str]]:
    """Prompts of 16-64 words, responses of 8-48 words: lengths vary as in real preference data."""
    rng = random.Random(seed)

    def text(lo: int, hi: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))

    return [{"prompt": text(16, 64), "chosen": text(8, 48), "rejected": text(8, 48)} for _ in range(n)]


def build_model_and_tokenizer():
    from transformers import LlamaConfig, LlamaForCausalLM

    from omnialign.models.tiny_tokenizer import build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer()
    config = LlamaConfig(
        **MODEL,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.pad_token_id,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
    )
    torch.manual_seed(SETTINGS["seed"])
    return LlamaForCausalLM(config), tokenizer


class StepClock:
    """Wall time from the start of step `warmup` to the end of step `warmup + timed - 1`."""

    def __init__(self, warmup: int, timed: int) -> None:
        self.warmup, self.timed = warmup, timed
        self.start = self.end = None

    def step_begin(self, step: int) -> None:
        if step == self.warmup:
            self.start = time.perf_counter()

    def step_end(self, step: int) -> None:
        if step == self.warmup + self.timed - 1:
            self.end = time.perf_counter()

    @property
    def seconds(self) -> float:
        return self.end - self.start


def run_omnialign(workdir: Path, pairs: list[dict[str, str]], packing: bool) -> dict:
    from lightning.pytorch import Callback, Trainer

    from omnialign.alignment.modules.dpo import DPOModule
    from omnialign.data.datamodules.preference import PreferenceDataModule

    path = workdir / "pairs.jsonl"
    with path.open("w") as f:
        for p in pairs:
            row = {
                "prompt": p["prompt"],
                "response_0": p["chosen"],
                "response_1": p["rejected"],
                "better_response_id": 0,
                "safer_response_id": 0,
                "is_response_0_safe": True,
                "is_response_1_safe": True,
            }
            f.write(json.dumps(row) + "\n")
    model, _ = build_model_and_tokenizer()
    module = DPOModule(
        beta=SETTINGS["beta"],
        reference="precomputed",
        optimizer=lambda params: torch.optim.AdamW(params, lr=SETTINGS["lr"]),
    )
    module.policy = model  # the shared benchmark model instead of a named backbone
    data = PreferenceDataModule(
        [str(path)],
        schema="pku-saferlhf",
        dimension="better",
        batch_size=SETTINGS["batch_size"],
        packing=packing,
        max_length=SETTINGS["max_length"],
    )
    clock = StepClock(SETTINGS["warmup_steps"], SETTINGS["timed_steps"])

    class Timing(Callback):
        def on_fit_start(self, trainer, pl_module):
            self.fit_start = time.perf_counter()

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            clock.step_begin(trainer.global_step)

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            clock.step_end(trainer.global_step - 1)

    timing = Timing()
    trainer = Trainer(
        accelerator="cpu",
        max_steps=SETTINGS["warmup_steps"] + SETTINGS["timed_steps"],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timing],
        default_root_dir=workdir,
    )
    trainer.fit(module, datamodule=data)
    total = time.perf_counter() - timing.fit_start
    return {"timed_seconds": clock.seconds, "end_to_end_seconds": total}


def run_trl(workdir: Path, pairs: list[dict[str, str]], precompute: bool) -> dict:
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import DPOConfig, DPOTrainer

    model, tokenizer = build_model_and_tokenizer()
    reference = None if precompute else build_model_and_tokenizer()[0]  # same seed: identical weights
    rows = [
        {
            "prompt": [{"role": "user", "content": p["prompt"]}],
            "chosen": [{"role": "assistant", "content": p["chosen"]}],
            "rejected": [{"role": "assistant", "content": p["rejected"]}],
        }
        for p in pairs
    ]
    clock = StepClock(SETTINGS["warmup_steps"], SETTINGS["timed_steps"])

    class Timing(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            clock.step_begin(state.global_step)

        def on_step_end(self, args, state, control, **kwargs):
            clock.step_end(state.global_step - 1)

    config = DPOConfig(
        output_dir=str(workdir / "trl"),
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        per_device_train_batch_size=SETTINGS["batch_size"],
        max_length=SETTINGS["max_length"],
        beta=SETTINGS["beta"],
        learning_rate=SETTINGS["lr"],
        lr_scheduler_type="constant",
        max_steps=SETTINGS["warmup_steps"] + SETTINGS["timed_steps"],
        logging_steps=10_000,
        save_strategy="no",
        report_to=[],
        seed=SETTINGS["seed"],
        dataloader_num_workers=0,
        precompute_ref_log_probs=precompute,
        disable_tqdm=True,
    )
    trainer = DPOTrainer(
        model=model,
        ref_model=reference,
        args=config,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        callbacks=[Timing()],
    )
    start = time.perf_counter()
    trainer.train()
    return {"timed_seconds": clock.seconds, "end_to_end_seconds": time.perf_counter() - start}


VARIANTS = {
    "omnialign (precomputed reference)": lambda d, p: run_omnialign(d, p, packing=False),
    "omnialign (precomputed reference, packed)": lambda d, p: run_omnialign(d, p, packing=True),
    "trl DPOTrainer (live reference, default)": lambda d, p: run_trl(d, p, precompute=False),
    "trl DPOTrainer (precompute_ref_log_probs)": lambda d, p: run_trl(d, p, precompute=True),
}


def shrink_for_smoke_run() -> None:
    """`--quick`: exercise every code path of the harness in seconds; the numbers mean nothing."""
    SETTINGS.update(pairs=4, batch_size=2, warmup_steps=1, timed_steps=1)
    MODEL.update(hidden_size=64, intermediate_size=128, num_hidden_layers=1, vocab_size=512)


def child(variant: str, quick: bool) -> None:
    if quick:
        shrink_for_smoke_run()
    torch.set_num_threads(SETTINGS["threads"])
    pairs = synthetic_pairs(SETTINGS["pairs"], SETTINGS["seed"])
    with tempfile.TemporaryDirectory() as tmp:
        result = VARIANTS[variant](Path(tmp), pairs)
    timed_pairs = SETTINGS["timed_steps"] * SETTINGS["batch_size"]
    steps = SETTINGS["warmup_steps"] + SETTINGS["timed_steps"]
    result |= {
        "variant": variant,
        "pairs_per_second": timed_pairs / result["timed_seconds"],
        "end_to_end_pairs_per_second": steps * SETTINGS["batch_size"] / result["end_to_end_seconds"],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print("RESULT " + json.dumps(result))


def measure(variant: str, quick: bool) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(SETTINGS["threads"]), "TOKENIZERS_PARALLELISM": "false"}
    extra = ["--quick"] if quick else []
    out = subprocess.run(
        [sys.executable, __file__, "--child", variant, *extra],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{variant} failed:\n{out.stderr[-4000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def table(results: list[dict]) -> str:
    base = next(r for r in results if r["variant"].startswith("trl") and "default" in r["variant"])
    lines = [
        "| variant | pairs/s (timed steps) | vs TRL default | pairs/s end to end | peak RSS (MiB) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['variant']} | {r['pairs_per_second']:.2f} | "
            f"{r['pairs_per_second'] / base['pairs_per_second']:.2f}x | "
            f"{r['end_to_end_pairs_per_second']:.2f} | {r['peak_rss_mib']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--write", action="store_true", help="record the table in BENCHMARKS.md")
    parser.add_argument(
        "--quick", action="store_true", help="tiny smoke run of the harness (not a measurement)"
    )
    args = parser.parse_args()
    if args.child:
        child(args.child, args.quick)
        return
    if args.quick and args.write:
        parser.error("--quick results are not measurements; they are never written")
    if args.quick:
        shrink_for_smoke_run()
    results = [measure(v, args.quick) for v in VARIANTS]
    import trl
    from record import publish  # bench/ is this script's folder, first on sys.path

    details = f"trl {trl.__version__}. Model: Llama-class {MODEL}; {SETTINGS}."
    publish("DPO: OmniAlign vs TRL", "DPO", SETTINGS["threads"], details, table(results), args.write)


if __name__ == "__main__":
    main()
