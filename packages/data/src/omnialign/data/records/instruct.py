"""OmniAlign's own record formats: supervised (prompt + response), prompt-only, and preference pairs, for
every modality.

Two spellings of the prompt are accepted: flat (`prompt`, optional `image`/`audio`/`video`) and chat
(`messages`: role + content, where content is a string or a list of typed parts such as
`{"type": "image", "image": "cat.png"}`). In chat form an SFT record's last message is the assistant's
response; a prompt-only record (RL rollouts, evaluation) has no response at all. A preference record adds
`chosen` and `rejected` responses, each a string or a list of typed parts (so a response can be an image, a
video, or text interleaved with images), and an optional free-form `provenance` object that travels into
the sample's `meta` untouched: generated datasets (LLF pairs, best-of-N rewrites) say there which models,
settings and intermediate texts produced each pair.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from omnialign.data.errors import RecordError
from omnialign.data.records.context import Context, MediaModality, base_meta
from omnialign.data.records.fields import Field, FieldSet, Record, opt, req
from omnialign.data.records.schema import RecordSchema
from omnialign.data.sample import LabelKey, Message, Part, Sample

OVERALL = "overall"
"""The one preference dimension of a preference record: which response is chosen."""

MEDIA: tuple[MediaModality, ...] = ("image", "audio", "video")
ROLES = ("system", "user", "assistant")

PART = Field(
    "part",
    ("dict",),
    nested=(
        req("type", "str", choices=("text", *MEDIA)),
        opt("text", "str"),
        *(opt(name, "media") for name in MEDIA),
        opt("path", "media"),
    ),
)
MESSAGE = Field(
    "message",
    ("dict",),
    nested=(req("role", "str", choices=ROLES), req("content", "str", "list", items=PART)),
)


RESPONSE = Field("response", ("str", "list"), items=PART)
"""A response in a preference record: plain text, or typed parts (text, image, audio, video)."""


def _schema(name: str, with_response: bool) -> FieldSet:
    fields = [
        opt("id", "str"),
        opt("system", "str"),
        opt("prompt", "str", aliases=("question",)),
        *(opt(media, "media", aliases=(f"{media}_path",)) for media in MEDIA),
        opt("messages", "list", items=MESSAGE),
    ]
    if with_response:
        fields.append(opt("response", "str", aliases=("answer",)))
    return FieldSet(name, tuple(fields), one_of=(("prompt", "messages"),))


SFT_FIELDS = _schema("sft", with_response=True)
PROMPT_FIELDS = _schema("prompts", with_response=False)
PREFERENCE_FIELDS = FieldSet(
    "preference",
    (
        *PROMPT_FIELDS.fields,
        replace(RESPONSE, name="chosen"),
        replace(RESPONSE, name="rejected"),
        opt("provenance", "dict"),
    ),
    one_of=PROMPT_FIELDS.one_of,
)


def _part(part: dict[str, Any], path: str, ctx: Context) -> Part:
    kind = part["type"]
    if kind == "text":
        if part["text"] is None:
            raise RecordError(ctx.location, f"{path}.text", "a text part needs 'text'")
        return Part.of_text(part["text"])
    value = part[kind] if part[kind] is not None else part["path"]
    if value is None:
        raise RecordError(ctx.location, f"{path}.{kind}", f"an {kind} part needs '{kind}' or 'path'")
    return ctx.media_part(value, kind, f"{path}.{kind}")


def _message(message: dict[str, Any], path: str, ctx: Context) -> Message:
    content = message["content"]
    if isinstance(content, str):
        return Message(message["role"], (Part.of_text(content),))
    return Message(
        message["role"], tuple(_part(p, f"{path}.content[{i}]", ctx) for i, p in enumerate(content))
    )


def _chat(record: Record, ctx: Context) -> list[Message]:
    if not record["messages"]:
        raise RecordError(record.location, "messages", "expected at least one message")
    return [_message(m, f"messages[{i}]", ctx) for i, m in enumerate(record["messages"])]


def _flat_prompt(record: Record, ctx: Context) -> list[Message]:
    parts = [ctx.media_part(record[m], m, m) for m in MEDIA if record[m] is not None]
    parts.append(Part.of_text(record["prompt"]))
    system = [Message("system", (Part.of_text(record["system"]),))] if record["system"] is not None else []
    return [*system, Message("user", tuple(parts))]


def _split_response(messages: list[Message], record: Record) -> tuple[list[Message], tuple[Part, ...]]:
    if len(messages) < 2 or messages[-1].role != "assistant":
        raise RecordError(
            record.location, "messages", "expected a conversation ending in an assistant message"
        )
    return messages[:-1], messages[-1].parts


def sft_to_sample(record: Record, ctx: Context) -> Sample:
    if record["messages"] is not None:
        prompt, response = _split_response(_chat(record, ctx), record)
    elif record["response"] is None:
        raise RecordError(record.location, "response", "required with 'prompt' (expected str)")
    else:
        prompt, response = _flat_prompt(record, ctx), (Part.of_text(record["response"]),)
    return Sample(prompt=tuple(prompt), responses=(response,), meta=_meta(record, SFT_FIELDS.name))


def prompt_to_sample(record: Record, ctx: Context) -> Sample:
    messages = _chat(record, ctx) if record["messages"] is not None else _flat_prompt(record, ctx)
    if messages[-1].role == "assistant":
        raise RecordError(record.location, "messages", "a prompt must not end in an assistant message")
    return Sample(prompt=tuple(messages), meta=_meta(record, PROMPT_FIELDS.name))


def _response_parts(record: Record, name: str, ctx: Context) -> tuple[Part, ...]:
    value = record[name]
    if isinstance(value, str):
        return (Part.of_text(value),)
    if not value:
        raise RecordError(record.location, name, "expected at least one part")
    return tuple(_part(part, f"{name}[{i}]", ctx) for i, part in enumerate(value))


def preference_to_sample(record: Record, ctx: Context) -> Sample:
    """Responses in record order (chosen first), so `LabelKey.CHOSEN` is always 0."""
    prompt = prompt_to_sample(record, ctx).prompt
    meta = {**_meta(record, PREFERENCE_FIELDS.name), "provenance": record["provenance"] or {}}
    return Sample(
        prompt=prompt,
        responses=(_response_parts(record, "chosen", ctx), _response_parts(record, "rejected", ctx)),
        labels={LabelKey.CHOSEN: 0, LabelKey.DIMENSIONS: {OVERALL: 0}},
        meta=meta,
    )


def _meta(record: Record, name: str) -> dict[str, Any]:
    return {**base_meta(record, name), "ids": {"id": record["id"]}}


SFT_SCHEMA = RecordSchema(SFT_FIELDS.name, SFT_FIELDS, sft_to_sample)
PROMPT_SCHEMA = RecordSchema(PROMPT_FIELDS.name, PROMPT_FIELDS, prompt_to_sample)
PREFERENCE_SCHEMA = RecordSchema(
    PREFERENCE_FIELDS.name, PREFERENCE_FIELDS, preference_to_sample, dimensions=(OVERALL,)
)
