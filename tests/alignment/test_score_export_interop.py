"""Reward and cost exports load in transformers' `AutoModelForSequenceClassification` as they are: no
missing or freshly initialised weights, one label per head, and logits equal to the score model's own
scores on right- and left-padded batches (the class finds each row's last real token through the exported
`pad_token_id`). The same folder still reloads as a `ScoreModel`, normaliser included."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from omnialign.alignment.modules.score import ScoreModule
from omnialign.models.backbone import BackboneOptions
from omnialign.models.score import ScoreModel

TEXTS = [
    "<|user|>\nIs the sky blue?",
    "<|user|>\nName a colour.\n<|assistant|>\nRed, like a ripe tomato.",
    "ok",
]


def _trained_looking(module: ScoreModule, seed: int) -> ScoreModule:
    module.configure_model()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        module.model.head.weight.add_(torch.randn(module.model.head.weight.shape, generator=g))
    if module.model.normalizer is not None:
        module.model.normalizer.update(torch.randn(32, len(module.model.config.heads), generator=g) * 3 + 2)
    return module.eval()


@pytest.mark.parametrize(
    "settings",
    [
        {"objective": "reward", "normalize": True},
        {"objective": "reward", "heads": ["helpfulness", "harmlessness"], "normalize": True},
        {"objective": "cost", "normalize": True},
        {"objective": "cost", "loss_type": "token-wise"},
    ],
    ids=["reward", "reward-two-heads", "cost", "cost-token-wise"],
)
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_export_loads_as_sequence_classification_with_equal_scores(settings, padding_side, tmp_path):
    module = _trained_looking(ScoreModule(backbone=BackboneOptions(name="tiny:llama"), **settings), seed=1)
    folder = module.export_pretrained(tmp_path / "export")

    classifier, info = AutoModelForSequenceClassification.from_pretrained(folder, output_loading_info=True)
    assert not info["missing_keys"] and not info["mismatched_keys"] and not info["unexpected_keys"], info
    assert classifier.config.id2label == dict(enumerate(module.model.config.heads))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.padding_side = padding_side
    batch = tokenizer(TEXTS, return_tensors="pt", padding=True)
    assert (batch["attention_mask"] == 0).any(), "the batch must contain padding"
    with torch.no_grad():
        theirs = classifier.eval()(**batch).logits
        ours = module.model(**batch).scores
        reloaded = ScoreModel.from_pretrained(folder).eval()
        torch.testing.assert_close(reloaded.score(**batch), module.model.score(**batch), rtol=0, atol=0)
    torch.testing.assert_close(theirs, ours, rtol=1e-5, atol=1e-5)
    assert ours.std() > 0.1, "scores must differ between texts, or the comparison says little"
