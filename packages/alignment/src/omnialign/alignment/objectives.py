"""The objectives the train app offers, with the options that matter most for each: the text of
`fit --help`, which otherwise names only `LightningModule` and buries the model's options among the
trainer's. Class paths are strings so that `--help` imports no objective (the diffusion one needs the
`diffusion` extra); tests/alignment/test_cli_surface.py checks that each path and option exists and that
no objective is missing."""

from __future__ import annotations

OBJECTIVES: dict[str, tuple[str, tuple[str, ...]]] = {
    "omnialign.alignment.modules.sft.SFTModule": ("supervised fine-tuning", ("loss_averaging",)),
    "omnialign.alignment.modules.dpo.DPOModule": (
        "DPO family: DPO, cDPO, robust, IPO, SimPO, ORPO, KTO",
        ("loss", "beta", "label_smoothing", "reference"),
    ),
    "omnialign.alignment.modules.score.ScoreModule": (
        "reward / cost model (Safe RLHF), one head per preference dimension",
        ("objective", "loss_type", "heads", "normalize"),
    ),
    "omnialign.alignment.modules.moderation.ModerationModule": (
        "multi-label moderation classifier",
        ("labels", "threshold", "positive_weight"),
    ),
    "omnialign.alignment.modules.rl.PPOModule": (
        "PPO with a critic",
        ("reward", "generation", "samples_per_prompt", "kl_coef", "clip_eps"),
    ),
    "omnialign.alignment.modules.rl.PPOLagrangianModule": (
        "PPO-Lagrangian (Safe RLHF): reward under a cost bound",
        ("reward", "cost", "cost_threshold", "lambda_init", "lambda_lr"),
    ),
    "omnialign.alignment.modules.rl.GroupRLModule": (
        "GRPO / RLOO: group baselines, no critic",
        ("reward", "baseline", "samples_per_prompt", "kl_coef"),
    ),
    "omnialign.alignment.modules.diffusion.DiffusionModule": (
        "Diffusion SFT / Diffusion-DPO (text→image, video, audio)",
        ("diffusion", "objective", "beta", "reference"),
    ),
}
"""Class path → (what it trains, its key `init_args`). Every objective also takes `backbone` (or
`diffusion`), `optimizer` and `schedule`."""


def objectives_help() -> str:
    """The objectives and their key options, for the description of `fit` and `validate`."""
    lines = [
        "Objectives (--model=<class path>; all options of one: --model.help <class path>; every one also "
        "takes backbone, optimizer and schedule):"
    ]
    for class_path, (what, options) in OBJECTIVES.items():
        lines.append(f"  {class_path}: {what}; key options: {', '.join(options)}")
    return "\n".join(lines)
