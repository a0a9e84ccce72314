"""Score models (reward, cost, preference dimensions, moderation) over any backbone: linear heads on the
hidden state of the backbone's base model (no LM head, so no `[B, T, vocab]` logits are ever computed).

A bias-free score model (`ScoreConfig.bias=False`: reward and cost models) is saved in transformers'
sequence-classification layout (`<Family>ForSequenceClassification`: base model under its prefix, the heads
as `score.weight`, one label per head), so TRL, OpenRLHF and reward servers load it with
`AutoModelForSequenceClassification` as it is, and its logits are `ScoreModel.forward` scores (raw: the
normaliser is OmniAlign's own and stays in `score_head.safetensors`). transformers' class has no bias, hence
the condition; a biased head (moderation classifiers, PPO critics: neither is served as a reward) is saved as
the base model plus OmniAlign's head files, which only `ScoreModel.from_pretrained` reads.

The sequence score is read at the last *real* token, found from the attention mask, so a left-padded and a
right-padded batch give the same scores. A one-row text batch (`packing: true`, or a preference batch with
`shared_prefix: true`, where each pair's prompt runs once) is scored per sequence and handed back as the
right-padded batch of the same sequences would be (`row_sequences`), so the objectives read both alike.
Several heads can share one backbone (one per preference dimension: align-anything's five, SafeSora's
helpfulness/harmlessness/sub-preferences; or one per harm category for moderation), trained together from
per-dimension labels in one run. Token-wise scores (the head on every position) serve token-level rewards.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from transformers import AutoModel, AutoModelForSequenceClassification, PreTrainedModel

from omnialign.data.collate import LABEL_KEYS, PREDICTOR_IDS, pad_sequences
from omnialign.data.encode import ChatEncoder
from omnialign.data.interleaved import RESPONSE_PART, RESPONSE_PIXELS
from omnialign.data.sample import Sample
from omnialign.models.any_to_any import adapter_for
from omnialign.models.backbone import DTYPES, BackboneOptions, enable_activation_checkpointing
from omnialign.models.generation.block_attention import row_attention
from omnialign.models.generation.prefix_mask import ancestor_mask, prefix_attention_mask
from omnialign.models.tiny import tiny_spec

HEAD_FILE = "score_head.safetensors"
CONFIG_FILE = "score_config.json"
NormalizerKind = Literal["affine", "scale"]


def last_token_index(attention_mask: Tensor) -> Tensor:
    """Index of the last position whose mask is 1, per row, whatever side the padding is on."""
    positions = torch.arange(attention_mask.shape[-1], device=attention_mask.device)
    return (attention_mask.long() * (positions + 1)).argmax(dim=-1)


def row_layout(batch: dict[str, Tensor]) -> dict[str, Tensor]:
    """The keys that say how a one-row batch holds its sequences (`segment_ids`, and `predictor_ids` for a
    shared-prefix row): labels for the objective, but the score model needs them to find each sequence."""
    return {key: batch[key] for key in ("segment_ids", PREDICTOR_IDS) if key in batch}


def row_sequences(segment_ids: Tensor, ancestors: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The S sequences of a one-row batch as `[S, T]` row positions, in order and right-padded with 0, and
    the `[S, T]` attention mask of the right-padded batch of the same sequences.

    In a packed row sequence k is segment k. In a shared-prefix row it is the last token of segment k with
    that token's chain of predictors (`ancestors`: the row's `ancestor_mask`, `[1, N, N]`, the same tensor
    its attention mask is made from): a second response's chain runs back through its prompt, so the
    prompt, run once, is read by both sequences."""
    segments = segment_ids[0]
    width = segments.shape[0]
    index = torch.arange(width, device=segments.device)
    count = int(segments.max()) + 1
    if ancestors is None:
        members = segments == torch.arange(count, device=segments.device).unsqueeze(-1)
    else:
        last = torch.full((count,), -1, device=segments.device).scatter_reduce(0, segments, index, "amax")
        members = ancestors[0, last]
    order = torch.where(members, index, width).sort(dim=-1).values[:, : int(members.sum(-1).max())]
    real = order < width
    return order.masked_fill(~real, 0), real.long()


class ScoreNormalizer(nn.Module):
    """Running mean/variance of the scores seen in training, applied when scores are read out.

    `affine` maps scores to zero mean and unit variance (rewards: only differences matter). `scale` divides by
    the standard deviation only, because a cost's *sign* carries meaning (C > 0 unsafe) and must survive.
    Statistics are buffers, so they are saved with the model and move with it between devices.
    """

    def __init__(self, num_heads: int, kind: NormalizerKind, momentum: float | None = None) -> None:
        super().__init__()
        self.kind = kind
        self.momentum = momentum  # None: exact cumulative statistics; else an exponential moving average
        self.register_buffer("mean", torch.zeros(num_heads))
        self.register_buffer("var", torch.ones(num_heads))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, scores: Tensor) -> None:
        """Fold a batch of scores `[N, heads]` into the statistics (population variance)."""
        scores = scores.detach().float().reshape(-1, self.mean.shape[0])
        batch_mean, batch_var, n = scores.mean(0), scores.var(0, unbiased=False), scores.shape[0]
        if self.momentum is not None and self.count > 0:
            self.mean.lerp_(batch_mean, self.momentum)
            self.var.lerp_(batch_var, self.momentum)
        else:  # parallel-variance merge (Chan et al.), exact over everything seen
            seen = self.count.float()
            total = seen + n
            delta = batch_mean - self.mean
            self.mean.add_(delta * n / total)
            self.var.copy_((self.var * seen + batch_var * n + delta**2 * seen * n / total) / total)
        self.count.add_(n)

    def forward(self, scores: Tensor) -> Tensor:
        std = self.var.clamp_min(1e-8).sqrt().to(scores.dtype)
        if self.kind == "affine":
            return (scores - self.mean.to(scores.dtype)) / std
        return scores / std


@dataclass
class ScoreConfig:
    """What, besides the backbone's own config, a score model needs to be rebuilt."""

    heads: list[str]
    """One name per output: a preference dimension, a harm category, or just `reward` / `cost`."""
    normalizer: NormalizerKind | None = None
    """Running-statistics normaliser used by `ScoreModel.score`: `affine` (rewards) or `scale` (costs)."""
    normalizer_momentum: float | None = None
    """None: exact statistics over all training scores; else the weight of each new batch (EMA)."""
    bias: bool = True
    """Whether the heads have a bias. Without one (Bradley-Terry rewards never train it; TRL, OpenRLHF and
    Safe RLHF score heads have none) the model saves in transformers' sequence-classification layout."""

    def __post_init__(self) -> None:
        if not self.heads:
            raise ValueError("a score model needs at least one head")
        if len(set(self.heads)) != len(self.heads):
            raise ValueError(f"head names must be unique, got {self.heads}")
        if self.normalizer not in (None, "affine", "scale"):
            raise ValueError(f"normalizer must be 'affine', 'scale' or None, got '{self.normalizer}'")


@dataclass
class ScoreOutput:
    scores: Tensor
    """[B, heads] float32: at the last real token."""
    token_scores: Tensor
    """[B, T, heads] float32: at every position (token-wise objectives)."""


class ScoreModel(nn.Module):
    """A base model (any `AutoModel`: decoder, vision-language, audio-language) plus linear score heads."""

    def __init__(self, backbone: PreTrainedModel, config: ScoreConfig) -> None:
        super().__init__()
        self.backbone = backbone
        self.config = config
        hidden = backbone.config.get_text_config().hidden_size
        self.head = nn.Linear(hidden, len(config.heads), bias=config.bias, dtype=backbone.dtype)
        nn.init.normal_(self.head.weight, std=1.0 / (hidden + 1) ** 0.5)
        if self.head.bias is not None:
            nn.init.zeros_(self.head.bias)
        self.normalizer = (
            ScoreNormalizer(len(config.heads), config.normalizer, config.normalizer_momentum)
            if config.normalizer is not None
            else None
        )

    def head_index(self, name: str) -> int:
        if name not in self.config.heads:
            raise KeyError(f"no score head '{name}'; heads: {self.config.heads}")
        return self.config.heads.index(name)

    def forward(
        self,
        attention_mask: Tensor | None = None,
        segment_ids: Tensor | None = None,
        predictor_ids: Tensor | None = None,
        **inputs: Tensor,
    ) -> ScoreOutput:
        """Raw (unnormalised) scores; training objectives use these. An interleaved batch of an any-to-any
        backbone (with `response_part`, see `omnialign.data.interleaved.response_image_inputs`) is read by
        the family's adapter, so response images count as the VQ codes the model writes. A one-row batch
        (`segment_ids`; `predictor_ids` too for shared-prefix rows) has no 2D attention mask: see
        `_forward_row`."""
        if segment_ids is not None:
            return self._forward_row(segment_ids, predictor_ids, **inputs)
        if attention_mask is None:
            raise ValueError("a padded batch needs its attention_mask (a one-row batch: its segment_ids)")
        if RESPONSE_PART in inputs:
            batch = {"attention_mask": attention_mask, **inputs}
            hidden = adapter_for(self.backbone).hidden_states(self.backbone, batch)
        else:
            hidden = self.backbone(attention_mask=attention_mask, use_cache=False, **inputs).last_hidden_state
        token_scores = self.head(hidden).float()
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        return ScoreOutput(token_scores[rows, last_token_index(attention_mask)], token_scores)

    def _forward_row(
        self, segment_ids: Tensor, predictor_ids: Tensor | None, **inputs: Tensor
    ) -> ScoreOutput:
        """A packed or shared-prefix row, run once, scored per sequence as its right-padded batch would be.

        A shared-prefix row gets the explicit mask its predictors define (the one DPO uses, refused for
        attention implementations that cannot take it); a packed row gets none, so transformers keeps its
        sequences apart from the restarting position ids. Token scores are gathered into `[S, T, heads]`,
        so each sequence's score is the one at its last token, as in a padded batch."""
        if RESPONSE_PART in inputs:
            raise ValueError("packed and shared-prefix batches are text-only; score interleaved ones padded")
        ancestors = None
        if predictor_ids is not None:
            ancestors = ancestor_mask(predictor_ids)
            inputs["attention_mask"] = prefix_attention_mask(self.backbone, ancestors)
        with row_attention(self.backbone, segment_ids, predictor_ids, ancestors) as blocks:
            hidden = self.backbone(use_cache=False, **inputs, **blocks).last_hidden_state
        index, attention = row_sequences(segment_ids, ancestors)
        token_scores = self.head(hidden[0]).float()[index]
        rows = torch.arange(index.shape[0], device=index.device)
        return ScoreOutput(token_scores[rows, last_token_index(attention)], token_scores)

    @torch.no_grad()
    def score(self, attention_mask: Tensor, **inputs: Tensor) -> Tensor:
        """Scores `[B, heads]` for use downstream (RL, evaluation): normalised when a normaliser is set."""
        scores = self(attention_mask=attention_mask, **inputs).scores
        return self.normalizer(scores) if self.normalizer is not None else scores

    @torch.no_grad()
    def score_batch(self, batch: dict[str, Tensor], normalised: bool = True) -> Tensor:
        """Float32 scores `[B, heads]` of an encoded batch (a collated or rollout batch: training targets
        are ignored, an interleaved response's parts are read); raw logits when `normalised` is False."""
        inputs = {
            k: v for k, v in batch.items() if k not in LABEL_KEYS or k in (RESPONSE_PART, RESPONSE_PIXELS)
        }
        attention_mask = inputs.pop("attention_mask")
        if normalised:
            return self.score(attention_mask=attention_mask, **inputs).float()
        return self(attention_mask=attention_mask, **inputs).scores.float()

    @torch.no_grad()
    def score_samples(
        self, samples: Sequence[Sample], encoder: ChatEncoder, normalised: bool = True, batch_size: int = 8
    ) -> Tensor:
        """Float32 scores `[N, heads]` of each sample's first response, encoded by `encoder` (the model's
        own processor: plain chat or interleaved) in batches of `batch_size` on the model's device.

        The one scoring path for every caller that holds samples rather than a batch: RL scorers with their
        own processor, prompt-refinement judges, evaluation judges."""
        if not samples:
            return torch.zeros(0, len(self.config.heads))
        device = next(self.parameters()).device
        tokenizer = encoder.tokenizer
        scores = []
        for start in range(0, len(samples), batch_size):
            encoded = [encoder.encode(sample, 0) for sample in samples[start : start + batch_size]]
            batch = pad_sequences(encoded, tokenizer.pad_token_id, side=tokenizer.padding_side)
            scores.append(self.score_batch({k: v.to(device) for k, v in batch.items()}, normalised))
        return torch.cat(scores)

    def sequence_classifier(self, pad_token_id: int | None) -> PreTrainedModel | None:
        """This model as transformers' `<Family>ForSequenceClassification` sharing its weights (no copy), or
        None where that layout cannot hold it (a biased head, a family without such a class).
        `pad_token_id` lets the class find each row's last real token, as `last_token_index` does."""
        config = copy.deepcopy(self.backbone.config)
        classifier_class = AutoModelForSequenceClassification._model_mapping.get(type(config), None)
        if self.config.bias or classifier_class is None:
            return None
        config.num_labels = len(self.config.heads)
        config.id2label = dict(enumerate(self.config.heads))
        config.label2id = {name: index for index, name in enumerate(self.config.heads)}
        config.pad_token_id = pad_token_id
        config.architectures = [classifier_class.__name__]
        with torch.device("meta"):
            classifier = classifier_class(config)
        head = getattr(classifier, "score", None)
        if not isinstance(head, nn.Linear) or head.bias is not None:
            return None
        setattr(classifier, classifier.base_model_prefix, self.backbone)
        classifier.score = self.head
        return classifier

    def save_pretrained(self, directory: str | Path, pad_token_id: int | None = None) -> None:
        """Sequence-classification layout where possible (see the module docstring), else the backbone in
        transformers' format; the heads, normaliser and `ScoreConfig` beside it either way."""
        directory = Path(directory)
        classifier = self.sequence_classifier(pad_token_id)
        (classifier or self.backbone).save_pretrained(directory)
        head_state = {f"head.{k}": v for k, v in self.head.state_dict().items()}
        if self.normalizer is not None:
            head_state |= {f"normalizer.{k}": v for k, v in self.normalizer.state_dict().items()}
        save_file({k: v.detach().contiguous() for k, v in head_state.items()}, directory / HEAD_FILE)
        (directory / CONFIG_FILE).write_text(json.dumps(asdict(self.config), indent=2))

    @classmethod
    def from_pretrained(cls, directory: str | Path, **model_kwargs: Any) -> ScoreModel:
        """Load a folder written by `save_pretrained`; `model_kwargs` go to `AutoModel.from_pretrained`."""
        directory = Path(directory)
        config = ScoreConfig(**json.loads((directory / CONFIG_FILE).read_text()))
        model = cls(AutoModel.from_pretrained(directory, **model_kwargs), config)
        state = load_file(directory / HEAD_FILE)
        model.head.load_state_dict(_with_prefix(state, "head."))
        if model.normalizer is not None:
            model.normalizer.load_state_dict(_with_prefix(state, "normalizer."))
        return model


def _with_prefix(state: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def load_base_model(options: BackboneOptions, processor: Any) -> PreTrainedModel:
    """The backbone's base model (`AutoModel`: no LM head; media towers included for multimodal families)."""
    kwargs: dict[str, Any] = {"dtype": DTYPES[options.dtype]}
    if options.attn_implementation is not None:
        kwargs["attn_implementation"] = options.attn_implementation
    if options.is_tiny:
        config = tiny_spec(options.name).make_config(getattr(processor, "tokenizer", processor))
        with torch.random.fork_rng(devices=[]):  # the caller's RNG stream stays untouched
            torch.manual_seed(options.seed)
            model = AutoModel.from_config(config, **kwargs)
    else:
        model = AutoModel.from_pretrained(options.location, **kwargs, **options.model_kwargs)
    if options.gradient_checkpointing:
        enable_activation_checkpointing(model)
    return model


def build_score_model(options: BackboneOptions, processor: Any, config: ScoreConfig) -> ScoreModel:
    """A score model on the backbone named by `options` (hub id, local folder, GGUF or `tiny:<name>`); the
    heads are initialised from `options.seed`, so two builds with the same options are identical."""
    if options.lora is not None:
        raise ValueError("score models train all backbone weights; LoRA is not supported for them yet")
    backbone = load_base_model(options, processor)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(options.seed)
        return ScoreModel(backbone, config)
