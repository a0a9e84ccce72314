"""OmniAlign vs TRL, measured in the same run: DPO (live and precomputed reference), reward model, SFT and
GRPO, on a tiny random Llama and on the embedded SmolLM2-135M-Instruct, against TRL's default and its best CPU
configuration (bench/peer/trl_side.py says which that is and why). OmniAlign's DPO also runs with its two
padding-free batch layouts: `-pack` (packing: the 2B sequences in one row) and `-prefix` (shared_prefix: each
pair's prompt once, then both responses), the latter running fewer tokens through the network; its reward
model and GRPO run `-prefix` too (GRPO: each mini-batch's distinct prompts once in its log-prob passes), and
its SFT `-pack`, against TRL's own padding-free SFT (`-pf`).

Every variant runs in its own subprocess (its peak resident memory is its own), repeated `--repeats` times in
interleaved order (variant A, B, C, A, B, C, ...: drift in machine load hits every variant alike); tables give
the median and the min-max spread. Throughput counts the timed optimiser steps after warm-up; "end to end"
counts everything from before the model loads to the last step (loading, tokenising, reference precompute),
on both sides.

    uv run python bench/vs_trl.py                                  # all objectives, both models, 3 repeats
    uv run python bench/vs_trl.py --objectives dpo --models tiny   # a subset
    uv run python bench/vs_trl.py --objectives dpo --reference live  # one DPO reference mode
    uv run python bench/vs_trl.py --objectives dpo --only omnialign:live trl:live-best   # some variants
    uv run python bench/vs_trl.py --write                          # also record the tables in BENCHMARKS.md
    uv run python bench/vs_trl.py --quick                          # smoke run of the harness (no numbers)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / "runs" / "bench" / "models"
VARIANTS = {  # objective -> (side, variant); a DPO variant's reference mode is its first word
    "dpo": [  # OmniAlign's `pack`: padding-free packing; `prefix`: each pair's prompt once (shared prefix)
        ("omnialign", "live"),
        ("omnialign", "live-pack"),
        ("omnialign", "live-prefix"),
        ("trl", "live-default"),
        ("trl", "live-best"),
        ("trl", "live-best-nogc"),
        ("omnialign", "precomputed"),
        ("omnialign", "precomputed-pack"),
        ("omnialign", "precomputed-prefix"),
        ("trl", "precomputed-default"),
        ("trl", "precomputed-best"),
        ("trl", "precomputed-best-nogc"),
    ],
    "reward": [
        ("omnialign", "default"),
        ("omnialign", "default-prefix"),
        ("trl", "default"),
        ("trl", "default-nogc"),
    ],
    "sft": [  # `pack`: OmniAlign's packing; `pf`: TRL's padding_free; both flatten a batch into one row
        ("omnialign", "default"),
        ("omnialign", "default-pack"),
        ("trl", "default"),
        ("trl", "best"),
        ("trl", "best-nogc"),
        ("trl", "best-pf"),
        ("trl", "best-pf-nogc"),
    ],
    "grpo": [  # `prefix`: OmniAlign's log-prob passes run each mini-batch's distinct prompts once
        ("omnialign", "default"),
        ("omnialign", "default-prefix"),
        ("trl", "default"),
        ("trl", "best"),
        ("trl", "best-nogc"),
    ],
}
UNITS = {"dpo": "pairs", "reward": "pairs", "sft": "sequences", "grpo": "samples"}


def child(side: str, objective: str, variant: str, model: str, quick: bool) -> None:
    """Run one variant in this process and print its result line."""
    import torch
    from peer.workload import QUICK, WORKLOADS, model_folder

    workload = (QUICK if quick else WORKLOADS)[model]
    torch.set_num_threads(workload.threads)
    folder = model_folder(workload, MODELS_DIR)
    if side == "omnialign":
        from peer.omnialign_side import run
    else:
        from peer.trl_side import run
    with tempfile.TemporaryDirectory() as tmp:
        result = run(objective, variant, workload, folder, Path(tmp))
    if objective == "grpo":
        rollout = workload.prompts * workload.samples_per_prompt
        units = workload.rollouts_timed * rollout
        total = (workload.rollouts_warmup + workload.rollouts_timed) * rollout
    else:
        units, total = workload.timed_steps * workload.batch_size, workload.steps * workload.batch_size
    result |= {
        "per_second": units / result["timed_seconds"],
        "end_to_end_per_second": total / result["end_to_end_seconds"],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print("RESULT " + json.dumps(result))


def measure(side: str, objective: str, variant: str, model: str, quick: bool) -> dict:
    from peer.workload import WORKLOADS

    threads = str(WORKLOADS[model].threads)
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    env["TOKENIZERS_PARALLELISM"] = "false"
    args = [sys.executable, __file__, "--child", side, objective, variant, model]
    args += ["--quick"] if quick else []
    out = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{side} {objective} {variant} on {model} failed:\n{out.stderr[-4000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def spread(values: list[float], digits: int) -> str:
    """Median and [min-max] of the repeats."""
    median = statistics.median(values)
    if len(values) == 1:
        return f"{median:.{digits}f}"
    return f"{median:.{digits}f} [{min(values):.{digits}f}-{max(values):.{digits}f}]"


def peers_of(objective: str, variant: str, runs: dict) -> list[tuple[str, str]]:
    """The TRL variants an OmniAlign variant is compared with: for DPO, those in the same reference mode."""
    mode = variant.split("-")[0]
    return [k for k in runs if k[0] == "trl" and (objective != "dpo" or k[1].split("-")[0] == mode)]


def table(objective: str, runs: dict[tuple[str, str], list[dict]]) -> str:
    """One row per variant: medians and spreads, and OmniAlign's ratios to TRL's default and to its fastest
    variant measured (TRL best), with the peak memory ratio to that same variant."""
    unit = UNITS[objective]
    median = {key: statistics.median(r["per_second"] for r in rs) for key, rs in runs.items()}
    rss = {key: statistics.median(r["peak_rss_mib"] for r in rs) for key, rs in runs.items()}
    grpo = objective == "grpo"
    head = f"| variant | {unit}/s (timed steps) | {unit}/s end to end | peak RSS MiB |"
    head += " generated tokens/s | update samples/s |" if grpo else ""
    head += " vs TRL default | vs TRL best (fastest) | RSS vs TRL best |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for (side, variant), rs in runs.items():
        row = (
            f"| {side} {variant} | {spread([r['per_second'] for r in rs], 2)} | "
            f"{spread([r['end_to_end_per_second'] for r in rs], 2)} | "
            f"{spread([r['peak_rss_mib'] for r in rs], 0)} |"
        )
        if grpo:
            row += f" {spread([r['generated_tokens_per_s'] for r in rs], 1)} |"
            row += f" {spread([r['update_samples_per_s'] for r in rs], 2)} |"
        ratios = ["", "", ""]
        if side == "omnialign":
            peers = peers_of(objective, variant, runs)
            default = next((k for k in peers if k[1].endswith("default")), None)  # absent under --only
            best = max(peers, key=median.__getitem__)
            ratios = [
                f"{median[(side, variant)] / median[default]:.2f}x" if default else "not run",
                f"{median[(side, variant)] / median[best]:.2f}x",
                f"{rss[(side, variant)] / rss[best]:.2f}x",
            ]
        lines.append(row + "".join(f" {r} |" for r in ratios))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--objectives", nargs="+", choices=tuple(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--models", nargs="+", choices=("tiny", "smollm2"), default=["tiny", "smollm2"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--reference", choices=("live", "precomputed"), help="DPO: only this reference mode (both sides)"
    )
    parser.add_argument(
        "--only", nargs="+", metavar="SIDE:VARIANT", help="run only these variants, e.g. trl:live-best"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench" / "vs_trl")
    parser.add_argument("--write", action="store_true", help="record the tables in BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="smoke run of the harness (not a measurement)")
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child, args.quick)
        return
    if args.quick and args.write:
        parser.error("--quick results are not measurements; they are never written")
    models = ["tiny"] if args.quick else args.models
    args.out.mkdir(parents=True, exist_ok=True)
    for model in models:
        for objective in args.objectives:
            report_one(objective, model, args)


def report_one(objective: str, model: str, args: argparse.Namespace) -> None:
    import trl
    from peer.workload import QUICK, WORKLOADS
    from record import publish  # bench/ is this script's folder, first on sys.path

    chosen = args.reference if objective == "dpo" else None
    variants = [(s, v) for s, v in VARIANTS[objective] if not chosen or v.startswith(chosen)]
    if args.only:
        variants = [(s, v) for s, v in variants if f"{s}:{v}" in args.only]
    if args.quick:  # the smoke run: `-nogc` differs from its sibling by one TrainingArguments flag
        variants = [(s, v) for s, v in variants if not v.endswith("nogc")]
    runs: dict[tuple[str, str], list[dict]] = {key: [] for key in variants}
    for _ in range(args.repeats):
        for side, variant in variants:
            runs[(side, variant)].append(measure(side, objective, variant, model, args.quick))
    raw = args.out / f"{objective}-{model}.json"
    raw.write_text(json.dumps({f"{s} {v}": rs for (s, v), rs in runs.items()}, indent=2))
    workload = (QUICK if args.quick else WORKLOADS)[model]
    details = (
        f"trl {trl.__version__}; {args.repeats} interleaved repeats, median [min-max]. "
        f"Workload: {workload.describe()}"
    )
    section = f"{objective.upper() if objective != 'reward' else 'Reward model'} vs TRL: {model}"
    publish(section, f"{objective} on {model}", workload.threads, details, table(objective, runs), args.write)


if __name__ == "__main__":
    main()
