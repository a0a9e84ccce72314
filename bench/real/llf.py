"""LLF on the real SmolLM2-135M-Instruct, with the model itself as critic and with a rule critic, judged by
the word limit the prompts ask for (at most 25 words).

    uv run python bench/real/llf.py                         # both critics, 16 prompts, DPO, 32 held-out
    uv run python bench/real/llf.py --prompts 4 --no-dpo    # a quick look

For each config under configs/smollm2/llf/ the pipeline's own stages run (`run_pipeline`: synthesis, then
DPO on the pairs), each in `<root>/<config>`. The judge reads the pairs: per pair, the original and the
refined answer pass when they have at most 25 words; a refinement *wins* when it passes and the original
does not, *loses* in the reverse case. Skipped rows (nothing to fix, empty or unchanged refinement) are
counted by reason. Whether the 135M critic even notices the limit is counted too: the share of its critiques
that mention words or the number 25. After DPO, the base model and the DPO export answer the held-out
prompts (topics never used in synthesis; one sampled answer each, same seed) and are judged the same way.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from pathlib import Path

import torch

from omnialign.data.records import load_samples
from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor
from omnialign.models.generation.text import GenerationOptions, TextGenerator
from omnialign.pipelines.llf.cli import build, parser
from omnialign.pipelines.llf.critics import word_count
from omnialign.pipelines.llf.pipeline import run_pipeline

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs" / "smollm2" / "llf"
HELDOUT = ROOT / "data" / "smollm2" / "everyday" / "heldout-25-words.jsonl"
LIMIT = 25
MENTIONS_LIMIT = re.compile(r"\bwords?\b|\b25\b", re.I)


def _rows(path: Path) -> list[dict]:
    return (
        [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    )


def judge_pairs(workdir: Path) -> dict:
    """Judge every pair of a synthesis run under the word limit (see the module docstring)."""
    pairs = _rows(workdir / "pairs" / "pairs.jsonl")
    skipped = Counter(row["reason"] for row in _rows(workdir / "pairs" / "pairs.skipped.jsonl"))
    original = [word_count(row["provenance"]["original"]) for row in pairs]
    refined = [word_count(row["chosen"]) for row in pairs]
    feedback = [row["provenance"]["feedback"] for row in pairs]
    n = max(len(pairs), 1)
    return {
        "pairs": len(pairs),
        "skipped": dict(skipped),
        "wins": sum(r <= LIMIT < o for o, r in zip(original, refined, strict=True)),
        "losses": sum(o <= LIMIT < r for o, r in zip(original, refined, strict=True)),
        "original_words": sum(original) / n,
        "refined_words": sum(refined) / n,
        "feedback_mentions_limit": sum(bool(MENTIONS_LIMIT.search(f)) for f in feedback) / n,
        "example_feedback": feedback[0] if feedback else "",
    }


def judge_answers(model_name: str, heldout: Path, max_new_tokens: int, seed: int = 0) -> dict:
    """Pass rate under the limit and mean words of one sampled answer per held-out prompt."""
    options = BackboneOptions(name=model_name)
    processor = load_processor(options)
    generator = TextGenerator(
        load_causal_lm(options, processor).eval(), processor, GenerationOptions(max_new_tokens=max_new_tokens)
    )
    answers = generator.generate(load_samples(str(heldout), "prompts").samples, seed)
    words = [word_count(a) for a in answers]
    return {"pass_rate": sum(w <= LIMIT for w in words) / len(words), "words": sum(words) / len(words)}


def run(name: str, root: Path, prompts: int, dpo: bool) -> dict:
    workdir = root / name
    args = [
        "--config",
        str(CONFIGS / f"{name}.yaml"),
        f"--workdir={workdir}",
        f"--synthesis.prompts.limit={prompts}",
    ]
    pipeline = build(parser().parse_args(args))
    started = time.perf_counter()
    run_pipeline(pipeline, ["synthesis"])
    result = {"name": name, "synthesis_s": time.perf_counter() - started, **judge_pairs(workdir)}
    if dpo and result["pairs"]:
        started = time.perf_counter()
        run_pipeline(pipeline, ["dpo"])
        result["dpo_s"] = time.perf_counter() - started
        result["dpo_export"] = str(workdir / "dpo" / "export")
    return result


def report(results: list[dict], base: dict | None) -> str:
    lines = [
        "| critic | pairs (skipped) | refined wins / losses | words original → refined | critiques "
        "naming the limit | held-out pass rate after DPO (base) | synthesis / DPO wall time |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        after = r.get("heldout")
        held = f"{after['pass_rate']:.2f} ({base['pass_rate']:.2f})" if after and base else "–"
        lines.append(
            f"| {r['name']} | {r['pairs']} ({sum(r['skipped'].values())}: {r['skipped']}) | {r['wins']} / "
            f"{r['losses']} | {r['original_words']:.1f} → {r['refined_words']:.1f} | "
            f"{r['feedback_mentions_limit']:.2f} | {held} | "
            f"{r['synthesis_s']:.0f} s / {r.get('dpo_s', 0):.0f} s |"
        )
    examples = "\n".join(f"- {r['name']}: {r['example_feedback'][:300]!r}" for r in results)
    return "\n".join(lines) + "\n\nFirst critique of each run:\n" + examples + "\n"


def main(argv: list[str] | None = None) -> list[dict]:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--configs", nargs="+", default=["model-critic", "rule-critic"])
    cli.add_argument("--root", default="runs/smollm2/llf-bench")
    cli.add_argument("--prompts", type=int, default=16)
    cli.add_argument("--heldout", default=str(HELDOUT))
    cli.add_argument("--max-new-tokens", type=int, default=48)
    cli.add_argument("--no-dpo", action="store_true")
    args = cli.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    results = [run(name, Path(args.root), args.prompts, not args.no_dpo) for name in args.configs]
    base = None
    if not args.no_dpo:
        base = judge_answers("smollm2-135m-instruct", Path(args.heldout), args.max_new_tokens)
        for r in results:
            if "dpo_export" in r:
                r["heldout"] = judge_answers(r["dpo_export"], Path(args.heldout), args.max_new_tokens)
    print(report(results, base))
    return results


if __name__ == "__main__":
    main()
