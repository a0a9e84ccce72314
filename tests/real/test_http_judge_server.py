"""The HTTP judge against a real OpenAI-compatible server: `transformers serve` (transformers' `serving`
extra, a dev dependency) serving the embedded SmolLM2-135M-Instruct from its converted folder on
127.0.0.1, started and stopped by a fixture with a bounded wait.

What the server says is checked against the same model run locally: each verdict must be exactly the
model's greedy answer to the judge prompt, cut at `max_tokens`, so the request carried that prompt,
temperature 0 and the token limit. The verdict protocol then holds on real free text: a score exists
only where the text has a bracketed `[[r]]` rating, and every verdict without one is counted in
results.json's `unparsed_verdicts[judge]`, never defaulted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch
from ports import free_port
from transformers import AutoModelForCausalLM, AutoTokenizer

from omnialign.eval.adapters import ResponseFile
from omnialign.eval.cli import run
from omnialign.eval.fixtures import write_eval_fixture
from omnialign.eval.judges import HttpJudge, parse_rating
from omnialign.eval.runner import ModelSpec
from omnialign.models.gguf import pretrained_location

STARTUP_S = 240.0
"""Longest wait for the server to answer (it imports torch and transformers; about 15 s on an idle CPU)."""
MAX_TOKENS = 16
REGISTRY = (
    "tasks:\n  - {name: understanding, family: understanding, data: understanding.jsonl, judge: judge}\n"
)


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"transformers serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=5) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(1.0)
    pytest.fail(f"transformers serve did not answer within {STARTUP_S:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> tuple[str, str]:
    """(base URL, model name) of `transformers serve` on a free 127.0.0.1 port, stopped after the tests."""
    folder = pretrained_location("smollm2-135m-instruct")
    executable = shutil.which("transformers", path=str(Path(sys.executable).parent))
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    command = [executable, "serve", folder, "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "2"}
    with log.open("w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_up(url, process, log)
        yield url, folder
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _local_greedy(folder: str, prompts: list[str]) -> list[str]:
    """The model's own greedy answers, `MAX_TOKENS` at most, through its chat template."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    answers = []
    for prompt in prompts:
        ids = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )["input_ids"]
        with torch.no_grad():
            out = model.generate(
                ids, max_new_tokens=MAX_TOKENS, do_sample=False, pad_token_id=tokenizer.eos_token_id
            )
        answers.append(tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True))
    return answers


def test_http_judge_against_transformers_serve(served, tmp_path):
    url, folder = served  # SmolLM2 reads text only: media reach it as `[image: file]` placeholders
    data = write_eval_fixture(tmp_path / "data")
    (tmp_path / "registry.yaml").write_text(REGISTRY)
    judge = HttpJudge(
        url, model=folder, max_tokens=MAX_TOKENS, concurrency=2, timeout_s=120.0, send_images=False
    )
    prompts = []
    original = judge.content
    judge.content = lambda request: prompts.append(original(request)) or prompts[-1]  # what was sent
    out = run(
        models=[ModelSpec("strong", ResponseFile(str(data / "responses/strong.jsonl")))],
        registry=str(tmp_path / "registry.yaml"),
        tasks=["understanding"],
        data_root=str(data),
        output_dir=str(tmp_path / "out"),
        judges={"judge": judge},
        resamples=10,
    )
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and len(prompts) == 4 and all(isinstance(p, str) for p in prompts)

    sent = {row["id"]: prompt for row in rows for prompt in prompts if row["inputs"]["prompt"] in prompt}
    expected = dict(zip(sent, _local_greedy(folder, list(sent.values())), strict=True))
    assert {row["id"]: row["verdict"] for row in rows} == expected

    for row in rows:  # a score only from a bracketed rating; none where there is none
        assert row["score"] == parse_rating(row["verdict"], 5)
    results = {e["metric"]: e for e in json.loads((out / "results.json").read_text())}
    unparsed = sum(row["score"] is None for row in rows)
    assert (results["unparsed_verdicts[judge]"]["value"], results["unparsed_verdicts[judge]"]["n"]) == (
        unparsed,
        4,
    )
    assert results["score"]["n"] == 4 - unparsed
