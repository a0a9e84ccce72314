"""Masked token NLL in its two per-example forms."""

import pytest
import torch
from torch.testing import assert_close

from omnialign.alignment.losses.sft import sft_nll

LOGPROBS = torch.tensor([[0.0, -1.0, -2.0, -3.0], [0.0, -4.0, -0.5, -1.5], [0.0, -9.0, -9.0, -9.0]])
MASK = torch.tensor([[0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0]])


def test_token_form_sums_and_reduces_to_the_token_mean():
    """Sums over response tokens: [1+2+3, 0.5+1.5, 0] = [6, 2, 0]; tokens [3, 2, 0]; token mean 8/5."""
    out = sft_nll(LOGPROBS, MASK, averaging="token")
    assert_close(out.loss, torch.tensor([6.0, 2.0, 0.0]))
    assert_close(out.num_tokens, torch.tensor([3.0, 2.0, 0.0]))
    assert_close(out.loss.sum() / out.num_tokens.sum(), torch.tensor(1.6))


def test_sequence_form_averages_per_example():
    """Means: [6/3, 2/2, 0 (no response tokens)] = [2, 1, 0]; sequence mean 1."""
    out = sft_nll(LOGPROBS, MASK, averaging="sequence")
    assert_close(out.loss, torch.tensor([2.0, 1.0, 0.0]))
    assert_close(out.loss.mean(), torch.tensor(1.0))


def test_gradient_only_on_response_tokens():
    logprobs = LOGPROBS.clone().requires_grad_()
    sft_nll(logprobs, MASK, averaging="sequence").loss.sum().backward()
    expected = -MASK.float() / torch.tensor([[3.0], [2.0], [1.0]])
    assert_close(logprobs.grad, expected)


def test_unknown_averaging_is_an_error():
    with pytest.raises(ValueError, match="averaging"):
        sft_nll(LOGPROBS, MASK, averaging="batch")  # type: ignore[arg-type]
