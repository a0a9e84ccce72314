"""align-anything rows shaped like the published ones load with every label and rating on its dimension.

The files under `published/` and the tables below are typed from the published field lists (the card's
`dataset_info`, the subset cards' rating plots, align-anything's trainer templates), not from OmniAlign's
`SUBSETS`, so a wrong key in `SUBSETS` fails here instead of being copied into the fixture. Every rating
value and rationale text in the files is unique, and each dimension's preference column differs across
the three rows, so a dimension read from another dimension's columns cannot pass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from omnialign.data.records import load_samples
from omnialign.data.sample import LabelKey

HERE = Path(__file__).parent / "published"

TEXT = {
    "prompt_following": ("p", "prompt_following_rate"),
    "objective_rules": ("o", "objective_rules_rate"),
    "clarity": ("c", "clarity_rate"),
    "information_richness": ("i", "information_richness_rate"),
    "safety": ("s", "safety_rate"),
}


@dataclass(frozen=True)
class Published:
    """One subset as published: prompt key, media keys, preference suffix, dimension -> (letter, rating),
    the per-response provenance and feedback columns, and the per-row feedback columns."""

    prompt: str
    inputs: tuple[tuple[str, str], ...]
    responses: tuple[tuple[str, str], ...]
    suffix: str
    dimensions: dict[str, tuple[str, str]]
    provenance: str | None
    feedback: str
    row_feedback: tuple[str, ...] = ("overall_textfeedback",)


_GENERATED = ("overall_textfeedback", "refine_prompt", "reasoning")  # dataset_info `example_t2a`

SUBSETS = {
    "text-to-text": Published("question", (), (("response_{k}", "text"),), "response", TEXT, "res_{k}_from",
                              "text_critique_{k}"),
    "text-image-to-text": Published("question", (("image", "image"),), (("response_{k}", "text"),),
                                    "response", TEXT, "res_{k}_from", "text_critique_{k}"),
    "text-audio-to-text": Published("prompt", (("audio_path", "audio"),), (("response_{k}", "text"),),
                                    "response", TEXT, "res_{k}_from", "text_critique_{k}"),
    "text-video-to-text": Published("prompt", (("video_path", "video"),), (("response_{k}", "text"),),
                                    "response", TEXT, "res_{k}_from", "text_critique_{k}"),
    # dataset_info `example_t2a`: o_audio groups audio quality, a_audio groups consistency
    "text-to-audio": Published(
        "prompt", (), (("response_{k}", "audio"),), "audio",
        {
            "prompt_following": ("p", "prompt_following_rate"),
            "audio_quality": ("o", "audio_quality_rate"),
            "consistency": ("a", "consistency_rate"),
            "information_richness": ("i", "information_richness_rate"),
            "safety": ("s", "safety_rate"),
        },
        "res_{k}_from", "text_{k}_feedback", _GENERATED,
    ),
    "text-to-image": Published(
        "prompt", (), (("image_{k}", "image"),), "image",
        {
            "prompt_following": ("p", "prompt_following_rate"),
            "objective_rules": ("o", "objective_rules_rate"),
            "aesthetics": ("a", "aesthetics_rate"),
            "information_richness": ("i", "information_richness_rate"),
            "safety": ("s", "safety_rate"),
        },
        "image_{k}_model", "text_{k}_feedback", _GENERATED,
    ),
    "text-to-video": Published(
        "prompt", (), (("video_{k}", "video"),), "video",
        {
            "prompt_following": ("p", "prompt_following_rate"),
            "aesthetics": ("a", "aesthetic_rate"),
            "information_richness": ("i", "information_richness_rate"),
            "video_objective_reality": ("v", "video_objective_reality_rate"),
            "temporal_consistency": ("t", "temporal_consistency_rate"),
            "content_coherence": ("c", "content_coherence_rate"),
            "motion_naturalness": ("m", "motion_naturalness_rate"),
            "safety": ("s", "safety_rate"),
        },
        "video_{k}_model", "text_{k}_feedback", _GENERATED,
    ),
    "text-image-to-text-image": Published(
        "question", (("image_url", "image"),), (("response_{k}", "text"), ("output_image_url_{k}", "image")),
        "response",
        {
            "prompt_following": ("p", "prompt_following_rate"),
            "objective_rules": ("o", "objective_rules_rate"),
            "clarity_aesthetics": ("ca", "ca_rate"),
            "information_richness": ("i", "information_richness_rate"),
            "safety": ("s", "safety_rate"),
        },
        None, "text_critique_{k}", ("feedback",),  # align-anything's AA_textfeedback template reads it
    ),
}  # fmt: skip


def _rows(subset: str) -> list[dict]:
    return [json.loads(line) for line in (HERE / f"{subset}.jsonl").read_text().splitlines()]


def _index(value: int) -> int:
    return value - 1  # 1/2 -> 0/1; a tie (0) -> -1


def _media_count(value) -> int:
    return 0 if value is None else len(value) if isinstance(value, list) else 1


def _expected_parts(row: dict, fields: tuple[tuple[str, str], ...], k: int | None = None) -> list[str]:
    parts = []
    for pattern, kind in fields:
        value = row.get(pattern.format(k=k))
        parts += [kind] if kind == "text" else [kind] * _media_count(value)
    return parts


@pytest.mark.parametrize("subset", sorted(SUBSETS))
def test_published_rows_land_on_their_dimensions(subset):
    spec, rows = SUBSETS[subset], _rows(subset)
    result = load_samples(HERE / f"{subset}.jsonl", f"align-anything/{subset}", verify_media=True)
    assert (result.report.read, result.report.kept) == (len(rows), len(rows))
    assert dict(result.report.unknown_columns) == {}, "every published column is declared"
    for row, sample in zip(rows, result.samples, strict=True):
        dims = sample.labels[LabelKey.DIMENSIONS]
        assert set(dims) == {"overall", *spec.dimensions}
        assert dims["overall"] == _index(row[f"overall_{spec.suffix}"])
        assert sample.labels[LabelKey.CHOSEN] == _index(row[f"overall_{spec.suffix}"])
        for name, (letter, rating) in spec.dimensions.items():
            assert dims[name] == _index(row[f"{letter}_{spec.suffix}"]), name
            assert sample.meta["ratings"][name] == (row[f"{rating}_1"], row[f"{rating}_2"]), name
            assert sample.meta["rationales"][name] == (
                row[f"{letter}_rationale_1"],
                row[f"{letter}_rationale_2"],
            )
        expected_provenance = (
            (row[spec.provenance.format(k=1)], row[spec.provenance.format(k=2)])
            if spec.provenance
            else (None,) * 2
        )
        assert sample.meta["provenance"] == expected_provenance
        assert sample.meta["response_feedback"][spec.feedback] == (
            row[spec.feedback.format(k=1)],
            row[spec.feedback.format(k=2)],
        )
        for name in spec.row_feedback:
            assert sample.meta["feedback"][name] == row[name], name
        assert [p.type for p in sample.prompt[0].parts] == [*_expected_parts(row, spec.inputs), "text"]
        assert sample.prompt[0].parts[-1].text == row[spec.prompt]
        for k, response in enumerate(sample.responses, start=1):
            assert [p.type for p in response] == _expected_parts(row, spec.responses, k)


@pytest.mark.parametrize("subset", ["text-to-audio", "text-to-video"])
def test_every_dimension_selects_its_own_preference(subset):
    spec, rows = SUBSETS[subset], _rows(subset)
    for name, (letter, _) in spec.dimensions.items():
        result = load_samples(
            HERE / f"{subset}.jsonl", f"align-anything/{subset}", dimension=name, on_invalid="skip"
        )
        expected = [_index(r[f"{letter}_{spec.suffix}"]) for r in rows]
        kept = [value for value in expected if value >= 0]  # a tie under the dimension is a label skip
        assert [s.labels[LabelKey.CHOSEN] for s in result.samples] == kept, name
        assert len(result.report.skips) == expected.count(-1)
