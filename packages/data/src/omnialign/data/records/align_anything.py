"""The align-anything-200k preference subsets: one core, eight subsets described as data.

Every subset shares the same shape: a prompt (with input media for the *-to-text subsets), two responses
(text, generated media, or interleaved text and images), per-dimension preferences with ratings and
rationales, language feedback and an overall preference. Subsets differ only in field names (`question` vs
`prompt`, `p_response` vs `p_image`), media modalities, the set of dimensions and the letter each dimension
is filed under, so each subset is a `Subset` row and one builder turns any row into a schema and a
converter.

Preference fields hold 1 or 2 (the preferred response). We read 0 as "no preference" (a tie) so that a tie
under the selected dimension is counted as such rather than reported as a malformed value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from omnialign.data.records.context import Context, MediaModality, base_meta, pick_dimension
from omnialign.data.records.fields import Field, FieldSet, Record, opt, req
from omnialign.data.records.schema import RecordSchema
from omnialign.data.sample import LabelKey, Message, Part, Sample

OVERALL = "overall"
PREFERENCE_VALUES = (0, 1, 2)
RESPONSES = (1, 2)


@dataclass(frozen=True)
class Dimension:
    """A fine-grained preference dimension: `{letter}_{suffix}` preference, `{rating}_{k}` ratings,
    `{letter}_rationale_{k}` rationales. Letters are per subset: text-to-audio writes audio quality under
    `o` and consistency under `a`, so a letter never identifies a dimension across subsets."""

    name: str
    letter: str
    rating: str


def _dim(name: str, letter: str, rating: str | None = None) -> Dimension:
    return Dimension(name, letter, rating or f"{name}_rate")


PROMPT_FOLLOWING = _dim("prompt_following", "p")
OBJECTIVE_RULES = _dim("objective_rules", "o")
CLARITY = _dim("clarity", "c")
INFORMATION_RICHNESS = _dim("information_richness", "i")
SAFETY = _dim("safety", "s")

TEXT_DIMENSIONS = (PROMPT_FOLLOWING, OBJECTIVE_RULES, CLARITY, INFORMATION_RICHNESS, SAFETY)


@dataclass(frozen=True)
class Subset:
    """How one align-anything subset spells the shared core.

    `responses` lists the parts of each response as (field pattern with `{k}`, modality); `label_suffix`
    is the suffix of its preference fields (`p_response`, `p_image`, ...); `response_feedback` are
    per-response language-feedback field patterns and `feedback` per-row ones; `provenance` the patterns
    naming the model behind each response (the first non-null one wins). With `media_lists`, a media field
    holds one item or a list of them and may be absent (interleaved text-image responses). With
    `external_media`, media are paths to files shipped beside the table, so a hub load needs `media_root`.
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
    provenance: tuple[str, ...] = ("res_{k}_from", "model_{k}")
    media_lists: bool = False
    external_media: bool = False

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
_GENERATED_FEEDBACK = ("overall_textfeedback", "refine_prompt", "reasoning")

# Field names below are checked against published material as packages/data/README.md ("Published field
# names") records: text-to-audio against the card's `dataset_info`; the letters of text-to-image,
# text-to-video and text-image-to-text-image are assumed there, and a config can remap them
# (`dimension_letters`, `columns`) without a code change.
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
            external_media=True,
        ),
        Subset(
            "text-to-image",
            _PROMPT,
            (),
            (("image_{k}", "image"),),
            "image",
            (PROMPT_FOLLOWING, OBJECTIVE_RULES, _dim("aesthetics", "a"), INFORMATION_RICHNESS, SAFETY),
            response_feedback=("text_{k}_feedback",),
            feedback=_GENERATED_FEEDBACK,
            provenance=("image_{k}_model",),
        ),
        Subset(
            "text-to-audio",
            _PROMPT,
            (),
            (("response_{k}", "audio"),),
            "audio",
            (
                PROMPT_FOLLOWING,
                _dim("audio_quality", "o"),
                _dim("consistency", "a"),
                INFORMATION_RICHNESS,
                SAFETY,
            ),
            response_feedback=("text_{k}_feedback",),
            feedback=_GENERATED_FEEDBACK,
            provenance=("res_{k}_from",),
        ),
        Subset(
            "text-to-video",
            _PROMPT,
            (),
            (("video_{k}", "video"),),
            "video",
            (
                PROMPT_FOLLOWING,
                _dim("aesthetics", "a", "aesthetic_rate"),
                INFORMATION_RICHNESS,
                _dim("video_objective_reality", "v"),
                _dim("temporal_consistency", "t"),
                _dim("content_coherence", "c"),
                _dim("motion_naturalness", "m"),
                SAFETY,
            ),
            response_feedback=("text_{k}_feedback",),
            feedback=_GENERATED_FEEDBACK,
            provenance=("video_{k}_model",),
            external_media=True,
        ),
        Subset(
            "text-image-to-text-image",
            _QUESTION,
            (("image_url", "image"),),
            (("response_{k}", None), ("output_image_url_{k}", "image")),
            "response",
            (
                PROMPT_FOLLOWING,
                OBJECTIVE_RULES,
                _dim("clarity_aesthetics", "ca", "ca_rate"),
                INFORMATION_RICHNESS,
                SAFETY,
            ),
            feedback=("feedback", "overall_textfeedback"),
            provenance=(),
            media_lists=True,
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


def _media_field(name: str, subset: Subset, required: bool) -> Field:
    if subset.media_lists:
        return opt(name, "media", "list", items=Field("item", ("media",)))
    return Field(name, ("media",), required=required)


def build_fields(subset: Subset) -> FieldSet:
    """The full field list of a subset: the shared core with this subset's names filled in."""
    fields: list[Field] = [subset.prompt]
    fields += [_media_field(name, subset, required=True) for name, _ in subset.inputs]
    for pattern, modality in subset.responses:
        if modality is None:
            fields += _per_response(pattern, "str", required=True)
        else:
            fields += [_media_field(pattern.format(k=k), subset, required=True) for k in RESPONSES]
    for pattern in subset.provenance:
        fields += _per_response(pattern, "str")
    for dimension in subset.dimensions:
        fields += _dimension_fields(subset, dimension)
    for pattern in subset.response_feedback:
        fields += _per_response(pattern, "str")
    fields += [opt(name, "str") for name in subset.feedback]
    fields += [opt(subset.overall_field, "int", choices=PREFERENCE_VALUES), *subset.extra]
    return FieldSet(f"align-anything/{subset.name}", tuple(fields))


def _index(value: int | None) -> int | None:
    """1/2 → 0/1; a tie (0) → -1; absent stays `None`."""
    return None if value is None else value - 1


def _media_parts(value: Any, modality: MediaModality, name: str, ctx: Context) -> list[Part]:
    """One part per media item: a single value, each element of a list (in order), none for an absent one."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [ctx.media_part(item, modality, f"{name}[{i}]") for i, item in enumerate(value)]
    return [ctx.media_part(value, modality, name)]


def _response(subset: Subset, record: Record, k: int, ctx: Context) -> tuple[Part, ...]:
    parts: list[Part] = []
    for pattern, modality in subset.responses:
        name = pattern.format(k=k)
        value = record[name]
        parts += [Part.of_text(value)] if modality is None else _media_parts(value, modality, name, ctx)
    return tuple(parts)


def _pairs(record: Record, pattern: str) -> tuple[Any, Any]:
    first, second = (record[pattern.format(k=k)] for k in RESPONSES)
    return first, second


def _provenance(subset: Subset, record: Record, k: int) -> str | None:
    names = (record[pattern.format(k=k)] for pattern in subset.provenance)
    return next((name for name in names if name is not None), None)


def _meta(subset: Subset, record: Record, name: str) -> dict[str, Any]:
    return {
        **base_meta(record, name),
        "provenance": tuple(_provenance(subset, record, k) for k in RESPONSES),
        "ratings": {d.name: _pairs(record, d.rating + "_{k}") for d in subset.dimensions},
        "rationales": {d.name: _pairs(record, d.letter + "_rationale_{k}") for d in subset.dimensions},
        "response_feedback": {p: _pairs(record, p) for p in subset.response_feedback},
        "feedback": {name: record[name] for name in subset.feedback},
    }


def to_sample(subset: Subset, record: Record, ctx: Context) -> Sample:
    """One user turn (input media, then the prompt text), two responses, labels under the chosen dimension."""
    prompt_parts = [
        part for name, modality in subset.inputs for part in _media_parts(record[name], modality, name, ctx)
    ]
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


def letter_columns(subset: Subset, letters: Mapping[str, str]) -> dict[str, str]:
    """A column map (field → column) that reads each named dimension from the files' own letter.

    `{"consistency": "x"}` reads consistency's preference from `x_<suffix>` and its rationales from
    `x_rationale_<k>`; its ratings keep their own names (rename those through `columns`).
    """
    known = {d.name: d for d in subset.dimensions}
    unknown = sorted(set(letters) - set(known))
    if unknown:
        raise ValueError(
            f"align-anything/{subset.name} has no dimensions {unknown}; "
            f"dimension_letters can name {sorted(known)}"
        )
    columns: dict[str, str] = {}
    for name, letter in letters.items():
        current = known[name].letter
        columns[f"{current}_{subset.label_suffix}"] = f"{letter}_{subset.label_suffix}"
        columns |= {f"{current}_rationale_{k}": f"{letter}_rationale_{k}" for k in RESPONSES}
    return columns


def align_anything_schema(subset_name: str) -> RecordSchema:
    """The record schema of one subset, e.g. `align_anything_schema("text-to-image")`."""
    subset = SUBSETS[subset_name]
    return RecordSchema(
        name=f"align-anything/{subset.name}",
        field_set=build_fields(subset),
        to_sample=partial(to_sample, subset),
        dimensions=(OVERALL, *(d.name for d in subset.dimensions)),
        remap_letters=partial(letter_columns, subset),
        external_media=subset.external_media,
    )
