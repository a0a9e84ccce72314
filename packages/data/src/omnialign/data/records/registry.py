"""Every record schema by name, so configs and CLIs can say `schema: safesora/pairs`."""

from __future__ import annotations

from omnialign.data.records import instruct, safe_rlhf, safesora
from omnialign.data.records.align_anything import SUBSETS, align_anything_schema
from omnialign.data.records.schema import RecordSchema

SCHEMAS: dict[str, RecordSchema] = {
    **{f"align-anything/{name}": align_anything_schema(name) for name in SUBSETS},
    safe_rlhf.SCHEMA.name: safe_rlhf.SCHEMA,
    safesora.PAIR_SCHEMA.name: safesora.PAIR_SCHEMA,
    safesora.LABEL_SCHEMA.name: safesora.LABEL_SCHEMA,
    safesora.EVAL_SCHEMA.name: safesora.EVAL_SCHEMA,
    instruct.SFT_SCHEMA.name: instruct.SFT_SCHEMA,
    instruct.PROMPT_SCHEMA.name: instruct.PROMPT_SCHEMA,
    instruct.PREFERENCE_SCHEMA.name: instruct.PREFERENCE_SCHEMA,
}


def get_schema(name: str | RecordSchema) -> RecordSchema:
    """Look a schema up by name (a `RecordSchema` passes through); an unknown name lists the known ones."""
    if isinstance(name, RecordSchema):
        return name
    if name not in SCHEMAS:
        raise ValueError(f"unknown record schema '{name}'; known: {sorted(SCHEMAS)}")
    return SCHEMAS[name]
