"""Pluggable judges: a local language model, a reward model (`ScoreModel`), or an OpenAI-compatible HTTP
endpoint. Each turns (prompt, response, reference, criterion) into a `Verdict`.

Media reach judges that can see them: a local multimodal judge (Qwen2-VL, LLaVA, Qwen2-Audio ...) gets the
prompt's and the answer's media through its own processor, an HTTP judge gets images as base64 `image_url`
data URLs (the OpenAI vision message format); media a judge cannot take stay `[image: file]` placeholders in
the text, which every judge also gets, so it can tell the request's media from the answer's by their order.

Language-model judges rate on a 1..`scale` scale, mapped to [0, 1]. The local one does not sample a rating:
it reads the probability of each rating string after the judge prompt and reports the expected rating, so
every item gets a score, and a tiny random judge in tests is as deterministic as a real one. A reward model
reports its (normalised) score as is: only comparisons between models are meaningful for it.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from omnialign.data.collate import pad_sequences
from omnialign.data.encode import ChatEncoder
from omnialign.data.sample import MediaRef, Message, Part, Sample
from omnialign.eval.distributed import progress
from omnialign.eval.items import Response
from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor
from omnialign.models.generation.logprobs import response_token_logprobs
from omnialign.models.score import ScoreModel


@dataclass(frozen=True)
class JudgeRequest:
    prompt: Sample
    response: Response
    criterion: str
    """What to judge, in words (each task family has its own)."""
    reference: str | None = None


@dataclass(frozen=True)
class Verdict:
    score: float | None
    """None when the judge's answer could not be read as a rating (counted, never guessed)."""
    text: str


def describe(parts: Response) -> str:
    """Parts as text, media as `[image: file]` placeholders, for judges that read text only."""
    return " ".join(_describe_part(p) for p in parts)


def _describe_part(part: Part) -> str:
    if part.type == "text":
        return part.text or ""
    return f"[{part.type}: {part.media.describe()}]"


def request_media(request: JudgeRequest, accepts: Callable[[str], bool]) -> tuple[Part, ...]:
    """The media parts of the request's prompt, then of the answer, that the judge `accepts` by modality."""
    parts = (*(p for m in request.prompt.prompt for p in m.parts), *request.response)
    return tuple(p for p in parts if p.media is not None and accepts(p.type))


def judge_prompt(request: JudgeRequest, scale: int) -> str:
    lines = [
        f"Criterion: {request.criterion}",
        f"Request: {describe(request.prompt.prompt[-1].parts)}",
        *([f"Reference answer: {request.reference}"] if request.reference is not None else []),
        f"Answer: {describe(request.response)}",
        f"Rate the answer from 1 (worst) to {scale} (best). Reply with the number only.",
    ]
    return "\n".join(lines)


class Judge(ABC):
    @abstractmethod
    def judge(self, requests: list[JudgeRequest]) -> list[Verdict]:
        """One verdict per request, in order."""


class LocalModelJudge(Judge):
    """A local causal LM as judge: expected rating under its next-token probabilities. A multimodal backbone
    sees the media its processor takes (the request's first, then the answer's) before the judge text."""

    def __init__(self, backbone: BackboneOptions, scale: int = 5) -> None:
        """
        Args:
            backbone: The judge network (`tiny:<name>` builds offline).
            scale: Ratings run 1..scale.
        """
        processor = load_processor(backbone)
        self.model = load_causal_lm(backbone, processor).eval()
        self.encoder = ChatEncoder(processor)
        self.scale = scale

    @torch.no_grad()
    def judge(self, requests: list[JudgeRequest]) -> list[Verdict]:
        return [self._one(request) for request in progress(requests, "judge")]

    def judge_sample(self, request: JudgeRequest) -> Sample:
        """The judge's conversation: one user turn with the media it can take and the judge text, and every
        rating as a candidate response."""
        accepts = self.encoder.decode_media.supports if self.encoder.is_multimodal else lambda _: False
        text = Part.of_text(judge_prompt(request, self.scale))
        prompt = (Message("user", (*request_media(request, accepts), text)),)
        ratings = [str(r) for r in range(1, self.scale + 1)]
        return Sample(prompt=prompt, responses=tuple((Part.of_text(r),) for r in ratings))

    def _one(self, request: JudgeRequest) -> Verdict:
        sample = self.judge_sample(request)
        batch = pad_sequences(self.encoder.encode_responses(sample), self.encoder.tokenizer.pad_token_id)
        sequence = response_token_logprobs(self.model, batch).sum(-1)
        probs = sequence.softmax(0)
        expected = float((probs * torch.arange(1, self.scale + 1)).sum())
        return Verdict((expected - 1) / (self.scale - 1), f"expected rating {expected:.3f}")


class RewardModelJudge(Judge):
    """A trained score model's head (e.g. `reward`) as judge, loaded from `ScoreModel.save_pretrained`."""

    def __init__(self, path: str, head: str = "reward", processor: str | None = None) -> None:
        """
        Args:
            path: Folder written by `ScoreModel.save_pretrained`.
            head: Which score head to read.
            processor: Where the tokenizer/processor lives when not in `path` (e.g. `tiny:llama`).
        """
        self.model = ScoreModel.from_pretrained(path).eval()
        self.encoder = ChatEncoder(load_processor(BackboneOptions(name=processor or path)))
        self.index = self.model.head_index(head)

    def judge(self, requests: list[JudgeRequest]) -> list[Verdict]:
        samples = []
        for request in requests:
            response = (
                request.response
                if self.encoder.is_multimodal
                else (Part.of_text(describe(request.response)),)
            )
            prompt = request.prompt if self.encoder.is_multimodal else _text_only(request.prompt)
            samples.append(Sample(prompt=prompt.prompt, responses=(response,)))
        scores = self.model.score_samples(samples, self.encoder, batch_size=max(len(samples), 1))[
            :, self.index
        ]
        return [Verdict(float(s), f"score {float(s):.4f}") for s in scores]


def _text_only(sample: Sample) -> Sample:
    messages = tuple(Message(m.role, (Part.of_text(describe(m.parts)),)) for m in sample.prompt)
    return Sample(prompt=messages, meta=sample.meta)


def image_url(ref: MediaRef) -> dict[str, Any]:
    """An OpenAI `image_url` content part carrying the image file's own bytes as a base64 data URL."""
    data = ref.data if ref.data is not None else Path(str(ref.path)).read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        mime = Image.MIME.get(image.format or "", "application/octet-stream")
    url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return {"type": "image_url", "image_url": {"url": url}}


class HttpJudge(Judge):
    """An OpenAI-compatible chat-completions endpoint (vLLM, TGI, a hosted API) as judge; with `send_images`
    the request's and the answer's images follow the judge text as base64 data URLs."""

    def __init__(
        self,
        url: str,
        model: str,
        scale: int = 5,
        api_key_env: str | None = None,
        timeout_s: float = 60.0,
        send_images: bool = True,
    ) -> None:
        """
        Args:
            url: Base URL, e.g. `http://127.0.0.1:8000/v1` (`/chat/completions` is appended).
            model: Model name sent in each request.
            scale: Ratings run 1..scale.
            api_key_env: Environment variable holding a bearer token; None sends none.
            timeout_s: Per-request timeout.
            send_images: Attach images (a vision endpoint); False sends text with placeholders only.
        """
        self.url = url.rstrip("/") + "/chat/completions"
        self.model = model
        self.scale = scale
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.send_images = send_images

    def judge(self, requests: list[JudgeRequest]) -> list[Verdict]:
        return [self._one(request) for request in progress(requests, "judge")]

    def content(self, request: JudgeRequest) -> str | list[dict[str, Any]]:
        """The user message's content: the judge text alone, or text then images when there are any."""
        text = judge_prompt(request, self.scale)
        images = request_media(request, lambda kind: kind == "image") if self.send_images else ()
        if not images:
            return text
        return [{"type": "text", "text": text}, *(image_url(part.media) for part in images)]

    def _one(self, request: JudgeRequest) -> Verdict:
        body = {
            "model": self.model,
            "temperature": 0,
            "messages": [{"role": "user", "content": self.content(request)}],
        }
        headers = {"Content-Type": "application/json"}
        if self.api_key_env is not None:
            headers["Authorization"] = f"Bearer {os.environ[self.api_key_env]}"
        call = urllib.request.Request(self.url, json.dumps(body).encode(), headers, method="POST")
        with urllib.request.urlopen(call, timeout=self.timeout_s) as reply:
            text = json.loads(reply.read())["choices"][0]["message"]["content"]
        return Verdict(self.parse(text), text)

    def parse(self, text: str) -> float | None:
        """The first integer in 1..scale, mapped to [0, 1]; None when there is none."""
        for match in re.findall(r"\d+", text):
            if 1 <= int(match) <= self.scale:
                return (int(match) - 1) / (self.scale - 1)
        return None
