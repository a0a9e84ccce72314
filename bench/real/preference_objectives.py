"""Real-model evidence for the reward, cost and DPO-family objectives on SmolLM2-135M-Instruct (CPU).

Data: `omnialign.data.fixtures.disclosure`: its lookup pairs (answer with the asked item's value, not the
other item's) for the reward model and the DPO family, its leak-vs-refusal pairs for the cost model; held-out
pairs use items, phrasings and templates that training never saw. Each objective trains from its shipped
recipe under configs/smollm2/ (the DPO family: configs/smollm2/disclosure/dpo.yaml plus the loss overlays in
configs/dpo/loss/), through the train app's own CLI class, then:
- reward / cost: held-out pair accuracy (and the cost model's sign accuracy) before and after training, with
  the one-sided binomial probability that a coin reaches the same count;
- DPO / SimPO / KTO, against the untouched base: held-out implicit reward margin and accuracy
  (log π/π_base of the chosen minus the rejected response), the policy's own preference accuracy on
  length-normalised log-probs, KL(policy || base) per response token (full vocabulary), and the pass rate of
  greedy answers to held-out prompts under the rule `judge_lookup` (with a 95% Wilson interval).

    uv run python bench/real/preference_objectives.py            # the full run (BENCHMARKS.md)
    uv run python bench/real/preference_objectives.py --quick    # a smoke run on a tiny random model

Writes `results-<part>.json` into `--out` and prints a markdown summary.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import torch

from omnialign.alignment.cli import OmniAlignCLI
from omnialign.data.collate import model_inputs
from omnialign.data.fixtures.disclosure import judge_lookup, write_dataset
from omnialign.models.backbone import BackboneOptions, load_causal_lm, tokenizer_of
from omnialign.models.generation.logprobs import response_token_logprobs

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
LOSS_OVERLAYS = {"dpo": None, "simpo": "dpo/loss/simpo.yaml", "kto": "dpo/loss/kto.yaml"}


def build(config: list[str], overrides: list[str]) -> OmniAlignCLI:
    """The train app's CLI on `config` files plus `overrides`, instantiated but not run."""
    args = [arg for name in config for arg in ("--config", str(CONFIGS / name))]
    return OmniAlignCLI(args=[*args, *overrides], run=False)


def run_overrides(args: argparse.Namespace, data: Path, kind: str, root: Path) -> list[str]:
    """Point a recipe at this run's data and folder; no checkpoints, logs or export (metrics come back
    from `validate`)."""
    overrides = [
        f"--data.init_args.train_files=[{data / 'train' / kind}.jsonl]",
        f"--data.init_args.val_files=[{data / 'val' / kind}.jsonl]",
        f"--trainer.default_root_dir={root}",
        "--trainer.logger=false",
        "--trainer.enable_checkpointing=false",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        "--trainer.callbacks=[]",
        f"--trainer.max_epochs={args.epochs}",
        f"--model.init_args.backbone.name={args.backbone}",
        f"--data.init_args.batch_size={args.batch_size}",
    ]
    if args.max_steps:
        overrides.append(f"--trainer.max_steps={args.max_steps}")
    return overrides + [f"--{setting}" for setting in args.set]


def wilson(hits: int, total: int, z: float = 1.959964) -> list[float]:
    """95% Wilson score interval of a proportion (sound near 0 and 1, unlike the normal approximation)."""
    p = hits / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return [centre - half, centre + half]


def coin_tail(hits: int, total: int) -> float:
    """P(Binomial(total, 1/2) >= hits): how likely a coin is to do at least this well."""
    return sum(math.comb(total, k) for k in range(hits, total + 1)) / 2**total


def count_summary(correct: float, total: int) -> dict[str, Any]:
    """Accuracy, its 95% Wilson interval, and P(a fair coin gets at least as many right)."""
    hits = round(correct)
    return {
        "accuracy": hits / total,
        "n": total,
        "ci95": wilson(hits, total),
        "p_chance": coin_tail(hits, total),
    }


def score_objective(args: argparse.Namespace, data: Path, root: Path, objective: str) -> dict[str, Any]:
    kind = "lookup" if objective == "reward" else "cost"
    cli = build([f"smollm2/disclosure/{objective}.yaml"], run_overrides(args, data, kind, root / objective))
    n = len((data / "val" / f"{kind}.jsonl").read_text().splitlines())
    before = cli.trainer.validate(cli.model, cli.datamodule, verbose=False)[0]
    start = time.perf_counter()
    cli.trainer.fit(cli.model, cli.datamodule)
    seconds = time.perf_counter() - start
    after = cli.trainer.validate(cli.model, cli.datamodule, verbose=False)[0]
    result = {
        "before": count_summary(before["val/accuracy"] * n, n),
        "after": count_summary(after["val/accuracy"] * n, n),
        "train_seconds": seconds,
        "train_pairs": cli.datamodule.num_samples("train"),
    }
    if objective == "cost":
        result["sign_accuracy_before"] = before["val/sign_accuracy"]
        result["sign_accuracy_after"] = after["val/sign_accuracy"]
    return result


@torch.no_grad()
def pair_statistics(policy, base, loader, beta: float) -> dict[str, float]:
    """Held-out implicit reward margin/accuracy against the base, length-normalised policy preference, and
    per-token KL(policy || base) over every response token of the pairs."""
    margins, normalised, kl_sum, tokens = [], [], 0.0, 0
    for batch in loader:
        chosen = batch["targets"]["chosen"]
        mask = batch["response_mask"].bool()
        logp_policy = response_token_logprobs(policy, batch).sum(-1)
        logp_base = response_token_logprobs(base, batch).sum(-1)
        counts = mask.sum(-1).clamp_min(1)
        first, second = (logp_policy - logp_base).view(2, -1)
        sign = 1 - 2 * chosen  # +1 where the first response is chosen
        margins.append(beta * sign * (first - second))
        avg_first, avg_second = (logp_policy / counts).view(2, -1)
        normalised.append(sign * (avg_first - avg_second))
        kl, count = token_kl(policy, base, batch)
        kl_sum, tokens = kl_sum + kl, tokens + count
    margins, normalised = torch.cat(margins), torch.cat(normalised)
    return {
        "implicit_margin": margins.mean().item(),
        "implicit_accuracy": (margins > 0).float().mean().item(),
        "normalised_logp_accuracy": (normalised > 0).float().mean().item(),
        "kl_per_token": kl_sum / tokens,
        "pairs": margins.numel(),
    }


def token_kl(policy, base, batch) -> tuple[float, int]:
    """Summed full-vocabulary KL(policy || base) at the positions that predict response tokens."""
    predicts = batch["response_mask"].bool()[:, 1:]
    inputs = model_inputs(batch)
    log_p = policy(**inputs).logits[:, :-1][predicts].float().log_softmax(-1)
    log_q = base(**inputs).logits[:, :-1][predicts].float().log_softmax(-1)
    return (log_p.exp() * (log_p - log_q)).sum().item(), int(predicts.sum())


@torch.no_grad()
def judge_generations(model, processor, prompts: list[dict], max_new_tokens: int) -> dict[str, Any]:
    """Greedy answers to held-out prompts, judged by `judge_lookup`: pass rate (the asked item's value and
    not the other's, 95% Wilson interval), and how often each value appears at all."""
    tokenizer = tokenizer_of(processor)
    passed, asked_given, other_given, samples = 0, 0, 0, []
    for row in prompts:
        messages = [{"role": "system", "content": row["system"]}, {"role": "user", "content": row["prompt"]}]
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
        ids = ids if isinstance(ids, torch.Tensor) else ids["input_ids"]
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        text = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True).strip()
        asked, other = (row["private_value"], row["public_value"])[:: 1 if row["asked"] == "private" else -1]
        ok = judge_lookup(text, asked, other)
        passed += ok
        asked_given += asked in text
        other_given += other in text
        if len(samples) < 4:
            samples.append({"prompt": row["prompt"], "answer": text, "pass": ok})
    n = len(prompts)
    return {
        "pass_rate": passed / n,
        "ci95": wilson(passed, n),
        "n": n,
        "asked_value_rate": asked_given / n,
        "other_value_rate": other_given / n,
        "samples": samples,
    }


def policy_objective(
    args: argparse.Namespace, data: Path, root: Path, loss: str, base, prompts: list[dict]
) -> dict[str, Any]:
    config = ["smollm2/disclosure/dpo.yaml"] + ([LOSS_OVERLAYS[loss]] if LOSS_OVERLAYS[loss] else [])
    overrides = run_overrides(args, data, "lookup", root / loss)
    if loss == "kto":
        overrides.append("--model.init_args.reference=adapters")  # the LoRA base, no second copy
    cli = build(config, overrides)
    start = time.perf_counter()
    cli.trainer.fit(cli.model, cli.datamodule)
    seconds = time.perf_counter() - start
    policy = cli.model.policy.eval()
    loader = cli.datamodule.val_dataloader()
    return {
        "train_seconds": seconds,
        "train_pairs": cli.datamodule.num_samples("train"),
        "pairs": pair_statistics(policy, base, loader, beta=DPO_BETA),
        "generation": judge_generations(policy, cli.model.processor, prompts, args.max_new_tokens),
    }


DPO_BETA = 0.1
"""β of the implicit reward reported for every policy (the disclosure DPO recipe's), so margins compare."""


def base_policy_result(
    args: argparse.Namespace, data: Path, root: Path, prompts: list[dict]
) -> tuple[Any, dict[str, Any] | None]:
    """The untouched base model's own numbers, and the model itself (the reference for KL and margins)."""
    cli = build(["smollm2/disclosure/dpo.yaml"], run_overrides(args, data, "lookup", root / "base"))
    cli.datamodule.attach_processor(cli.model.processor)
    cli.datamodule.setup("validate")
    options = BackboneOptions(name=args.backbone)
    base = load_causal_lm(options, cli.model.processor).eval()
    if args.skip_base:
        return base, None
    result = {
        "pairs": pair_statistics(base, base, cli.datamodule.val_dataloader(), beta=DPO_BETA),
        "generation": judge_generations(base, cli.model.processor, prompts, args.max_new_tokens),
    }
    return base, result


def markdown(results: dict[str, Any]) -> str:
    """The score-model and policy tables for whichever parts `results` holds."""
    lines = [
        "| score model | held-out pairs | accuracy before | accuracy after (95% CI) | P(coin >= after) |",
        "|---|---|---|---|---|",
    ]
    for name in [n for n in ("reward", "cost") if n in results]:
        r = results[name]
        low, high = r["after"]["ci95"]
        lines.append(
            f"| {name} | {r['after']['n']} | {r['before']['accuracy']:.3f} | "
            f"{r['after']['accuracy']:.3f} ({low:.2f}-{high:.2f}) | {r['after']['p_chance']:.1e} |"
        )
    lines += [
        "",
        "| policy | implicit margin | implicit acc. | norm. log-p acc. | KL/token | judge pass (95% CI) "
        "| asked value given | other value given |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in [n for n in ("base", *LOSS_OVERLAYS) if n in results]:
        p, g = results[name]["pairs"], results[name]["generation"]
        low, high = g["ci95"]
        lines.append(
            f"| {name} | {p['implicit_margin']:.3f} | {p['implicit_accuracy']:.3f} | "
            f"{p['normalised_logp_accuracy']:.3f} | {p['kl_per_token']:.4f} | {g['pass_rate']:.3f} "
            f"({low:.2f}-{high:.2f}) | {g['asked_value_rate']:.3f} | {g['other_value_rate']:.3f} |"
        )
    return "\n".join(lines)


def save(results: dict[str, Any], args: argparse.Namespace, started: float) -> None:
    """Write what is measured so far (a long run keeps its finished objectives if stopped)."""
    results["wall_seconds"] = time.perf_counter() - started
    (args.out / f"results-{args.part}{args.tag}.json").write_text(json.dumps(results, indent=2))


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "bench" / "real_preference")
    parser.add_argument("--train", type=int, default=256, help="training examples (cost: half of them)")
    parser.add_argument("--val", type=int, default=96, help="held-out examples (cost: half of them)")
    parser.add_argument("--judge", type=int, default=96, help="held-out prompts answered and judged")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8, help="pairs per training step")
    parser.add_argument("--part", choices=("all", "score", "policy"), default="all")
    parser.add_argument("--losses", nargs="+", choices=tuple(LOSS_OVERLAYS), default=list(LOSS_OVERLAYS))
    parser.add_argument("--scores", nargs="+", choices=("reward", "cost"), default=["reward", "cost"])
    parser.add_argument("--skip-base", action="store_true", help="no base-model row (parallel runs)")
    parser.add_argument("--tag", default="", help="suffix of the results file (parallel partial runs)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--max-steps", type=int, default=0, help="0: whole epochs")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="train-app override, e.g. "
        "model.init_args.optimizer.init_args.lr=1e-4 (repeatable; every objective of the run)",
    )
    parser.add_argument("--backbone", default="smollm2-135m-instruct")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny random model, a few pairs")
    args = parser.parse_args(argv)
    if args.quick:
        args.backbone, args.train, args.val, args.judge = "tiny:llama", 16, 8, 4
        args.max_steps, args.max_new_tokens = 2, 4
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    data = args.out / "data"
    write_dataset(data, {"train": args.train, "val": args.val})
    prompts = [json.loads(line) for line in (data / "val" / "judge.jsonl").read_text().splitlines()]
    prompts = prompts[: args.judge]
    started = time.perf_counter()
    results: dict[str, Any] = {"settings": {k: str(v) for k, v in vars(args).items()}}
    if args.part in ("all", "score"):
        for objective in args.scores:
            results[objective] = score_objective(args, data, args.out, objective)
            save(results, args, started)
    if args.part in ("all", "policy"):
        base, base_result = base_policy_result(args, data, args.out, prompts)
        if base_result is not None:
            results["base"] = base_result
        for loss in args.losses:
            results[loss] = policy_objective(args, data, args.out, loss, base, prompts)
            save(results, args, started)
    save(results, args, started)
    print(markdown(results))
    print(f"\nwall time: {results['wall_seconds']:.0f} s ({math.ceil(results['wall_seconds'] / 60)} min)")
    return results


if __name__ == "__main__":
    main()
