"""The validation engine on hand-written rows: absent vs null vs wrong, aliases, nested paths, extras."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from omnialign.data.errors import RecordError, RecordLocation
from omnialign.data.media import load_image
from omnialign.data.records import Context, Field, FieldSet, convert_row, get_schema, opt, req, validate

HERE = RecordLocation("rows.jsonl", 4)
SCHEMA = FieldSet(
    "demo",
    (
        req("text", "str", aliases=("question",)),
        opt("score", "int", choices=(1, 2)),
        opt("tags", "list", items=Field("tag", ("str",))),
        opt("flags", "dict", values="bool"),
        opt("video", "dict", "str", nested=(req("id", "str"), opt("path", "str"))),
    ),
)


def test_absent_optional_is_none_and_undeclared_columns_are_kept():
    record = validate({"question": "hi", "source_url": "x"}, SCHEMA, HERE)
    assert record.fields == {"text": "hi", "score": None, "tags": None, "flags": None, "video": None}
    assert record.extras == {"source_url": "x"}


@pytest.mark.parametrize(
    ("row", "field", "problem"),
    [
        ({}, "text", "required field is missing (str)"),
        ({"text": None}, "text", "required field is null"),
        ({"text": 3}, "text", "expected str, got int 3"),
        ({"text": "a", "score": True}, "score", "expected int in {1, 2}, got bool"),
        ({"text": "a", "score": 3}, "score", "expected int in {1, 2}, got 3"),
        ({"text": "a", "tags": ["x", 5]}, "tags[1]", "expected str"),
        ({"text": "a", "flags": {"violence": "no"}}, "flags.violence", "expected bool"),
        ({"text": "a", "video": {"path": "v.mp4"}}, "video.id", "required field is missing"),
        ({"text": "a", "video": 7}, "video", "expected dict or str"),
    ],
)
def test_errors_name_the_field_and_the_expectation(row, field, problem):
    with pytest.raises(RecordError) as caught:
        validate(row, SCHEMA, HERE)
    assert (caught.value.location, caught.value.field) == (HERE, field)
    assert problem in caught.value.problem
    assert str(caught.value).startswith("rows.jsonl, row 4, field")


def test_nested_dict_or_bare_string():
    assert validate({"text": "a", "video": "v1"}, SCHEMA, HERE)["video"] == "v1"
    nested = validate({"text": "a", "video": {"id": "v1", "fps": 8}}, SCHEMA, HERE)["video"]
    assert nested == {"id": "v1", "path": None, "fps": 8}


def test_decoded_pil_images_from_hf_datasets_become_embedded_media(tmp_path):
    """`datasets` hands `Image` columns over as PIL images; they are kept as in-memory PNG bytes."""
    image = Image.fromarray(np.full((8, 8, 3), 200, np.uint8))
    schema = get_schema("align-anything/text-to-image")
    row = {"prompt": "a lamp", "image_1": image, "image_2": image, "overall_image": 2}
    converted = convert_row(row, schema, Context(HERE, tmp_path, "overall"))
    ref = converted.sample.responses[1][0].media
    assert converted.warnings == [] and ref.data is not None and ref.location == HERE
    assert np.asarray(load_image(ref)).mean() == 200
