"""Interleaved-DPO throughput (text + image responses) next to any->text DPO, measured in the same run.

The tiny any-to-any models (`tiny:janus`, `tiny:emu3`, `tiny:chameleon`: the same 2-layer, hidden-64 language
model as `tiny:llama`, plus their VQ tokenizers and, for Janus, a SigLIP tower) train DPO on align-anything
text+image -> text+image pairs (a text part and one 32 px image written as 16 VQ codes per response; each
prompt carries an image too). The any->text figures: `tiny:llama` on align-anything text->text pairs, and
`tiny:janus` on text+image->text pairs (the same model writing text only). Same module (DPOModule with
a precomputed reference), batch size, optimiser and step counts; each variant runs in its own subprocess.
Pairs/s counts the timed optimiser steps after warm-up, best of `ROUNDS` runs per variant (variants take
turns, so a busy spell on a shared machine slows one run, not one variant); tokens/pair is the mean length
of the two sequences of a pair, so the per-token cost can be compared too.

    uv run python bench/any_to_any_dpo.py            # prints a table
    uv run python bench/any_to_any_dpo.py --write    # also records it in BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"pairs": 48, "batch_size": 4, "warmup_steps": 2, "timed_steps": 10, "lr": 1e-4, "threads": 2}
ROUNDS = 2
VARIANTS = {
    "any->text DPO (tiny:llama, text->text)": ("tiny:llama", "align-anything/text-to-text"),
    "any->text DPO (tiny:janus, text+image->text)": ("tiny:janus", "align-anything/text-image-to-text"),
    "interleaved DPO (tiny:janus)": ("tiny:janus", "align-anything/text-image-to-text-image"),
    "interleaved DPO (tiny:emu3)": ("tiny:emu3", "align-anything/text-image-to-text-image"),
    "interleaved DPO (tiny:chameleon)": ("tiny:chameleon", "align-anything/text-image-to-text-image"),
}


def run(variant: str, workdir: Path) -> dict:
    from lightning.pytorch import Callback, Trainer, seed_everything

    from omnialign.alignment.modules.dpo import DPOModule
    from omnialign.data.datamodules.preference import PreferenceDataModule
    from omnialign.data.fixtures import write_fixture
    from omnialign.models.backbone import BackboneOptions

    name, schema = VARIANTS[variant]
    seed_everything(0)
    fixture = write_fixture(workdir, schema, rows=SETTINGS["pairs"], seed=0)
    data = PreferenceDataModule([str(fixture.path)], schema=schema, batch_size=SETTINGS["batch_size"])
    module = DPOModule(
        backbone=BackboneOptions(name=name),
        reference="precomputed",
        optimizer=lambda params: torch.optim.AdamW(params, lr=SETTINGS["lr"]),
    )
    times: dict[int, float] = {}
    tokens: list[int] = []

    class Timing(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            times.setdefault(trainer.global_step, time.perf_counter())
            tokens.append(int(batch["attention_mask"].sum()))

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            times[-trainer.global_step] = time.perf_counter()  # end of step global_step - 1

    steps = SETTINGS["warmup_steps"] + SETTINGS["timed_steps"]
    Trainer(
        accelerator="cpu",
        max_steps=steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[Timing()],
        default_root_dir=workdir,
    ).fit(module, datamodule=data)
    seconds = times[-steps] - times[SETTINGS["warmup_steps"]]
    return {
        "variant": variant,
        "pairs_per_second": SETTINGS["timed_steps"] * SETTINGS["batch_size"] / seconds,
        "tokens_per_pair": sum(tokens) / len(tokens) / SETTINGS["batch_size"] / 2,
    }


def shrink_for_smoke_run() -> None:
    """`--quick`: exercise every variant in seconds; the numbers mean nothing."""
    SETTINGS.update(pairs=4, batch_size=2, warmup_steps=1, timed_steps=1)


def child(variant: str, quick: bool) -> None:
    if quick:
        shrink_for_smoke_run()
    torch.set_num_threads(SETTINGS["threads"])
    with tempfile.TemporaryDirectory() as tmp:
        print("RESULT " + json.dumps(run(variant, Path(tmp))))


def measure(variant: str, quick: bool) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(SETTINGS["threads"]), "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, __file__, "--child", variant, *(["--quick"] if quick else [])]
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{variant} failed:\n{out.stderr[-4000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def table(results: list[dict]) -> str:
    base = results[0]
    lines = ["| variant | pairs/s | vs any->text | tokens/pair |", "|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r['variant']} | {r['pairs_per_second']:.1f} | "
            f"{r['pairs_per_second'] / base['pairs_per_second']:.2f}x | {r['tokens_per_pair']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--write", action="store_true", help="record the table in BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="smoke run of the harness (not a measurement)")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.quick)
        return
    if args.quick and args.write:
        parser.error("--quick results are not measurements; they are never written")
    if args.quick:
        shrink_for_smoke_run()
    runs = [measure(variant, args.quick) for _ in range(1 if args.quick else ROUNDS) for variant in VARIANTS]
    results = [
        max((r for r in runs if r["variant"] == variant), key=lambda r: r["pairs_per_second"])
        for variant in VARIANTS
    ]
    from record import publish  # bench/ is this script's folder, first on sys.path

    details = f"{SETTINGS}, best of {ROUNDS} runs."
    publish(
        "Any-to-any: interleaved DPO throughput",
        "Interleaved DPO",
        SETTINGS["threads"],
        details,
        table(results),
        args.write,
    )


if __name__ == "__main__":
    main()
