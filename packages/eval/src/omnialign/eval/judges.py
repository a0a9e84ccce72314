"""Pluggable judges: a local language model, a reward model (`ScoreModel`), or an OpenAI-compatible HTTP
endpoint (rule judges: `rule_judges.py`). Each turns (prompt, response, reference, criterion) into a
`Verdict`. A prompt's system turn (the context a task gives, e.g. the facts a question is about) reaches every
judge: a reward model scores the whole conversation, language-model judges read it as the `Context:` line.

Media reach judges that can see them: a local multimodal judge (Qwen2-VL, LLaVA, Qwen2-Audio ...) gets the
prompt's and the answer's media through its own processor, an HTTP judge gets images as base64 `image_url`
data URLs (the OpenAI vision message format); media a judge cannot take stay `[image: file]` placeholders in
the text, which every judge also gets, so it can tell the request's media from the answer's by their order.

Language-model judges rate on a 1..`scale` scale, mapped to [0, 1], in MT-Bench's strict verdict format:
the prompt asks for `Rating: [[r]]` and only a bracketed `[[r]]` counts. A free-text judge that writes "2 + 2
= 4" gives no rating (its first integer is not a verdict); a reply with no rating, several different ones,
or one off the scale is unparseable: its score is None, counted per task and judge in the results and the
report, never guessed. The local judge does not sample a rating: it reads the probability of each verdict
string (`Rating: [[1]]` ... ) after the judge prompt and reports the expected rating, so every item gets a
score, and a tiny random judge in tests is as deterministic as a real one. A reward model reports its
(normalised) score as is: only comparisons between models are meaningful for it.
"""

from __future__ import annotations

import base64
import io
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from openai import OpenAI
from PIL import Image

from omnialign.data.collate import pad_sequences
from omnialign.data.encode import ChatEncoder
from omnialign.data.sample import MediaRef, Message, Part, Sample
from omnialign.eval.distributed import progress
from omnialign.eval.items import Response
from omnialign.models.backbone import BackboneOptions, load_causal_lm, load_processor
from omnialign.models.device import resolve_device
from omnialign.models.generation.logprobs import response_token_logprobs
from omnialign.models.score import ScoreModel

RATING = re.compile(r"\[\[\s*(\d+)\s*\]\]")
"""A verdict's rating: a whole number in double brackets (MT-Bench's `[[rating]]`); nothing else counts."""


@dataclass(frozen=True)
class JudgeRequest:
    prompt: Sample
    response: Response
    criterion: str
    """What to judge, in words (each task family has its own)."""
    reference: str | None = None
    labels: dict[str, str] | None = None
    """The item's per-item ground truth (`EvalItem.labels`), for rule judges."""


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


def verdict_text(rating: int) -> str:
    """The verdict the judge prompt asks for, e.g. `Rating: [[4]]`."""
    return f"Rating: [[{rating}]]"


def judge_prompt(request: JudgeRequest, scale: int) -> str:
    context = [describe(m.parts) for m in request.prompt.prompt if m.role == "system"]
    lines = [
        f"Criterion: {request.criterion}",
        *(f"Context: {text}" for text in context),
        f"Request: {describe(request.prompt.prompt[-1].parts)}",
        *([f"Reference answer: {request.reference}"] if request.reference is not None else []),
        f"Answer: {describe(request.response)}",
        f"Rate the answer from 1 (worst) to {scale} (best). Your reply must strictly follow this format: "
        f'"Rating: [[rating]]", for example: "{verdict_text((scale + 1) // 2)}".',
    ]
    return "\n".join(lines)


def parse_rating(text: str, scale: int) -> float | None:
    """The `[[r]]` rating of a verdict mapped to [0, 1]: (r − 1)/(scale − 1). None (unparseable) when there
    is no bracketed rating, when the brackets disagree, or when r is off the 1..scale scale; bare numbers
    ("2 + 2 = 4") are never read as ratings."""
    ratings = {int(match) for match in RATING.findall(text)}
    if len(ratings) != 1:
        return None
    (rating,) = ratings
    return (rating - 1) / (scale - 1) if 1 <= rating <= scale else None


class Judge(ABC):
    @abstractmethod
    def judge(self, requests: list[JudgeRequest]) -> list[Verdict]:
        """One verdict per request, in order."""


class LocalModelJudge(Judge):
    """A local causal LM as judge: expected rating under its next-token probabilities. A multimodal backbone
    sees the media its processor takes (the request's first, then the answer's) before the judge text."""

    def __init__(
        self, backbone: BackboneOptions, scale: int = 5, batch_size: int = 8, device: str = "auto"
    ) -> None:
        """
        Args:
            backbone: The judge network (`tiny:<name>` builds offline).
            scale: Ratings run 1..scale.
            batch_size: Requests per forward pass (each is `scale` sequences: one per verdict).
            device: `auto` (this process's GPU when CUDA is available, else the CPU), `cpu`, `cuda:1`, ...
        """
        processor = load_processor(backbone)
        self.device = resolve_device(device)
        self.model = load_causal_lm(backbone, processor).eval().to(self.device)
        self.encoder = ChatEncoder(processor)
        self.scale = scale
        self.batch_size = batch_size

    @torch.no_grad()
    def judge(self, requests: list[JudgeRequest]) -> list[Verdict]:
        starts = range(0, len(requests), self.batch_size)
        return [
            verdict
            for start in progress(starts, "judge")
            for verdict in self._batch(requests[start : start + self.batch_size])
        ]

    def judge_sample(self, request: JudgeRequest) -> Sample:
        """The judge's conversation: one user turn with the media it can take and the judge text, and every
        verdict (`Rating: [[1]]` ...) as a candidate response."""
        accepts = self.encoder.decode_media.supports if self.encoder.is_multimodal else lambda _: False
        text = Part.of_text(judge_prompt(request, self.scale))
        prompt = (Message("user", (*request_media(request, accepts), text)),)
        verdicts = [verdict_text(r) for r in range(1, self.scale + 1)]
        return Sample(prompt=prompt, responses=tuple((Part.of_text(v),) for v in verdicts))

    def _batch(self, requests: list[JudgeRequest]) -> list[Verdict]:
        """Every verdict of every request in one padded batch; each request's verdict log-probs are
        softmaxed among themselves, so the result does not depend on the batch (tested)."""
        sequences = [seq for r in requests for seq in self.encoder.encode_responses(self.judge_sample(r))]
        batch = pad_sequences(sequences, self.encoder.tokenizer.pad_token_id)
        batch = {key: value.to(self.device) for key, value in batch.items()}
        sequence = response_token_logprobs(self.model, batch).sum(-1).view(len(requests), self.scale)
        ratings = torch.arange(1, self.scale + 1, dtype=sequence.dtype, device=sequence.device)
        expected = (sequence.softmax(-1) * ratings).sum(-1).tolist()
        return [Verdict((e - 1) / (self.scale - 1), f"expected rating {e:.3f}") for e in expected]


class RewardModelJudge(Judge):
    """A trained score model's head (e.g. `reward`) as judge, loaded from `ScoreModel.save_pretrained`."""

    def __init__(
        self,
        path: str,
        head: str = "reward",
        processor: str | None = None,
        batch_size: int = 16,
        device: str = "auto",
    ) -> None:
        """
        Args:
            path: Folder written by `ScoreModel.save_pretrained`.
            head: Which score head to read.
            processor: Where the tokenizer/processor lives when not in `path` (e.g. `tiny:llama`).
            batch_size: Answers per forward pass.
            device: `auto` (this process's GPU when CUDA is available, else the CPU), `cpu`, `cuda:1`, ...
        """
        self.device = resolve_device(device)
        self.model = ScoreModel.from_pretrained(path).eval().to(self.device)
        self.encoder = ChatEncoder(load_processor(BackboneOptions(name=processor or path)))
        self.index = self.model.head_index(head)
        self.batch_size = batch_size

    @torch.no_grad()
    def judge(self, requests: list[JudgeRequest]) -> list[Verdict]:
        starts = range(0, len(requests), self.batch_size)
        return [
            verdict
            for start in progress(starts, "judge")
            for verdict in self._batch(requests[start : start + self.batch_size])
        ]

    def _batch(self, requests: list[JudgeRequest]) -> list[Verdict]:
        samples = []
        for request in requests:
            response = (
                request.response
                if self.encoder.is_multimodal
                else (Part.of_text(describe(request.response)),)
            )
            prompt = request.prompt if self.encoder.is_multimodal else _text_only(request.prompt)
            samples.append(Sample(prompt=prompt.prompt, responses=(response,)))
        scores = self.model.score_samples(samples, self.encoder, batch_size=len(samples))[:, self.index]
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


NO_KEY = "EMPTY"
"""Bearer token sent when no key is configured: local OpenAI-compatible servers (vLLM, `transformers serve`)
ignore it, and the `openai` client refuses to start without one (vLLM's own docs use this value)."""


class HttpJudge(Judge):
    """An OpenAI-compatible chat-completions endpoint (vLLM, TGI, `transformers serve`, a hosted API) as
    judge; with `send_images` the request's and the answer's images follow the judge text as base64 data URLs.

    Requests go through the official `openai` client: a per-request timeout, and retries with exponential
    backoff and jitter (0.5 s doubling to 8 s, or the server's `Retry-After`) on 408/409/429/5xx, lost
    connections and timeouts, so one rate-limit answer does not abort a run; `concurrency` requests are in
    flight at once. A request that still fails after `max_retries` stops the run with the endpoint's error.
    The API key is read from the environment when the judge is built and lives only in the client's
    request headers: configs name the variable, never the key, and results, samples and logs never see it.
    """

    def __init__(
        self,
        url: str,
        model: str,
        scale: int = 5,
        api_key_env: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 5,
        concurrency: int = 4,
        max_tokens: int = 32,
        send_images: bool = True,
    ) -> None:
        """
        Args:
            url: Base URL, e.g. `http://127.0.0.1:8000/v1` (`/chat/completions` is appended).
            model: Model name sent in each request.
            scale: Ratings run 1..scale.
            api_key_env: Environment variable holding the bearer token; None sends the placeholder `EMPTY`.
            timeout_s: Per-request timeout; a request that times out is retried.
            max_retries: Retries per request after the first try (429, 5xx, timeouts, lost connections).
            concurrency: Requests in flight at once.
            max_tokens: Most tokens per verdict (`Rating: [[r]]` takes about 8); a judge cut off before its
                rating gives an unparseable verdict, counted in the results.
            send_images: Attach images (a vision endpoint); False sends text with placeholders only.
        """
        if api_key_env is not None and api_key_env not in os.environ:
            raise ValueError(f"HttpJudge: environment variable '{api_key_env}' (api_key_env) is not set")
        if concurrency < 1:
            raise ValueError(f"HttpJudge: concurrency must be at least 1, got {concurrency}")
        key = os.environ[api_key_env] if api_key_env is not None else NO_KEY
        self.client = OpenAI(base_url=url, api_key=key, timeout=timeout_s, max_retries=max_retries)
        self.model = model
        self.scale = scale
        self.concurrency = concurrency
        self.max_tokens = max_tokens
        self.send_images = send_images

    def judge(self, requests: list[JudgeRequest]) -> list[Verdict]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(progress(pool.map(self._one, requests), "judge", total=len(requests)))

    def content(self, request: JudgeRequest) -> str | list[dict[str, Any]]:
        """The user message's content: the judge text alone, or text then images when there are any."""
        text = judge_prompt(request, self.scale)
        images = request_media(request, lambda kind: kind == "image") if self.send_images else ()
        if not images:
            return text
        return [{"type": "text", "text": text}, *(image_url(part.media) for part in images)]

    def _one(self, request: JudgeRequest) -> Verdict:
        completion = self.client.chat.completions.create(
            model=self.model,
            messages=[{"role": "user", "content": self.content(request)}],
            temperature=0,
            max_tokens=self.max_tokens,
        )
        text = completion.choices[0].message.content or ""
        return Verdict(parse_rating(text, self.scale), text)
