"""Every record format by name, so configs and CLIs can say `format: safesora/pairs`."""

from __future__ import annotations

from omnialign.data.records import instruct, safe_rlhf, safesora
from omnialign.data.records.align_anything import SUBSETS, align_anything_format
from omnialign.data.records.format import RecordFormat

FORMATS: dict[str, RecordFormat] = {
    **{f"align-anything/{name}": align_anything_format(name) for name in SUBSETS},
    safe_rlhf.FORMAT.name: safe_rlhf.FORMAT,
    safesora.PAIR_FORMAT.name: safesora.PAIR_FORMAT,
    safesora.LABEL_FORMAT.name: safesora.LABEL_FORMAT,
    safesora.EVAL_FORMAT.name: safesora.EVAL_FORMAT,
    instruct.SFT_FORMAT.name: instruct.SFT_FORMAT,
    instruct.PROMPT_FORMAT.name: instruct.PROMPT_FORMAT,
    instruct.PREFERENCE_FORMAT.name: instruct.PREFERENCE_FORMAT,
}


def get_format(name: str | RecordFormat) -> RecordFormat:
    """Look a format up by name (a `RecordFormat` passes through); an unknown name lists the known ones."""
    if isinstance(name, RecordFormat):
        return name
    if name not in FORMATS:
        raise ValueError(f"unknown record format '{name}'; known: {sorted(FORMATS)}")
    return FORMATS[name]
