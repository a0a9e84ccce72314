"""The score model: the head reads the last real token whatever the padding side, the normaliser's running
statistics equal a direct computation, and export → reload scores identically."""

from __future__ import annotations

import pytest
import torch

from omnialign.data.collate import pad_sequences
from omnialign.data.encode import EncodedSequence
from omnialign.models.backbone import BackboneOptions, load_processor
from omnialign.models.score import (
    ScoreConfig,
    ScoreModel,
    ScoreNormalizer,
    build_score_model,
    last_token_index,
)


def _model(name: str = "tiny:llama", seed: int = 0, **config) -> tuple[ScoreModel, object]:
    options = BackboneOptions(name=name, seed=seed)
    processor = load_processor(options)
    return build_score_model(options, processor, ScoreConfig(**{"heads": ["a", "b"], **config})), processor


def _sequences(lengths: list[int], vocab: int, seed: int = 0) -> list[EncodedSequence]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for n in lengths:
        ids = torch.randint(10, vocab, (n,), generator=g)
        out.append(EncodedSequence(ids, torch.zeros_like(ids)))
    return out


def test_last_token_index_by_hand():
    mask = torch.tensor([[1, 1, 0, 0], [0, 0, 1, 1], [1, 1, 1, 1], [0, 1, 0, 0]])
    assert last_token_index(mask).tolist() == [1, 3, 3, 1]


@pytest.mark.parametrize("name", ["tiny:llama", "tiny:qwen2"])
def test_left_and_right_padding_give_the_same_scores(name):
    model, processor = _model(name)
    model.eval()
    tokenizer = getattr(processor, "tokenizer", processor)
    sequences = _sequences([3, 9, 6], len(tokenizer))
    with torch.no_grad():
        scores = {}
        for side in ("left", "right"):
            batch = pad_sequences(sequences, tokenizer.pad_token_id, side=side)
            batch.pop("response_mask")
            scores[side] = model(**batch).scores
        alone = [
            model(input_ids=s.input_ids[None], attention_mask=torch.ones(1, len(s), dtype=torch.long)).scores
            for s in sequences
        ]
    torch.testing.assert_close(scores["left"], scores["right"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(scores["right"], torch.cat(alone), rtol=1e-5, atol=1e-5)
    assert scores["right"].shape == (3, 2)


def test_the_score_is_the_head_at_the_last_real_token():
    model, processor = _model()
    tokenizer = getattr(processor, "tokenizer", processor)
    batch = pad_sequences(_sequences([4, 7], len(tokenizer)), tokenizer.pad_token_id, side="right")
    batch.pop("response_mask")
    with torch.no_grad():
        out = model(**batch)
        hidden = model.backbone(**batch).last_hidden_state
    expected = torch.stack([model.head(hidden[0, 3]), model.head(hidden[1, 6])])
    torch.testing.assert_close(out.scores, expected)
    torch.testing.assert_close(out.token_scores[1, 6], out.scores[1])


def test_normaliser_statistics_equal_a_direct_computation():
    batches = [torch.randn(n, 2, generator=torch.Generator().manual_seed(n)) * 3 + 1 for n in (5, 8, 3)]
    normaliser = ScoreNormalizer(2, "affine")
    for batch in batches:
        normaliser.update(batch)
    everything = torch.cat(batches)
    torch.testing.assert_close(normaliser.mean, everything.mean(0))
    torch.testing.assert_close(normaliser.var, everything.var(0, unbiased=False))
    assert int(normaliser.count) == 16
    normalised = normaliser(everything)
    torch.testing.assert_close(normalised.mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(normalised.std(0, unbiased=False), torch.ones(2))


def test_scale_normaliser_keeps_the_sign_and_momentum_is_an_ema():
    scale = ScoreNormalizer(1, "scale")
    scale.update(torch.tensor([[2.0], [4.0]]))  # mean 3, population variance 1
    assert scale(torch.tensor([[-0.5], [0.5]])).tolist() == [[-0.5], [0.5]]
    ema = ScoreNormalizer(1, "affine", momentum=0.25)
    ema.update(torch.tensor([[2.0], [4.0]]))  # first batch: taken as is
    ema.update(torch.tensor([[10.0], [10.0]]))  # mean 3 + 0.25 * (10 - 3), var 1 + 0.25 * (0 - 1)
    assert ema.mean.item() == pytest.approx(4.75) and ema.var.item() == pytest.approx(0.75)


def test_export_and_reload_score_identically(tmp_path):
    model, processor = _model(normalizer="affine")
    model.normalizer.update(torch.randn(16, 2) * 2 + 5)
    with torch.no_grad():
        model.head.bias.fill_(0.3)  # a trained-looking head, not the zero-bias init
    model.save_pretrained(tmp_path)
    reloaded = ScoreModel.from_pretrained(tmp_path)
    tokenizer = getattr(processor, "tokenizer", processor)
    batch = pad_sequences(_sequences([5, 2], len(tokenizer)), tokenizer.pad_token_id)
    batch.pop("response_mask")
    torch.testing.assert_close(reloaded.score(**batch), model.eval().score(**batch), rtol=0, atol=0)
    assert reloaded.config == model.config
    assert not torch.equal(model.score(**batch), model(**batch).scores), "the normaliser must be applied"


def test_builds_are_deterministic_in_the_seed():
    first, _ = _model(seed=3)
    second, _ = _model(seed=3)
    other, _ = _model(seed=4)
    torch.testing.assert_close(first.head.weight, second.head.weight, rtol=0, atol=0)
    assert not torch.equal(first.head.weight, other.head.weight)


@pytest.mark.parametrize(
    ("config", "message"),
    [({"heads": []}, "at least one head"), ({"heads": ["a", "a"]}, "unique"), ({"normalizer": "z"}, "z")],
)
def test_score_config_rejects_bad_values(config, message):
    with pytest.raises(ValueError, match=message):
        ScoreConfig(**{"heads": ["a"], **config})
