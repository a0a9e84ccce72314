"""The align-anything-200k preference subsets: one core, eight subsets described as data.

Every subset shares the same shape: a prompt (with input media for the *-to-text subsets), two responses
(text, or generated media), per-dimension preferences with ratings and rationales, language feedback and an
overall preference. Subsets differ only in field names (`question` vs `prompt`, `p_response` vs `p_image`),
media modalities and the set of dimensions, so each subset is a `Subset` row and one builder turns any row
into a schema and a converter.

Preference fields hold 1 or 2 (the preferred response). We read 0 as "no preference" (a tie) so that a tie
under the selected dimension is counted as such rather than reported as a malformed value.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from omnialign.data.records.context import Context, MediaModality, base_meta, pick_dimension
from omnialign.data.records.fields import Field, Record, Schema, opt, req
from omnialign.data.records.format import RecordFormat
from omnialign.data.sample import LabelKey, Message, Part, Sample

OVERALL = "overall"
PREFERENCE_VALUES = (0, 1, 2)
RESPONSES = (1, 2)


@dataclass(frozen=True)
class Dimension:
    """A fine-grained preference dimension: `{letter}_{suffix}` preference, `{rating}_{k}` ratings,
    `{letter}_rationale_{k}` rationales."""

    name: str
    letter: str
    rating: str


PROMPT_FOLLOWING = Dimension("prompt_following", "p", "prompt_following_rate")
OBJECTIVE_RULES = Dimension("objective_rules", "o", "objective_rules_rate")
CLARITY = Dimension("clarity", "c", "clarity_rate")
INFORMATION_RICHNESS = Dimension("information_richness", "i", "information_richness_rate")
SAFETY = Dimension("safety", "s", "safety_rate")
AESTHETICS = Dimension("aesthetics", "a", "aesthetics_rate")
AUDIO_QUALITY = Dimension("audio_quality", "a", "audio_quality_rate")
CONSISTENCY = Dimension("consistency", "c", "consistency_rate")
TEMPORAL_CONSISTENCY = Dimension("temporal_consistency", "t", "temporal_consistency_rate")

TEXT_DIMENSIONS = (PROMPT_FOLLOWING, OBJECTIVE_RULES, CLARITY, INFORMATION_RICHNESS, SAFETY)


@dataclass(frozen=True)
class Subset:
    """How one align-anything subset spells the shared core.

    `responses` lists the parts of each response as (field pattern with `{k}`, modality); `label_suffix`
    is the suffix of its preference fields (`p_response`, `p_image`, ...); `response_feedback` are
    per-response language-feedback field patterns and `feedback` per-row ones.
    """

    name: str
    prompt: Field
    inputs: tuple[tuple[str, MediaModality], ...]
    responses: tuple[tuple[str, MediaModality | None], ...]
    label_suffix: str
    dimensions: tuple[Dimension, ...]
    response_feedback: tuple[str, ...] = ("text_critique_{k}",)
    feedback: tuple[str, ...] = ("overall_textfeedback",)
    extra: tuple[Field, ...] = ()

    @property
    def overall_field(self) -> str:
        return f"overall_{self.label_suffix}"

    def preference_field(self, dimension: str) -> str:
        if dimension == OVERALL:
            return self.overall_field
        letter = next(d.letter for d in self.dimensions if d.name == dimension)
        return f"{letter}_{self.label_suffix}"


_QUESTION = req("question", "str", aliases=("prompt",))
_PROMPT = req("prompt", "str", aliases=("question",))
_TEXT_RESPONSES: tuple[tuple[str, MediaModality | None], ...] = (("response_{k}", None),)

SUBSETS: dict[str, Subset] = {
    subset.name: subset
    for subset in (
        Subset("text-to-text", _QUESTION, (), _TEXT_RESPONSES, "response", TEXT_DIMENSIONS),
        Subset(
            "text-image-to-text",
            _QUESTION,
            (("image", "image"),),
            _TEXT_RESPONSES,
            "response",
            TEXT_DIMENSIONS,
        ),
        Subset(
            "text-audio-to-text",
            _PROMPT,
            (("audio_path", "audio"),),
            _TEXT_RESPONSES,
            "response",
            TEXT_DIMENSIONS,
            extra=(opt("case", "str"), opt("caption", "str"), opt("prompt_sha256", "str")),
        ),
        Subset(
            "text-video-to-text",
            _PROMPT,
            (("video_path", "video"),),
            _TEXT_RESPONSES,
            "response",
            TEXT_DIMENSIONS,
        ),
        Subset(
            "text-to-image",
            _PROMPT,
            (),
            (("image_{k}", "image"),),
            "image",
            (PROMPT_FOLLOWING, OBJECTIVE_RULES, AESTHETICS, INFORMATION_RICHNESS, SAFETY),
        ),
        Subset(
            "text-to-audio",
            _PROMPT,
            (),
            (("response_{k}", "audio"),),
            "audio",
            (PROMPT_FOLLOWING, AUDIO_QUALITY, CONSISTENCY, INFORMATION_RICHNESS, SAFETY),
            response_feedback=("text_{k}_feedback",),
            feedback=("overall_textfeedback", "refine_prompt", "reasoning"),
        ),
        Subset(
            "text-to-video",
            _PROMPT,
            (),
            (("video_{k}", "video"),),
            "video",
            (PROMPT_FOLLOWING, AESTHETICS, TEMPORAL_CONSISTENCY, INFORMATION_RICHNESS, SAFETY),
        ),
        Subset(
            "text-image-to-text-image",
            _QUESTION,
            (("image", "image"),),
            (("response_{k}", None), ("image_{k}", "image")),
            "response",
            (PROMPT_FOLLOWING, OBJECTIVE_RULES, AESTHETICS, INFORMATION_RICHNESS, CONSISTENCY, SAFETY),
        ),
    )
}


def _per_response(pattern: str, *kinds: Any, required: bool = False, **options: Any) -> tuple[Field, ...]:
    return tuple(Field(pattern.format(k=k), kinds, required=required, **options) for k in RESPONSES)


def _dimension_fields(subset: Subset, dimension: Dimension) -> tuple[Field, ...]:
    return (
        opt(f"{dimension.letter}_{subset.label_suffix}", "int", choices=PREFERENCE_VALUES),
        *_per_response(dimension.rating + "_{k}", "float"),
        *_per_response(dimension.letter + "_rationale_{k}", "str"),
    )


def build_schema(subset: Subset) -> Schema:
    """The full field list of a subset: the shared core with this subset's names filled in."""
    fields: list[Field] = [subset.prompt]
    fields += [req(name, "media") for name, _ in subset.inputs]
    for pattern, modality in subset.responses:
        fields += _per_response(pattern, "media" if modality else "str", required=True)
    fields += _per_response("res_{k}_from", "str") + _per_response("model_{k}", "str")
    for dimension in subset.dimensions:
        fields += _dimension_fields(subset, dimension)
    for pattern in subset.response_feedback:
        fields += _per_response(pattern, "str")
    fields += [opt(name, "str") for name in subset.feedback]
    fields += [opt(subset.overall_field, "int", choices=PREFERENCE_VALUES), *subset.extra]
    return Schema(f"align-anything/{subset.name}", tuple(fields))


def _index(value: int | None) -> int | None:
    """1/2 → 0/1; a tie (0) → -1; absent stays `None`."""
    return None if value is None else value - 1


def _response(subset: Subset, record: Record, k: int, ctx: Context) -> tuple[Part, ...]:
    parts = []
    for pattern, modality in subset.responses:
        name = pattern.format(k=k)
        value = record[name]
        parts.append(Part.of_text(value) if modality is None else ctx.media_part(value, modality, name))
    return tuple(parts)


def _pairs(record: Record, pattern: str) -> tuple[Any, Any]:
    first, second = (record[pattern.format(k=k)] for k in RESPONSES)
    return first, second


def _meta(subset: Subset, record: Record, name: str) -> dict[str, Any]:
    return {
        **base_meta(record, name),
        "provenance": tuple(record[f"res_{k}_from"] or record[f"model_{k}"] for k in RESPONSES),
        "ratings": {d.name: _pairs(record, d.rating + "_{k}") for d in subset.dimensions},
        "rationales": {d.name: _pairs(record, d.letter + "_rationale_{k}") for d in subset.dimensions},
        "response_feedback": {p: _pairs(record, p) for p in subset.response_feedback},
        "feedback": {name: record[name] for name in subset.feedback},
    }


def to_sample(subset: Subset, record: Record, ctx: Context) -> Sample:
    """One user turn (input media, then the prompt text), two responses, labels under the chosen dimension."""
    prompt_parts = [ctx.media_part(record[name], modality, name) for name, modality in subset.inputs]
    prompt_parts.append(Part.of_text(record[subset.prompt.name]))
    preferences = {OVERALL: _index(record[subset.overall_field])}
    preferences |= {d.name: _index(record[subset.preference_field(d.name)]) for d in subset.dimensions}
    field = subset.preference_field(ctx.dimension)
    chosen = pick_dimension(preferences, ctx.dimension, field, record.location)
    return Sample(
        prompt=(Message("user", tuple(prompt_parts)),),
        responses=tuple(_response(subset, record, k, ctx) for k in RESPONSES),
        labels={LabelKey.CHOSEN: chosen, LabelKey.DIMENSIONS: preferences},
        meta=_meta(subset, record, f"align-anything/{subset.name}"),
    )


def align_anything_format(subset_name: str) -> RecordFormat:
    """The record format of one subset, e.g. `align_anything_format("text-to-image")`."""
    subset = SUBSETS[subset_name]
    return RecordFormat(
        name=f"align-anything/{subset.name}",
        schema=build_schema(subset),
        to_sample=partial(to_sample, subset),
        dimensions=(OVERALL, *(d.name for d in subset.dimensions)),
    )
