"""Media reach the judges: a local tiny Qwen2-VL judge gets the prompt's and the answer's images and videos
through its processor (and what they show changes its verdict), and the OpenAI-compatible HTTP judge sends
images as base64 `image_url` data URLs, checked in the request body a local stub server received."""

from __future__ import annotations

import base64
import io
from typing import ClassVar

import numpy as np
import pytest
import torch
from chat_stub import ChatStub, serving
from PIL import Image

from omnialign.data.fixtures.media_files import write_image
from omnialign.data.sample import MediaRef, Message, Part, Sample
from omnialign.eval.fixtures import MEDIA_FILES, write_eval_fixture
from omnialign.eval.judges import HttpJudge, JudgeRequest, LocalModelJudge
from omnialign.models.backbone import BackboneOptions


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = write_eval_fixture(tmp_path_factory.mktemp("media") / "data")
    write_image(root / "media/bright.png", 0.95, np.random.default_rng(1))
    return root


def _request(data, prompt_media: list[tuple[str, str]], answer_image: str) -> JudgeRequest:
    parts = [Part.of_media(MediaRef(kind, path=str(data / path))) for kind, path in prompt_media]
    prompt = Sample(prompt=(Message("user", (*parts, Part.of_text("Draw what you see."))),))
    answer = (Part.of_media(MediaRef("image", path=str(data / answer_image))), Part.of_text("Here."))
    return JudgeRequest(prompt, answer, "Does the image answer follow the instruction?")


@pytest.fixture(scope="module")
def vl_judge():
    torch.set_num_threads(1)
    return LocalModelJudge(BackboneOptions(name="tiny:qwen2-vl", seed=4))


@pytest.mark.slow
def test_local_vl_judge_receives_prompt_and_answer_media(data, vl_judge):
    """Prompt: an image, a video and an audio clip; answer: an image. Qwen2-VL's processor takes images and
    videos, so the judge turn carries prompt image, prompt video, answer image (in that order) and the text;
    the audio stays a text placeholder. Its forward gets 2 image grids and 1 video grid per rating
    sequence (5 ratings)."""
    media = [
        ("image", MEDIA_FILES["image"]),
        ("video", MEDIA_FILES["video"]),
        ("audio", MEDIA_FILES["audio"]),
    ]
    request = _request(data, media, "media/bright.png")
    (turn,) = vl_judge.judge_sample(request).prompt
    assert [p.type for p in turn.parts] == ["image", "video", "image", "text"]
    assert turn.parts[2].media.path.endswith("bright.png")
    assert "[audio: " in turn.parts[-1].text

    seen = {}
    body = vl_judge.model.model  # the shared log-prob function runs the body, then the head on responses
    forward = body.forward

    def recording(*args, **kwargs):
        seen.update(kwargs)
        return forward(*args, **kwargs)

    body.forward = recording
    try:
        (verdict,) = vl_judge.judge([request])
    finally:
        body.forward = forward
    assert seen["image_grid_thw"].shape[0] == 2 * 5 and seen["video_grid_thw"].shape[0] == 5
    assert seen["pixel_values"].abs().sum() > 0 and 0.0 <= verdict.score <= 1.0


@pytest.mark.slow
def test_what_the_answer_image_shows_changes_the_verdict(data, vl_judge):
    """The same request (same text, same path) judged twice, the answer file rewritten from dark to bright in
    between: only the pixels differ, so a different expected rating shows they reached the model (a judge
    reading only the `[image: path]` placeholder would rate both the same)."""
    rng = np.random.default_rng(2)
    request = _request(data, [], "media/answer.png")
    scores = []
    for brightness in (0.05, 0.95):
        write_image(data / "media/answer.png", brightness, rng)
        scores.append(vl_judge.judge([request])[0].score)
    assert scores[0] != pytest.approx(scores[1], abs=1e-7)


class RecordingHandler(ChatStub):
    bodies: ClassVar[list[dict]] = []

    def reply(self, body: dict) -> str:
        RecordingHandler.bodies.append(body)
        return "Rating: [[5]]"


@pytest.fixture
def stub_url():
    with serving(RecordingHandler) as url:
        yield url


def _data_url(url: str) -> tuple[str, bytes]:
    head, payload = url.split(",", 1)
    assert head.startswith("data:") and head.endswith(";base64")
    return head[len("data:") : -len(";base64")], base64.b64decode(payload)


def test_http_judge_sends_images_as_base64_data_urls(data, stub_url):
    """Prompt image (PNG file) and answer image (JPEG bytes embedded, as HF datasets carry them) follow the
    judge text as `image_url` parts whose data URLs decode to the exact bytes, with the right MIME type; the
    video stays a text placeholder."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buffer, format="JPEG")
    prompt = Sample(
        prompt=(
            Message(
                "user",
                (
                    Part.of_media(MediaRef("image", path=str(data / MEDIA_FILES["image"]))),
                    Part.of_media(MediaRef("video", path=str(data / MEDIA_FILES["video"]))),
                    Part.of_text("Draw this in red."),
                ),
            ),
        )
    )
    answer = (Part.of_media(MediaRef("image", data=buffer.getvalue())),)
    RecordingHandler.bodies = []
    (verdict,) = HttpJudge(stub_url, model="vision-judge").judge([JudgeRequest(prompt, answer, "Red?")])
    assert verdict.score == 1.0

    text, first, second = RecordingHandler.bodies[0]["messages"][0]["content"]
    assert text["type"] == "text" and "[video: " in text["text"] and "Criterion: Red?" in text["text"]
    assert first["type"] == second["type"] == "image_url"
    assert _data_url(first["image_url"]["url"]) == ("image/png", (data / MEDIA_FILES["image"]).read_bytes())
    assert _data_url(second["image_url"]["url"]) == ("image/jpeg", buffer.getvalue())


def test_http_judge_without_images_sends_plain_text(data, stub_url):
    request = _request(data, [("image", MEDIA_FILES["image"])], "media/bright.png")
    RecordingHandler.bodies = []
    HttpJudge(stub_url, model="text-judge", send_images=False).judge([request])
    content = RecordingHandler.bodies[0]["messages"][0]["content"]
    assert isinstance(content, str) and "[image: " in content


@pytest.mark.slow
def test_vl_judge_batched_equals_one_at_a_time(data, vl_judge):
    """Requests with different media (none, a prompt image, a prompt video) in one forward pass: the media
    tensors of all 15 verdict sequences are concatenated in order, and each expected rating matches the
    request judged alone."""
    requests = [
        _request(data, [], "media/bright.png"),
        _request(data, [("image", MEDIA_FILES["image"])], "media/bright.png"),
        _request(data, [("video", MEDIA_FILES["video"])], MEDIA_FILES["image"]),
    ]
    batched = [v.score for v in vl_judge.judge(requests)]
    alone = [vl_judge.judge([request])[0].score for request in requests]
    assert batched == pytest.approx(alone, abs=1e-5)
