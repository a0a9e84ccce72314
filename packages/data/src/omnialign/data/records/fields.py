"""Declarative field specs and the one validator every record schema uses.

A field set is data: a tuple of `Field`s. `validate` walks it once and either returns a `Record` holding every
declared field (an optional field that is absent or null is recorded as `None`, never filled with a guess)
or raises `RecordError` naming file, row, the dotted field path and what was expected. Keeping the rules
as data is what lets eight align-anything subsets share one core instead of eight hand-written parsers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from omnialign.data.errors import RecordError, RecordLocation

Kind = Literal["str", "int", "float", "bool", "media", "dict", "list"]


def _is_media(value: Any) -> bool:
    """A media value as the field ships it: a path, raw bytes, an HF `{bytes, path}` dict or a PIL image."""
    if isinstance(value, str | bytes):
        return True
    if isinstance(value, Mapping):
        return value.get("bytes") is not None or value.get("path") is not None
    return type(value).__module__.startswith("PIL.")


_CHECKS = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "media": _is_media,
    "dict": lambda v: isinstance(v, Mapping),
    "list": lambda v: isinstance(v, list | tuple),
}


@dataclass(frozen=True)
class Field:
    """One field of a record: its name, accepted kinds and constraints.

    `kinds` lists the accepted value kinds (a SafeSora `video_0` is a record dict or a bare id string).
    `nested` validates a dict value's known keys recursively; `values` constrains every value of a dict
    whose keys are open (a harm-category map); `items` validates each element of a list. `aliases` are
    older spellings accepted on read and normalised to `name`.
    """

    name: str
    kinds: tuple[Kind, ...]
    required: bool = True
    choices: tuple[Any, ...] | None = None
    nested: tuple[Field, ...] | None = None
    values: Kind | None = None
    items: Field | None = None
    aliases: tuple[str, ...] = ()

    def expected(self) -> str:
        text = " or ".join(self.kinds)
        if self.choices is not None:
            text += " in {" + ", ".join(repr(c) for c in self.choices) + "}"
        return text


def req(name: str, *kinds: Kind, **options: Any) -> Field:
    """A required field: absent or null is an error."""
    return Field(name, kinds, required=True, **options)


def opt(name: str, *kinds: Kind, **options: Any) -> Field:
    """An optional field: absent or null is recorded as `None`."""
    return Field(name, kinds, required=False, **options)


@dataclass(frozen=True)
class Record:
    """A validated row: every declared field (absent optionals are `None`) plus undeclared columns.

    `extras` keeps columns the schema does not declare, so nothing in the source is silently dropped.
    """

    schema: str
    location: RecordLocation
    fields: dict[str, Any]
    extras: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]


@dataclass(frozen=True)
class FieldSet:
    """The fields a record schema validates rows against; `one_of` lists groups of which exactly one field
    must be present."""

    name: str
    fields: tuple[Field, ...]
    one_of: tuple[tuple[str, ...], ...] = ()

    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def _lookup(row: Mapping[str, Any], spec: Field) -> tuple[str | None, Any]:
    """Find a field under its name or an alias; returns the key used (None when absent) and the value."""
    for key in (spec.name, *spec.aliases):
        if key in row:
            return key, row[key]
    return None, None


def _check_value(value: Any, spec: Field, path: str, location: RecordLocation) -> Any:
    if not any(_CHECKS[kind](value) for kind in spec.kinds):
        raise RecordError(
            location, path, f"expected {spec.expected()}, got {type(value).__name__} {value!r:.80}"
        )
    if spec.choices is not None and value not in spec.choices:
        raise RecordError(location, path, f"expected {spec.expected()}, got {value!r:.80}")
    if spec.nested is not None and isinstance(value, Mapping):
        return _validate_mapping(value, spec.nested, path + ".", location)
    if spec.values is not None and isinstance(value, Mapping):
        for key, item in value.items():
            if not _CHECKS[spec.values](item):
                raise RecordError(location, f"{path}.{key}", f"expected {spec.values}, got {item!r:.80}")
        return dict(value)
    if spec.items is not None and isinstance(value, list | tuple):
        return [
            _validate_field(item, spec.items, f"{path}[{index}]", location)
            for index, item in enumerate(value)
        ]
    return value


def _validate_field(value: Any, spec: Field, path: str, location: RecordLocation) -> Any:
    if value is None:
        if spec.required:
            raise RecordError(location, path, f"required field is null (expected {spec.expected()})")
        return None
    return _check_value(value, spec, path, location)


def _validate_mapping(
    row: Mapping[str, Any], specs: tuple[Field, ...], prefix: str, location: RecordLocation
) -> dict[str, Any]:
    """Validate the declared keys of a nested dict; its undeclared keys are kept as they are."""
    out = {key: value for key, value in row.items() if not _declared(key, specs)}
    for spec in specs:
        key, value = _lookup(row, spec)
        if key is None and spec.required:
            raise RecordError(location, prefix + spec.name, f"required field is missing ({spec.expected()})")
        out[spec.name] = _validate_field(value, spec, prefix + spec.name, location)
    return out


def _declared(key: str, specs: tuple[Field, ...]) -> bool:
    return any(key == spec.name or key in spec.aliases for spec in specs)


def _check_one_of(fields: dict[str, Any], field_set: FieldSet, location: RecordLocation) -> None:
    for group in field_set.one_of:
        present = [name for name in group if fields[name] is not None]
        if len(present) != 1:
            raise RecordError(
                location, "|".join(group), f"expected exactly one of {list(group)}, found {present}"
            )


def validate(row: Mapping[str, Any], field_set: FieldSet, location: RecordLocation) -> Record:
    """Check `row` against `field_set`; return a `Record` or raise `RecordError` naming the bad field."""
    if not isinstance(row, Mapping):
        raise RecordError(location, "<row>", f"expected an object, got {type(row).__name__}")
    fields = _validate_mapping(row, field_set.fields, "", location)
    extras = {key: fields.pop(key) for key in list(fields) if not _declared(key, field_set.fields)}
    _check_one_of(fields, field_set, location)
    return Record(field_set.name, location, fields, extras)
