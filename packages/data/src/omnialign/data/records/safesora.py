"""SafeSora: text-to-video preference pairs, per-video harm labels, and evaluation prompts.

Configs are JSON (or json.gz) lists. A video lives at `<video_dir>/<prompt_id>/<video_id>.mp4`; when the
caller names `media_root` that rule is used (as SafeSora's own loader does), otherwise the record's
`video_path` is resolved against the config's folder. The older sub-preference name `informativeness` is
accepted and normalised to `information`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omnialign.data.errors import RecordError
from omnialign.data.records.context import Context, base_meta, pick_dimension
from omnialign.data.records.fields import Field, FieldSet, Record, opt, req
from omnialign.data.records.schema import Check, RecordSchema
from omnialign.data.sample import LabelKey, Message, Part, Sample

HARM_LABELS = (
    "porn",
    "animal_abuse",
    "child_abuse",
    "crime",
    "controversial",
    "contraband",
    "hate",
    "violence",
    "racism",
    "other_discrimination",
    "terrorism",
    "other_harmful",
)
OPTIONAL_HARM_LABELS = ("racism",)  # absent from part of the release
PROMPT_TYPES = ("safety_critical", "safety_neutral")
VIDEOS = ("video_0", "video_1")
SUB_PREFERENCES = ("instruction_following", "correctness", "information", "aesthetics")
DIMENSIONS = ("helpfulness", "harmlessness", *SUB_PREFERENCES)

_HARM_FIELDS = tuple(
    Field(name, ("bool",), required=name not in OPTIONAL_HARM_LABELS) for name in HARM_LABELS
)


def _harm(name: str, required: bool = False) -> Field:
    return Field(name, ("dict",), required=required, nested=_HARM_FIELDS)


def _prompt_fields() -> tuple[Field, ...]:
    return (
        req("prompt_id", "str"),
        req("prompt_text", "str"),
        opt("prompt_type", "str", choices=PROMPT_TYPES),
        _harm("prompt_labels"),
    )


def _video_fields(labelled: bool) -> tuple[Field, ...]:
    """A video record; label configs require its safety labels, pair configs may omit them."""
    return (
        *_prompt_fields(),
        req("video_id", "str"),
        req("video_text", "str"),
        opt("video_path", "str"),
        Field("is_safe", ("bool",), required=labelled),
        _harm("video_labels", required=labelled),
        opt("generated_from", "str"),
        opt("info", "dict"),
    )


PAIR_FIELDS = FieldSet(
    "safesora/pairs",
    (
        req("pair_id", "str"),
        *_prompt_fields()[:3],
        *(req(name, "dict", "str", nested=_video_fields(labelled=False)) for name in VIDEOS),
        opt("helpfulness", "str", choices=VIDEOS),
        opt("harmlessness", "str", choices=VIDEOS),
        opt(
            "sub_preferences",
            "dict",
            nested=tuple(
                opt(
                    name, "str", choices=VIDEOS, aliases=("informativeness",) if name == "information" else ()
                )
                for name in SUB_PREFERENCES
            ),
        ),
        opt("info", "dict"),
    ),
)
LABEL_FIELDS = FieldSet("safesora/labels", _video_fields(labelled=True))
EVAL_FIELDS = FieldSet("safesora/eval", _prompt_fields())


def video_part(video: dict[str, Any] | str, prompt_id: str, field: str, ctx: Context) -> Part:
    """The video of a record (a dict) or of a bare id, located by SafeSora's `<prompt_id>/<video_id>.mp4`."""
    video_id = video if isinstance(video, str) else video["video_id"]
    if ctx.explicit_root:
        path = str(Path(ctx.media_root) / prompt_id / f"{video_id}.mp4")
    elif isinstance(video, dict) and video["video_path"] is not None:
        path = video["video_path"]
    else:
        raise RecordError(
            ctx.location, field, "no video_path; pass media_root (the SafeSora video directory)"
        )
    return ctx.media_part(path, "video", field)


def _user(text: str) -> tuple[Message, ...]:
    return (Message("user", (Part.of_text(text),)),)


def _pair_preferences(record: Record) -> dict[str, int | None]:
    subs = record["sub_preferences"]
    named = {"helpfulness": record["helpfulness"], "harmlessness": record["harmlessness"]}
    named |= {name: subs[name] if subs is not None else None for name in SUB_PREFERENCES}
    return {name: None if value is None else VIDEOS.index(value) for name, value in named.items()}


def _is_safe(record: Record) -> tuple[bool, bool] | None:
    videos = [record[name] for name in VIDEOS]
    if not all(isinstance(v, dict) and v["is_safe"] is not None for v in videos):
        return None
    return videos[0]["is_safe"], videos[1]["is_safe"]


def _field_of(dimension: str) -> str:
    return dimension if dimension in ("helpfulness", "harmlessness") else f"sub_preferences.{dimension}"


def pair_to_sample(record: Record, ctx: Context) -> Sample:
    preferences = _pair_preferences(record)
    chosen = pick_dimension(preferences, ctx.dimension, _field_of(ctx.dimension), record.location)
    videos = [record[name] for name in VIDEOS]
    return Sample(
        prompt=_user(record["prompt_text"]),
        responses=tuple(
            (video_part(v, record["prompt_id"], n, ctx),) for v, n in zip(videos, VIDEOS, strict=True)
        ),
        labels={
            LabelKey.CHOSEN: chosen,
            LabelKey.SAFER: preferences["harmlessness"],
            LabelKey.IS_SAFE: _is_safe(record),
            LabelKey.DIMENSIONS: preferences,
        },
        meta={
            **base_meta(record, PAIR_FIELDS.name),
            "ids": {
                "pair_id": record["pair_id"],
                "prompt_id": record["prompt_id"],
                "video_ids": tuple(v if isinstance(v, str) else v["video_id"] for v in videos),
            },
            "prompt_type": record["prompt_type"],
        },
    )


def label_to_sample(record: Record, ctx: Context) -> Sample:
    video = video_part(record.fields, record["prompt_id"], "video_path", ctx)
    return Sample(
        prompt=_user(record["prompt_text"]),
        responses=((video,),),
        labels={LabelKey.IS_SAFE: (record["is_safe"],), LabelKey.HARM_LABELS: record["video_labels"]},
        meta={
            **base_meta(record, LABEL_FIELDS.name),
            "ids": {"prompt_id": record["prompt_id"], "video_id": record["video_id"]},
            "prompt_type": record["prompt_type"],
            "prompt_labels": record["prompt_labels"],
            "video_text": record["video_text"],
            "generated_from": record["generated_from"],
        },
    )


def eval_to_sample(record: Record, ctx: Context) -> Sample:
    return Sample(
        prompt=_user(record["prompt_text"]),
        labels={LabelKey.HARM_LABELS: record["prompt_labels"]},
        meta={
            **base_meta(record, EVAL_FIELDS.name),
            "ids": {"prompt_id": record["prompt_id"]},
            "prompt_type": record["prompt_type"],
        },
    )


def _harmless_pick_unsafe(record: Record) -> bool:
    safe, harmless = _is_safe(record), record["harmlessness"]
    if safe is None or harmless is None:
        return False
    pick = VIDEOS.index(harmless)
    return not safe[pick] and safe[1 - pick]


def _any_harm(record: Record) -> bool:
    return any(record["video_labels"][name] for name in HARM_LABELS)


PAIR_SCHEMA = RecordSchema(
    PAIR_FIELDS.name,
    PAIR_FIELDS,
    pair_to_sample,
    dimensions=DIMENSIONS,
    external_media=True,
    checks=(Check("harmlessness prefers the unsafe video over a safe one", _harmless_pick_unsafe),),
)
LABEL_SCHEMA = RecordSchema(
    LABEL_FIELDS.name,
    LABEL_FIELDS,
    label_to_sample,
    external_media=True,
    checks=(
        Check("video marked safe has a harm label", lambda r: r["is_safe"] and _any_harm(r)),
        Check("video marked unsafe has no harm label", lambda r: not r["is_safe"] and not _any_harm(r)),
    ),
)
EVAL_SCHEMA = RecordSchema(EVAL_FIELDS.name, EVAL_FIELDS, eval_to_sample)
