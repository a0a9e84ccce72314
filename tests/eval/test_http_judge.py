"""The HTTP judge's client policy and verdict protocol against an OpenAI-compatible stub on 127.0.0.1:
strict `[[rating]]` parsing, retries on 429/5xx/timeouts, bounded concurrency, `max_tokens`, and an API
key that reaches the server but never the results, samples, report, logs or errors."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from typing import ClassVar

import openai
import pytest
from chat_stub import ChatStub, serving

from omnialign.data.sample import Message, Part, Sample
from omnialign.eval.adapters import ResponseFile
from omnialign.eval.cli import run
from omnialign.eval.fixtures import write_eval_fixture
from omnialign.eval.judges import HttpJudge, JudgeRequest, parse_rating
from omnialign.eval.runner import ModelSpec


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Rating: [[4]]", 0.75),  # (4 - 1) / (5 - 1)
        ("[[ 1 ]]", 0.0),
        ("The answer is good. Rating: [[5]]. Again: [[5]]", 1.0),  # repeated, agreeing
        ("2 + 2 = 4", None),  # bare numbers are not ratings (the first integer here is 2)
        ("Rating: 4", None),  # no brackets
        ("[[2]] or maybe [[4]]", None),  # disagreeing brackets
        ("Rating: [[9]]", None),  # off the 1..5 scale
        ("Rating: [[3.5]]", None),  # not a whole number
        ("", None),
    ],
)
def test_only_a_bracketed_rating_counts(text, expected):
    assert parse_rating(text, scale=5) == expected


def _request(number: int) -> JudgeRequest:
    prompt = Sample(prompt=(Message("user", (Part.of_text(f"question {number}"),)),))
    return JudgeRequest(prompt, (Part.of_text(f"answer {number}"),), "correct?")


def _number(body: dict) -> int:
    """k of a `question k` request; other requests (a whole eval run's) count as question 0."""
    found = re.search(r"question (\d+)", json.dumps(body["messages"]))
    return int(found.group(1)) if found else 0


class Flaky(ChatStub):
    """Fails the first tries of every question as `plan` says (a status, or `sleep` past the client's
    timeout), then rates question k as 1 + k % 5; counts tries and requests in flight."""

    plan: ClassVar[list[str]] = []
    tries: ClassVar[dict[int, int]] = {}
    bodies: ClassVar[list[dict]] = []
    in_flight = 0
    most_in_flight = 0
    delay_s = 0.0
    lock = threading.Lock()

    @classmethod
    def reset(cls, plan: list[str], delay_s: float = 0.0) -> None:
        cls.plan, cls.tries, cls.bodies, cls.in_flight, cls.most_in_flight = plan, {}, [], 0, 0
        cls.delay_s = delay_s

    def status(self, body: dict) -> tuple[int, dict[str, str]]:
        number = _number(body)
        with Flaky.lock:
            attempt = Flaky.tries.get(number, 0)
            Flaky.tries[number] = attempt + 1
            Flaky.bodies.append({"authorization": self.headers.get("Authorization"), **body})
            Flaky.in_flight += 1
            Flaky.most_in_flight = max(Flaky.most_in_flight, Flaky.in_flight)
        try:
            step = Flaky.plan[attempt] if attempt < len(Flaky.plan) else "ok"
            time.sleep(2.0 if step == "sleep" else Flaky.delay_s)
            if step in ("ok", "sleep"):
                return 200, {}
            return int(step), {"retry-after-ms": "10"}  # keep the test's waits short
        finally:
            with Flaky.lock:
                Flaky.in_flight -= 1

    def reply(self, body: dict) -> str:
        return f"Rating: [[{1 + _number(body) % 5}]]"


@pytest.fixture(scope="module")
def flaky_url():
    with serving(Flaky) as url:
        yield url


def test_rate_limits_server_errors_and_timeouts_are_retried(flaky_url):
    """Each request meets 429, 503, then a reply slower than the 0.5 s timeout before it succeeds: four
    tries each, and every verdict is the rating the stub gave."""
    Flaky.reset(["429", "503", "sleep"])
    judge = HttpJudge(flaky_url, model="stub", timeout_s=0.5, max_retries=3, concurrency=2)
    verdicts = judge.judge([_request(k) for k in range(3)])
    assert [v.score for v in verdicts] == [(1 + k % 5 - 1) / 4 for k in range(3)]
    assert Flaky.tries == {0: 4, 1: 4, 2: 4}


def test_a_request_that_keeps_failing_stops_the_run(flaky_url):
    Flaky.reset(["500"] * 10)
    judge = HttpJudge(flaky_url, model="stub", max_retries=1, concurrency=1)
    with pytest.raises(openai.InternalServerError):
        judge.judge([_request(0)])
    assert Flaky.tries == {0: 2}  # the first try and one retry


def test_concurrency_is_bounded_and_order_kept(flaky_url):
    """8 requests of 0.3 s each through 3 workers: at most 3 in flight (and more than one, or the pool
    would be idle), verdicts in request order; every request carries max_tokens and temperature 0."""
    Flaky.reset([], delay_s=0.3)
    judge = HttpJudge(flaky_url, model="stub", concurrency=3, max_tokens=12)
    verdicts = judge.judge([_request(k) for k in range(8)])
    assert [v.text for v in verdicts] == [f"Rating: [[{1 + k % 5}]]" for k in range(8)]
    assert 2 <= Flaky.most_in_flight <= 3
    assert {(b["max_tokens"], b["temperature"]) for b in Flaky.bodies} == {(12, 0)}


def test_a_missing_key_variable_is_named():
    with pytest.raises(ValueError, match="OMNIALIGN_TEST_UNSET_KEY"):
        HttpJudge("http://127.0.0.1:9/v1", model="stub", api_key_env="OMNIALIGN_TEST_UNSET_KEY")


SECRET = "sk-test-0123456789abcdef-never-print-me"


class Unauthorised(ChatStub):
    def status(self, body: dict) -> tuple[int, dict[str, str]]:
        return 401, {}


def test_the_api_key_reaches_the_server_and_nothing_else(flaky_url, tmp_path, monkeypatch, caplog, capsys):
    """A full run with debug logging on: the server sees `Bearer <key>`; results.json, samples.jsonl, the
    report, the log records and stdout/stderr never contain the key, and neither does the error of a
    rejected request."""
    monkeypatch.setenv("OMNIALIGN_TEST_JUDGE_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    data = write_eval_fixture(tmp_path / "data")
    registry = tmp_path / "registry.yaml"
    registry.write_text(
        "tasks:\n  - {name: understanding, family: understanding, data: understanding.jsonl, judge: judge}\n"
    )
    Flaky.reset(["429"])
    judge = HttpJudge(flaky_url, model="stub", api_key_env="OMNIALIGN_TEST_JUDGE_KEY")
    out = run(
        models=[ModelSpec("strong", ResponseFile(str(data / "responses/strong.jsonl")))],
        registry=str(registry),
        tasks=["understanding"],
        data_root=str(data),
        output_dir=str(tmp_path / "out"),
        judges={"judge": judge},
        resamples=10,
    )
    assert {b["authorization"] for b in Flaky.bodies} == {f"Bearer {SECRET}"}
    with serving(Unauthorised) as url:
        rejected = HttpJudge(url, model="stub", api_key_env="OMNIALIGN_TEST_JUDGE_KEY", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as error:
            rejected.judge([_request(0)])
    written = [
        path.read_text(errors="replace")
        for path in out.rglob("*")
        if path.suffix in (".json", ".jsonl", ".html")
    ]
    captured = capsys.readouterr()
    assert len(written) == 3 and json.loads((out / "results.json").read_text())
    for text in [*written, caplog.text, captured.out, captured.err, str(error.value), repr(judge.__dict__)]:
        assert SECRET not in text
