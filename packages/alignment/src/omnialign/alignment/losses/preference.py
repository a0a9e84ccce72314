"""Direct preference objectives: the DPO family (DPO/cDPO, IPO, robust DPO, SimPO), ORPO and KTO.

Inputs are per-sequence log-probabilities already gathered over the response tokens
(`omnialign.models.generation.logprobs`, summed per sequence by the module), so every function here is a
few elementwise tensor ops.

Conventions:
- The reference-based variants take **log-ratios** `log π(y|x) - log π_ref(y|x)`, one per example, for the
  chosen and the rejected response; they depend on nothing else, and SimPO fits the same shape by passing
  the policy's length-averaged log-probs (its reward has no reference term).
- Every loss returns one value per example, never a batch mean, plus detached diagnostics:
  `rewards_* = β · log-ratio` (the implicit reward of Rafailov et al. 2023, §5), their margin, and
  accuracy = 1 where the chosen reward is strictly higher.
- `PREFERENCE_LOSSES` maps a config string to the function together with what it must be fed: which
  inputs (`LossInputs`: paired values, paired values plus the chosen NLL, or unpaired examples with a KL
  estimate), whether it needs the reference model at all, whether the log-probs must be length-averaged
  (summed otherwise), and which of the DPO module's hyperparameters fill which of its keywords. The table
  is the only list of names and the module dispatches on a row, never on a name: the module's `loss`
  choices are derived from it, so a new loss is one function, one table row and its test (plus a
  `DPOModule` argument only if it brings a hyperparameter no row has used yet).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor


class PreferenceOutput(NamedTuple):
    losses: Tensor
    """Per-example loss, shape [B]; differentiable."""
    rewards_chosen: Tensor
    """Detached implicit reward of the chosen response, [B]."""
    rewards_rejected: Tensor
    """Detached implicit reward of the rejected response, [B]."""
    margins: Tensor
    """Detached `rewards_chosen - rewards_rejected`, [B]."""
    accuracies: Tensor
    """Detached float 0/1: the chosen response has the strictly higher reward, [B]."""


def _diagnostics(losses: Tensor, rewards_chosen: Tensor, rewards_rejected: Tensor) -> PreferenceOutput:
    chosen, rejected = rewards_chosen.detach(), rewards_rejected.detach()
    return PreferenceOutput(losses, chosen, rejected, chosen - rejected, (chosen > rejected).float())


def dpo_loss(
    chosen_logratios: Tensor, rejected_logratios: Tensor, beta: float, label_smoothing: float = 0.0
) -> PreferenceOutput:
    """DPO (Rafailov et al. 2023, Eq. 7), with conservative label smoothing (cDPO, Mitchell 2023).

    With `h = chosen_logratios - rejected_logratios` (summed log-probs):
        loss = -(1 - ε)·log σ(β·h) - ε·log σ(-β·h)
    `ε = label_smoothing` is the assumed probability that a preference label is flipped; ε = 0 is plain DPO.
    Unlike robust DPO this is a *biased* estimator: its minimiser is a finite margin, which is the point
    of the conservative variant (it stops pushing once the model is confident).
    """
    logits = beta * (chosen_logratios - rejected_logratios)
    losses = -(1.0 - label_smoothing) * F.logsigmoid(logits) - label_smoothing * F.logsigmoid(-logits)
    return _diagnostics(losses, beta * chosen_logratios, beta * rejected_logratios)


def ipo_loss(chosen_logratios: Tensor, rejected_logratios: Tensor, beta: float) -> PreferenceOutput:
    """IPO (Azar et al. 2023, Eq. 17): `(h - 1/(2β))²` with `h` the difference of log-ratios; `β` is the
    paper's τ.

    Regresses the margin to a fixed target instead of pushing it to infinity, so IPO does not overfit
    deterministic preferences. The paper writes `h` on whole-sequence log-likelihoods, but the target
    `1/(2β)` (5 nats for β = 0.1) is on the scale of a per-token ratio, so, like TRL and the authors'
    later advice, `PREFERENCE_LOSSES["ipo"]` asks for **length-averaged** log-probs. The function itself
    is agnostic: pass sums to get the literal equation.
    """
    h = chosen_logratios - rejected_logratios
    losses = (h - 1.0 / (2.0 * beta)) ** 2
    return _diagnostics(losses, beta * chosen_logratios, beta * rejected_logratios)


def robust_dpo_loss(
    chosen_logratios: Tensor, rejected_logratios: Tensor, beta: float, label_smoothing: float
) -> PreferenceOutput:
    """Robust DPO (Chowdhury et al. 2024, "Provably Robust DPO", Eq. 8): the unbiased loss under labels
    flipped with known rate ε < 1/2:
        loss = ((1 - ε)·(-log σ(β·h)) - ε·(-log σ(-β·h))) / (1 - 2ε)
    Its expectation over noisy labels equals the clean DPO loss; at ε = 0 it is DPO exactly. Individual
    values can be negative (the second term is subtracted), which is expected.
    """
    if not 0.0 <= label_smoothing < 0.5:
        raise ValueError(f"robust DPO needs 0 <= label_smoothing < 0.5, got {label_smoothing}")
    logits = beta * (chosen_logratios - rejected_logratios)
    eps = label_smoothing
    losses = (-(1.0 - eps) * F.logsigmoid(logits) + eps * F.logsigmoid(-logits)) / (1.0 - 2.0 * eps)
    return _diagnostics(losses, beta * chosen_logratios, beta * rejected_logratios)


def simpo_loss(
    chosen_avg_logps: Tensor, rejected_avg_logps: Tensor, beta: float, gamma: float = 0.0
) -> PreferenceOutput:
    """SimPO (Meng et al. 2024, Eq. 6), reference-free:
        loss = -log σ(β·(avg_lp_w - avg_lp_l) - γ)
    where `avg_lp` is the policy's log-prob **averaged** over response tokens and `γ` a target margin
    (the paper's γ, not γ/β). Rewards reported are `β·avg_lp`.
    """
    rewards_chosen, rewards_rejected = beta * chosen_avg_logps, beta * rejected_avg_logps
    losses = -F.logsigmoid(rewards_chosen - rewards_rejected - gamma)
    return _diagnostics(losses, rewards_chosen, rewards_rejected)


class ORPOOutput(NamedTuple):
    losses: Tensor
    """Per-example total `nll + λ·odds_ratio_losses`, [B]; differentiable."""
    nll: Tensor
    """The SFT part as passed in, [B]."""
    odds_ratio_losses: Tensor
    """Per-example `-log σ(log odds_w - log odds_l)`, [B]; differentiable."""
    log_odds_ratios: Tensor
    """Detached `log odds_w - log odds_l`, [B]."""
    rewards_chosen: Tensor
    """Detached `λ · avg_lp_w` (TRL's convention for ORPO's reported rewards), [B]."""
    rewards_rejected: Tensor
    """Detached `λ · avg_lp_l`, [B]."""
    margins: Tensor
    accuracies: Tensor


def _log_odds(avg_logps: Tensor) -> Tensor:
    """`log(p / (1 - p))` for `p = exp(avg_logps)`, via `log(-expm1(x))`, accurate as p → 1.

    An average log-prob of exactly 0 (p = 1, reachable in float32) would give +inf; clamping at -1e-6
    keeps the loss finite without changing any realistic value.
    """
    avg_logps = avg_logps.clamp(max=-1e-6)
    return avg_logps - torch.log(-torch.expm1(avg_logps))


def orpo_loss(
    chosen_avg_logps: Tensor, rejected_avg_logps: Tensor, chosen_nll: Tensor, lam: float
) -> ORPOOutput:
    """ORPO (Hong et al. 2024, Eqs. 6-7): `L = L_SFT + λ·L_OR` with
        L_OR = -log σ(log odds(y_w) - log odds(y_l)),  odds(y) = P(y|x) / (1 - P(y|x)),
    where `P` is the geometric-mean token probability, i.e. `log P` = length-averaged log-prob. Reference
    free. `chosen_nll` is the per-example SFT loss on the chosen response (e.g. `sft_nll(...).loss`
    with sequence averaging), returned as its own field so both parts can be logged.
    """
    log_odds_ratios = _log_odds(chosen_avg_logps) - _log_odds(rejected_avg_logps)
    odds_ratio_losses = -F.logsigmoid(log_odds_ratios)
    base = _diagnostics(odds_ratio_losses, lam * chosen_avg_logps, lam * rejected_avg_logps)
    return ORPOOutput(
        chosen_nll + lam * odds_ratio_losses,
        chosen_nll,
        odds_ratio_losses,
        log_odds_ratios.detach(),
        *base[1:],
    )


class KTOOutput(NamedTuple):
    losses: Tensor
    """Per-example loss, [N]; differentiable."""
    rewards: Tensor
    """Detached `β·(log π - log π_ref)`, [N]; split by the `desirable` mask to log chosen/rejected."""
    accuracies: Tensor
    """Detached float 0/1: the reward is on the example's preferred side of `β·z0`, [N]."""


def kto_loss(
    policy_logps: Tensor,
    reference_logps: Tensor,
    desirable: Tensor,
    kl_reference: Tensor,
    beta: float,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
) -> KTOOutput:
    """KTO (Ethayarajh et al. 2024, Eq. 8) on unpaired examples, with `r = log π(y|x) - log π_ref(y|x)`
    (summed log-probs) and the reference point `z0 = kl_reference`:
        desirable:    λ_D · (1 - σ(β·(r - z0)))
        undesirable:  λ_U · (1 - σ(β·(z0 - r)))
    `kl_reference` is the batch estimate of KL(π‖π_ref) on mismatched (x, y') pairs; as in the paper it is
    clamped at 0 and gets no gradient (it is detached here, so callers cannot forget). `desirable` is a
    bool tensor [N].
    """
    z0 = kl_reference.detach().clamp(min=0.0)
    logratios = policy_logps - reference_logps
    desirable = desirable.bool()
    value = torch.where(desirable, F.sigmoid(beta * (logratios - z0)), F.sigmoid(beta * (z0 - logratios)))
    weights = torch.where(desirable, desirable_weight, undesirable_weight).to(value.dtype)
    rewards = (beta * logratios).detach()
    accuracies = torch.where(desirable, logratios.detach() > z0, logratios.detach() < z0).float()
    return KTOOutput(weights * (1.0 - value), rewards, accuracies)


LossInputs = Literal["paired", "paired+nll", "unpaired+kl"]
"""What the DPO module feeds a loss, positionally, before its keyword hyperparameters:
- `paired`: `(chosen, rejected)`, one value per pair: log-ratios against the reference (`uses_reference`)
  or the policy's own log-probs, summed or length-averaged (`length_normalised`);
- `paired+nll`: the same, then the chosen response's NLL (minus the policy's chosen log-prob, averaged the
  same way): ORPO's SFT term;
- `unpaired+kl`: every response as its own example: `(policy_logps, reference_logps, desirable,
  kl_reference)`, summed log-probs `[2B]`, `desirable` true for the chosen response of each pair, and the
  batch's KL(π‖π_ref) estimate on mismatched (prompt, other row's response) sequences: KTO's z0. The
  estimate scores new sequences every step, so it needs a live reference (not `precomputed`)."""


@dataclass(frozen=True)
class PreferenceLossSpec:
    """A named loss and what the DPO module must feed it."""

    fn: Callable[..., Any]
    inputs: LossInputs
    uses_reference: bool
    """False: pass the policy's log-probs themselves (the reference model need not be run)."""
    length_normalised: bool
    """True: log-probs averaged over response tokens; False: summed."""
    options: Mapping[str, str] = field(default_factory=dict)
    """The function's hyperparameter keywords → the `DPOModule` argument that supplies each (`beta`,
    `label_smoothing`, `simpo_gamma`, `orpo_lambda`, `kto_desirable_weight`, `kto_undesirable_weight`)."""

    def __post_init__(self) -> None:
        if self.inputs == "unpaired+kl" and not (self.uses_reference and not self.length_normalised):
            raise ValueError("unpaired+kl losses take summed log-probs of policy and reference")


PREFERENCE_LOSSES: dict[str, PreferenceLossSpec] = {
    "sigmoid": PreferenceLossSpec(
        dpo_loss, "paired", True, False, {"beta": "beta", "label_smoothing": "label_smoothing"}
    ),
    "ipo": PreferenceLossSpec(ipo_loss, "paired", True, True, {"beta": "beta"}),
    "robust": PreferenceLossSpec(
        robust_dpo_loss, "paired", True, False, {"beta": "beta", "label_smoothing": "label_smoothing"}
    ),
    "simpo": PreferenceLossSpec(simpo_loss, "paired", False, True, {"beta": "beta", "gamma": "simpo_gamma"}),
    "orpo": PreferenceLossSpec(orpo_loss, "paired+nll", False, True, {"lam": "orpo_lambda"}),
    "kto": PreferenceLossSpec(
        kto_loss,
        "unpaired+kl",
        True,
        False,
        {
            "beta": "beta",
            "desirable_weight": "kto_desirable_weight",
            "undesirable_weight": "kto_undesirable_weight",
        },
    ),
}
