"""PKU-SafeRLHF preference pairs: helpfulness ("better") and harmlessness ("safer") labels over one pair.

The v1.0 release adds provenance (`*_source`), per-response harm categories, severity levels and hashes;
earlier releases lack them, so they are optional and recorded as `None` when absent.
"""

from __future__ import annotations

from omnialign.data.records.context import Context, base_meta, pick_dimension
from omnialign.data.records.fields import FieldSet, Record, opt, req
from omnialign.data.records.schema import Check, RecordSchema
from omnialign.data.sample import LabelKey, Message, Part, Sample

INDICES = (0, 1)
DIMENSION_FIELDS = {"better": "better_response_id", "safer": "safer_response_id"}


def _each(pattern: str) -> tuple[str, str]:
    return pattern.format(i=0), pattern.format(i=1)


FIELDS = FieldSet(
    "pku-saferlhf",
    (
        req("prompt", "str"),
        *(req(name, "str") for name in _each("response_{i}")),
        *(req(name, "bool") for name in _each("is_response_{i}_safe")),
        req("better_response_id", "int", choices=INDICES),
        req("safer_response_id", "int", choices=INDICES),
        opt("prompt_source", "str"),
        *(opt(name, "str") for name in _each("response_{i}_source")),
        *(opt(name, "dict", values="bool") for name in _each("response_{i}_harm_category")),
        *(opt(name, "int", choices=(0, 1, 2, 3)) for name in _each("response_{i}_severity_level")),
        *(opt(name, "str") for name in _each("response_{i}_sha256")),
    ),
)


def _safer_is_unsafe_while_other_safe(record: Record) -> bool:
    safer = record["safer_response_id"]
    safe = (record["is_response_0_safe"], record["is_response_1_safe"])
    return not safe[safer] and safe[1 - safer]


def _safe_with_harm_category(record: Record) -> bool:
    for i in INDICES:
        categories = record[f"response_{i}_harm_category"]
        if record[f"is_response_{i}_safe"] and categories is not None and any(categories.values()):
            return True
    return False


CHECKS = (
    Check("safer response marked unsafe while the other is safe", _safer_is_unsafe_while_other_safe),
    Check("response marked safe has a harm category", _safe_with_harm_category),
)


def to_sample(record: Record, ctx: Context) -> Sample:
    preferences = {name: record[field] for name, field in DIMENSION_FIELDS.items()}
    chosen = pick_dimension(preferences, ctx.dimension, DIMENSION_FIELDS[ctx.dimension], record.location)
    return Sample(
        prompt=(Message("user", (Part.of_text(record["prompt"]),)),),
        responses=tuple((Part.of_text(record[f"response_{i}"]),) for i in INDICES),
        labels={
            LabelKey.CHOSEN: chosen,
            LabelKey.SAFER: record["safer_response_id"],
            LabelKey.IS_SAFE: tuple(record[f"is_response_{i}_safe"] for i in INDICES),
            LabelKey.DIMENSIONS: preferences,
        },
        meta={
            **base_meta(record, FIELDS.name),
            "ids": {"response_sha256": tuple(record[f"response_{i}_sha256"] for i in INDICES)},
            "provenance": tuple(record[f"response_{i}_source"] for i in INDICES),
            "prompt_source": record["prompt_source"],
            "harm_category": tuple(record[f"response_{i}_harm_category"] for i in INDICES),
            "severity_level": tuple(record[f"response_{i}_severity_level"] for i in INDICES),
        },
    )


SCHEMA = RecordSchema(FIELDS.name, FIELDS, to_sample, dimensions=tuple(DIMENSION_FIELDS), checks=CHECKS)
