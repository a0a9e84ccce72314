"""Safe RLHF score-model losses: Bradley-Terry reward, cost with the safety-sign term, moderation BCE.

Notation: sp(x) = -log σ(x); sp(1) = 0.313262, sp(-1) = 1.313262, sp(2) = 0.126928.
"""

import math

import torch
from torch.testing import assert_close

from omnialign.alignment.losses.score import (
    COST_LOSSES,
    REWARD_LOSSES,
    SAFE_SIGN,
    UNSAFE_SIGN,
    cost_loss_sequencewise,
    cost_loss_tokenwise,
    divergent_span_mask,
    moderation_loss,
    reward_loss_sequencewise,
    reward_loss_tokenwise,
    safety_sign,
)


def test_sign_convention_unsafe_positive_safe_negative():
    assert UNSAFE_SIGN == 1.0 and SAFE_SIGN == -1.0
    assert_close(safety_sign(torch.tensor([True, False])), torch.tensor([-1.0, 1.0]))


def test_reward_bt_hand_values_with_regulariser():
    """reg = 0.1 adds 0.1·(r_w² + r_l²)/2 (safe-rlhf: reg·mean of the stacked squares).
    (1, 0): sp(1) + 0.05 = 0.363262; (0, 1): sp(-1) + 0.05 = 1.363262."""
    out = reward_loss_sequencewise(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), regularization=0.1)
    assert_close(out.losses, torch.tensor([0.363262, 1.363262]), atol=1e-6, rtol=0)
    assert_close(out.accuracies, torch.tensor([1.0, 0.0]))
    assert_close(out.margins, torch.tensor([1.0, -1.0]))


def test_divergent_span_mask_hand_example():
    """Shared prompt [5, 6]; row 0 diverges at 2 and the longer response ends at 4; row 1 diverges at 3,
    chosen is longer (ends at 5); row 2 is identical → empty."""
    chosen = torch.tensor([[5, 6, 7, 8, 9, 0], [5, 6, 7, 8, 9, 1], [5, 6, 7, 0, 0, 0]])
    rejected = torch.tensor([[5, 6, 1, 2, 3, 0], [5, 6, 7, 2, 0, 0], [5, 6, 7, 0, 0, 0]])
    chosen_att = torch.tensor([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]])
    rejected_att = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]])
    expected = torch.tensor(
        [[0, 0, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 0, 0]],
        dtype=torch.bool,
    )
    assert torch.equal(divergent_span_mask(chosen, rejected, chosen_att, rejected_att), expected)


def test_reward_tokenwise_averages_over_the_span_only():
    """Span positions 1 and 2: margins 1 and -1 → (sp(1) + sp(-1))/2 = 0.813262; position 0 is ignored."""
    chosen = torch.tensor([[100.0, 1.0, 0.0]], requires_grad=True)
    rejected = torch.tensor([[-100.0, 0.0, 1.0]])
    span = torch.tensor([[False, True, True]])
    out = reward_loss_tokenwise(chosen, rejected, span)
    assert_close(out.losses, torch.tensor([0.813262]), atol=1e-6, rtol=0)
    assert_close(out.margins, torch.tensor([0.0]))
    out.losses.sum().backward()
    assert chosen.grad[0, 0] == 0


def test_tokenwise_with_one_position_equals_sequencewise():
    chosen, rejected = torch.randn(4, 1), torch.randn(4, 1)
    span = torch.ones(4, 1, dtype=torch.bool)
    seq = reward_loss_sequencewise(chosen[:, 0], rejected[:, 0], regularization=0.3)
    tok = reward_loss_tokenwise(chosen, rejected, span, regularization=0.3)
    assert_close(tok.losses, seq.losses)
    safe = torch.tensor([True, False, True, False])
    seq_c = cost_loss_sequencewise(chosen[:, 0], rejected[:, 0], ~safe, safe, regularization=0.3)
    tok_c = cost_loss_tokenwise(chosen, rejected, ~safe, safe, span, regularization=0.3)
    for a, b in zip(seq_c, tok_c, strict=True):
        assert_close(a, b)


def test_cost_hand_values():
    """Unsafer response unsafe with C = 1, safer response safe with C = -1:
    sp(1 - (-1)) + sp(+1·1) + sp(-1·-1) = sp(2) + 2·sp(1) = 0.753451; sign accuracy 1.
    Second pair: both safe, C_u = 0.5, C_s = 1: sp(-0.5) + sp(-0.5) + sp(-1) (both signs -1),
    and neither cost has the right sign."""
    out = cost_loss_sequencewise(
        torch.tensor([1.0, 0.5]),
        torch.tensor([-1.0, 1.0]),
        unsafer_is_safe=torch.tensor([False, True]),
        safer_is_safe=torch.tensor([True, True]),
    )
    second = 2 * math.log1p(math.exp(0.5)) + math.log1p(math.exp(1.0))
    assert_close(out.losses, torch.tensor([0.753451, second]), atol=1e-6, rtol=0)
    assert_close(out.accuracies, torch.tensor([1.0, 0.0]))
    assert_close(out.margins, torch.tensor([2.0, -0.5]))
    assert_close(out.sign_accuracies, torch.tensor([1.0, 0.0]))


def test_cost_sign_term_pushes_unsafe_up_and_safe_down():
    """With equal costs the BT term's gradients cancel pairwise; the sign term decides the direction."""
    unsafer = torch.zeros(2, requires_grad=True)
    safer = torch.zeros(2, requires_grad=True)
    is_safe = torch.tensor([False, True])
    out = cost_loss_sequencewise(unsafer, safer, is_safe, is_safe)
    out.losses.sum().backward()
    # BT part: -½ on the unsafer, +½ on the safer; sign part: -s/2. Descent raises unsafe costs (s = +1)
    # and lowers safe ones (s = -1).
    assert_close(unsafer.grad, torch.tensor([-1.0, 0.0]))
    assert_close(safer.grad, torch.tensor([0.0, 1.0]))
    assert_close(out.sign_accuracies, torch.tensor([0.0, 0.0]))  # C = 0 is on neither side


def test_registries():
    assert REWARD_LOSSES["sequence-wise"] is reward_loss_sequencewise
    assert REWARD_LOSSES["token-wise"] is reward_loss_tokenwise
    assert COST_LOSSES["sequence-wise"] is cost_loss_sequencewise
    assert COST_LOSSES["token-wise"] is cost_loss_tokenwise


def test_moderation_bce_hand_values():
    """Logit 0 gives BCE log 2 for either label; pos_weight 3 on label 0 makes its positive term 3·log 2.
    Row 0 labels [1, 0] → (3·log 2 + log 2)/2 = 2·log 2; row 1 [0, 0] → log 2."""
    logits = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    labels = torch.tensor([[1, 0], [0, 0]])
    out = moderation_loss(logits, labels, pos_weight=torch.tensor([3.0, 1.0]))
    assert_close(out.losses, torch.tensor([2 * math.log(2), math.log(2)]))
    confident = moderation_loss(torch.tensor([[4.0, -4.0], [4.0, -4.0]]), labels)
    assert_close(confident.label_accuracies, torch.tensor([1.0, 0.5]))
    assert_close(confident.exact_matches, torch.tensor([1.0, 0.0]))
