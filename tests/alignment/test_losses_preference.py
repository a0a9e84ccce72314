"""Hand-checked values and properties of the DPO family, ORPO and KTO.

Notation: sp(x) = -log σ(x) = log(1 + e^-x); sp(-x) - sp(x) = x.
"""

import inspect
import math
from typing import get_args

import pytest
import torch
from torch.testing import assert_close

from omnialign.alignment.losses.preference import (
    PREFERENCE_LOSSES,
    LossInputs,
    PreferenceLossSpec,
    dpo_loss,
    ipo_loss,
    kto_loss,
    orpo_loss,
    robust_dpo_loss,
    simpo_loss,
)

H = torch.tensor([0.0, 1.0, 2.0])
ZERO = torch.zeros(3)
DPO_AT_H = torch.tensor([0.6931471805599453, 0.6443966600735709, 0.5981388693815918])


def _sp(x: float) -> float:
    return math.log1p(math.exp(-x))


def test_dpo_hand_values_and_diagnostics():
    """log-ratio margins h = [0, 1, 2], β = 0.1 → sp([0, 0.1, 0.2]) = [log 2, 0.644397, 0.598139].
    Rewards are β·log-ratio: chosen [0, .1, .2], rejected 0, so accuracy [0, 1, 1] (ties are not wins)."""
    chosen = H.clone().requires_grad_()
    out = dpo_loss(chosen, ZERO, beta=0.1)
    assert_close(out.losses, DPO_AT_H, atol=1e-6, rtol=0)
    assert_close(out.rewards_chosen, 0.1 * H)
    assert_close(out.rewards_rejected, ZERO)
    assert_close(out.margins, 0.1 * H)
    assert_close(out.accuracies, torch.tensor([0.0, 1.0, 1.0]))
    assert out.losses.requires_grad
    assert not any(t.requires_grad for t in out[1:])


def test_dpo_depends_only_on_the_margin_and_pushes_it_up():
    shifted = dpo_loss(H + 3.0, ZERO + 3.0, beta=0.1)
    assert_close(shifted.losses, DPO_AT_H, atol=1e-6, rtol=0)
    chosen, rejected = H.clone().requires_grad_(), ZERO.clone().requires_grad_()
    dpo_loss(chosen, rejected, beta=0.1).losses.sum().backward()
    assert (chosen.grad < 0).all() and (rejected.grad > 0).all()


def test_cdpo_label_smoothing():
    """cDPO = (1-ε)·sp(βh) + ε·sp(-βh) = sp(βh) + ε·βh; ε = 0.1, β = 0.1, h = [0, 1, 2]
    → DPO + [0, 0.01, 0.02]. ε = 0 is exactly DPO."""
    out = dpo_loss(H, ZERO, beta=0.1, label_smoothing=0.1)
    assert_close(out.losses, DPO_AT_H + torch.tensor([0.0, 0.01, 0.02]), atol=1e-6, rtol=0)
    assert torch.equal(dpo_loss(H, ZERO, beta=0.1, label_smoothing=0.0).losses, dpo_loss(H, ZERO, 0.1).losses)
    # ε = 1/2 makes the loss symmetric in the label: log 2 + βh/2 is minimised at h = 0.
    assert_close(dpo_loss(H, ZERO, beta=0.1, label_smoothing=0.5).losses[0], torch.tensor(math.log(2)))


def test_robust_dpo_values_and_unbiasedness():
    """Robust DPO with x = βh: ((1-ε)·sp(x) - ε·sp(-x))/(1-2ε) = sp(x) - ε·x/(1-2ε); ε = 0.1 → sp(x) - x/8,
    so h = [0, 1, 2], β = 0.1 → DPO - [0, 0.0125, 0.025]."""
    out = robust_dpo_loss(H, ZERO, beta=0.1, label_smoothing=0.1)
    assert_close(out.losses, DPO_AT_H - torch.tensor([0.0, 0.0125, 0.025]), atol=1e-6, rtol=0)
    assert_close(robust_dpo_loss(H, ZERO, 0.1, 0.0).losses, dpo_loss(H, ZERO, 0.1).losses)
    # Unbiased: averaging over labels flipped with probability ε recovers the clean DPO loss.
    eps = 0.3
    noisy = (1 - eps) * robust_dpo_loss(H, ZERO, 0.1, eps).losses + eps * robust_dpo_loss(
        ZERO, H, 0.1, eps
    ).losses
    assert_close(noisy, DPO_AT_H, atol=1e-6, rtol=0)


@pytest.mark.parametrize("eps", [-0.1, 0.5, 0.7])
def test_robust_dpo_rejects_noise_rates_it_cannot_invert(eps):
    with pytest.raises(ValueError, match="label_smoothing"):
        robust_dpo_loss(H, ZERO, beta=0.1, label_smoothing=eps)


def test_ipo_hand_values_and_minimum():
    """β = 0.5 → target 1/(2β) = 1; h = [0, 1, 3] → (h - 1)² = [1, 0, 4]; the gradient vanishes at h = 1."""
    chosen = torch.tensor([0.0, 1.0, 3.0], requires_grad=True)
    out = ipo_loss(chosen, ZERO, beta=0.5)
    assert_close(out.losses, torch.tensor([1.0, 0.0, 4.0]))
    out.losses.sum().backward()
    assert_close(chosen.grad, torch.tensor([-2.0, 0.0, 4.0]))
    assert_close(out.rewards_chosen, torch.tensor([0.0, 0.5, 1.5]))


def test_simpo_hand_values():
    """β = 2, γ = 0.5: avg log-probs (-1, -1.5) → sp(2·0.5 - 0.5) = sp(0.5) = 0.474077;
    (-2, -1) → sp(-2 - 0.5) = sp(-2.5) = 2.578890. Rewards are β·avg_lp."""
    out = simpo_loss(torch.tensor([-1.0, -2.0]), torch.tensor([-1.5, -1.0]), beta=2.0, gamma=0.5)
    assert_close(out.losses, torch.tensor([_sp(0.5), _sp(-2.5)]), atol=1e-6, rtol=0)
    assert_close(out.losses, torch.tensor([0.474077, 2.578890]), atol=1e-6, rtol=0)
    assert_close(out.rewards_chosen, torch.tensor([-2.0, -4.0]))
    assert_close(out.accuracies, torch.tensor([1.0, 0.0]))


def test_registry_states_what_each_loss_needs():
    assert set(PREFERENCE_LOSSES) == {"sigmoid", "ipo", "robust", "simpo", "orpo", "kto"}
    assert PREFERENCE_LOSSES["sigmoid"].fn is dpo_loss
    assert not PREFERENCE_LOSSES["simpo"].uses_reference
    assert PREFERENCE_LOSSES["simpo"].length_normalised and PREFERENCE_LOSSES["ipo"].length_normalised
    assert not PREFERENCE_LOSSES["sigmoid"].length_normalised
    assert not PREFERENCE_LOSSES["robust"].length_normalised
    orpo, kto = PREFERENCE_LOSSES["orpo"], PREFERENCE_LOSSES["kto"]
    assert orpo.fn is orpo_loss and orpo.inputs == "paired+nll"
    assert not orpo.uses_reference and orpo.length_normalised
    assert kto.fn is kto_loss and kto.inputs == "unpaired+kl"
    assert kto.uses_reference and not kto.length_normalised


POSITIONAL_INPUTS = {"paired": 2, "paired+nll": 3, "unpaired+kl": 4}
"""How many leading tensors each `LossInputs` kind feeds (see its docstring)."""


def test_every_loss_takes_its_inputs_and_the_options_its_row_names():
    """The DPO module feeds a row's inputs positionally and its `options` by keyword: each keyword must be
    one of the function's, and no parameter without a default may be left unfed (a new loss added with a
    wrong row fails here, not mid-run)."""
    assert set(POSITIONAL_INPUTS) == set(get_args(LossInputs))
    for name, spec in PREFERENCE_LOSSES.items():
        parameters = list(inspect.signature(spec.fn).parameters.items())
        inputs = POSITIONAL_INPUTS[spec.inputs]
        assert all(p.default is inspect.Parameter.empty for _, p in parameters[:inputs]), name
        keywords = dict(parameters[inputs:])
        assert set(spec.options) <= set(keywords), name
        required = {k for k, p in keywords.items() if p.default is inspect.Parameter.empty}
        assert required <= set(spec.options), name


def test_a_row_the_module_cannot_feed_is_refused():
    with pytest.raises(ValueError, match="summed log-probs"):
        PreferenceLossSpec(kto_loss, "unpaired+kl", uses_reference=False, length_normalised=False)


def test_orpo_hand_values():
    """P_w = 1/2 → odds 1, log odds 0; P_l = 1/3 → odds 1/2. log odds ratio = log 2,
    L_OR = -log σ(log 2) = -log(2/3) = log 1.5; swapped: -log σ(-log 2) = log 3. Total = nll + λ·L_OR."""
    half, third = math.log(0.5), math.log(1 / 3)
    chosen = torch.tensor([half, third], requires_grad=True)
    rejected = torch.tensor([third, half])
    nll = torch.tensor([2.0, 1.0])
    out = orpo_loss(chosen, rejected, nll, lam=0.1)
    assert_close(out.odds_ratio_losses, torch.tensor([math.log(1.5), math.log(3.0)]))
    assert_close(out.losses, nll + 0.1 * torch.tensor([math.log(1.5), math.log(3.0)]))
    assert_close(out.log_odds_ratios, torch.tensor([math.log(2.0), -math.log(2.0)]))
    assert_close(out.nll, nll)
    assert_close(out.rewards_chosen, 0.1 * chosen.detach())
    assert_close(out.accuracies, torch.tensor([1.0, 0.0]))
    out.losses.sum().backward()
    assert (chosen.grad < 0).all()


def test_orpo_is_finite_when_a_probability_rounds_to_one():
    chosen = torch.tensor([0.0, -1e-9], requires_grad=True)
    out = orpo_loss(chosen, torch.tensor([-1.0, -1.0]), torch.zeros(2), lam=1.0)
    out.losses.sum().backward()
    assert torch.isfinite(out.losses).all() and torch.isfinite(chosen.grad).all()


def test_kto_hand_values():
    """β = 0.1, z0 = 0.5. Desirable r = 2: 1 - σ(0.1·1.5) = σ(-0.15) = 0.462570.
    Undesirable r = -1, λ_U = 1.5: 1.5·(1 - σ(0.1·1.5)) = 0.693855. Desirable r = 0 (below z0): σ(0.05)."""
    policy = torch.tensor([2.0, -1.0, 0.0])
    out = kto_loss(
        policy,
        torch.zeros(3),
        torch.tensor([True, False, True]),
        torch.tensor(0.5),
        beta=0.1,
        undesirable_weight=1.5,
    )
    sig = torch.sigmoid
    expected = torch.stack(
        [sig(torch.tensor(-0.15)), 1.5 * sig(torch.tensor(-0.15)), sig(torch.tensor(0.05))]
    )
    assert_close(out.losses, expected)
    assert_close(out.losses, torch.tensor([0.462570, 0.693855, 0.512497]), atol=1e-6, rtol=0)
    assert_close(out.rewards, torch.tensor([0.2, -0.1, 0.0]))
    assert_close(out.accuracies, torch.tensor([1.0, 1.0, 0.0]))


def test_kto_reference_point_is_clamped_and_gets_no_gradient():
    kl = torch.tensor(-3.0, requires_grad=True)
    policy = torch.tensor([1.0], requires_grad=True)
    out = kto_loss(policy, torch.zeros(1), torch.tensor([True]), kl, beta=1.0)
    assert_close(out.losses, 1 - torch.sigmoid(torch.tensor([1.0])))  # z0 = max(0, -3) = 0
    out.losses.sum().backward()
    assert kl.grad is None and policy.grad.item() < 0
