"""NLL of the response tokens in its two per-example forms."""

import pytest
import torch
from torch.testing import assert_close

from omnialign.alignment.losses.sft import sft_nll

# per-token log-probs [[_, -1, -2, -3], [_, _, -0.5, -1.5], [_, _, _, _]] over the response tokens:
SUMS = torch.tensor([-6.0, -2.0, 0.0])
COUNTS = torch.tensor([3, 2, 0])


def test_token_form_sums_and_reduces_to_the_token_mean():
    """Sums over response tokens: [1+2+3, 0.5+1.5, 0] = [6, 2, 0]; tokens [3, 2, 0]; token mean 8/5."""
    out = sft_nll(SUMS, COUNTS, averaging="token")
    assert_close(out.loss, torch.tensor([6.0, 2.0, 0.0]))
    assert_close(out.num_tokens, torch.tensor([3.0, 2.0, 0.0]))
    assert_close(out.loss.sum() / out.num_tokens.sum(), torch.tensor(1.6))


def test_sequence_form_averages_per_example():
    """Means: [6/3, 2/2, 0 (no response tokens)] = [2, 1, 0]; sequence mean 1."""
    out = sft_nll(SUMS, COUNTS, averaging="sequence")
    assert_close(out.loss, torch.tensor([2.0, 1.0, 0.0]))
    assert_close(out.loss.mean(), torch.tensor(1.0))


def test_gradient_is_minus_one_over_length_per_example():
    sums = SUMS.clone().requires_grad_()
    sft_nll(sums, COUNTS, averaging="sequence").loss.sum().backward()
    assert_close(sums.grad, torch.tensor([-1 / 3, -1 / 2, -1.0]))


def test_unknown_averaging_is_an_error():
    with pytest.raises(ValueError, match="averaging"):
        sft_nll(SUMS, COUNTS, averaging="batch")  # type: ignore[arg-type]
