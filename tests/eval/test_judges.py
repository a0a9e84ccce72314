"""Judges and the local generator on tiny models: an OpenAI-compatible stub server on 127.0.0.1, a saved
tiny reward model, and greedy generation by a tiny causal LM, each through `run` with all outputs."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from chat_stub import ChatStub, serving

from omnialign.data.collate import pad_sequences
from omnialign.data.encode import ChatEncoder
from omnialign.data.sample import Message, Part, Sample
from omnialign.eval.adapters import LocalGenerator, ResponseFile
from omnialign.eval.cli import run
from omnialign.eval.fixtures import write_eval_fixture
from omnialign.eval.items import load_items
from omnialign.eval.judges import HttpJudge, JudgeRequest, LocalModelJudge, RewardModelJudge
from omnialign.eval.runner import ModelSpec
from omnialign.models.backbone import BackboneOptions, load_processor
from omnialign.models.score import ScoreConfig, build_score_model

REGISTRY_TEXT = """tasks:
  - {name: understanding, family: understanding, data: understanding.jsonl, judge: judge, limit: 2}
  - {name: synergy, family: synergy, data: synergy.jsonl, judge: judge}
"""


class StubHandler(ChatStub):
    """Answers every chat completion with a rating read from the prompt: 4 when the reference is quoted."""

    bodies: ClassVar[list[dict]] = []

    def reply(self, body: dict) -> str:
        StubHandler.bodies.append({"path": self.path, **body})
        return "Rating: [[4]]" if "Reference answer:" in judge_text(body) else "I cannot rate this."


def judge_text(body: dict) -> str:
    """The judge prompt of a request body; a vision message carries it as its first part."""
    content = body["messages"][0]["content"]
    return content[0]["text"] if isinstance(content, list) else content


@pytest.fixture
def stub_url():
    with serving(StubHandler) as url:
        yield url


@pytest.fixture
def data(tmp_path):
    root = write_eval_fixture(tmp_path / "data")
    (tmp_path / "registry.yaml").write_text(REGISTRY_TEXT)
    return root


def test_http_judge_against_a_local_stub(stub_url, data, tmp_path):
    """Rating 4 on a 1..5 scale → (4 − 1)/4 = .75 for both referenced items; synergy prompts carry no
    reference, the stub declines, and those verdicts are unparsed (None), counted out of `n`."""
    StubHandler.bodies = []
    out = run(
        models=[ModelSpec("strong", ResponseFile(str(data / "responses/strong.jsonl")))],
        registry=str(tmp_path / "registry.yaml"),
        tasks=["understanding", "synergy"],
        data_root=str(data),
        output_dir=str(tmp_path / "out"),
        judges={"judge": HttpJudge(stub_url, model="stub-judge")},
        resamples=50,
    )
    results = {(r["task"], r["metric"]): r for r in json.loads((out / "results.json").read_text())}
    assert (results["understanding", "score"]["value"], results["understanding", "score"]["n"]) == (0.75, 2)
    assert results["synergy", "score"]["n"] == 0
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert [r["verdict"] for r in rows] == ["Rating: [[4]]"] * 2 + ["I cannot rate this."] * 2
    # the judge sends its requests concurrently: they reach the stub in any order
    assert {(body["path"], body["model"]) for body in StubHandler.bodies} == {
        ("/v1/chat/completions", "stub-judge")
    }
    assert sum("Reference answer: 4" in judge_text(body) for body in StubHandler.bodies) == 1
    assert (out / "report/report.html").exists()


def test_reward_model_judge_reads_the_saved_head(tmp_path):
    """The judge's score equals the saved score model's own score of the same conversation."""
    options = BackboneOptions(name="tiny:llama", seed=3)
    processor = load_processor(options)
    model = build_score_model(options, processor, ScoreConfig(heads=["helpful", "reward"]))
    model.save_pretrained(tmp_path / "rm")
    judge = RewardModelJudge(str(tmp_path / "rm"), head="reward", processor="tiny:llama")
    prompt = Sample(prompt=(Message("user", (Part.of_text("Say hi."),)),))
    answers = [(Part.of_text("hi"),), (Part.of_text("hello there"),)]
    verdicts = judge.judge([JudgeRequest(prompt, answer, "helpful?") for answer in answers])

    encoder = ChatEncoder(processor)
    sequences = [encoder.encode(Sample(prompt=prompt.prompt, responses=(a,))) for a in answers]
    batch = pad_sequences(sequences, encoder.tokenizer.pad_token_id)
    expected = model.eval().score(batch["attention_mask"], input_ids=batch["input_ids"])[:, 1]
    assert [v.score for v in verdicts] == pytest.approx(expected.tolist(), abs=1e-5)
    assert verdicts[0].score != verdicts[1].score


def test_local_generator_answers_and_is_judged(stub_url, data, tmp_path):
    """A tiny causal LM answers the text-only understanding item greedily (deterministic across runs)."""
    task = "{name: understanding, family: understanding, data: understanding.jsonl, judge: judge, limit: 1}"
    (tmp_path / "registry.yaml").write_text(f"tasks:\n  - {task}\n")
    generator = LocalGenerator(BackboneOptions(name="tiny:llama"), max_new_tokens=4)
    out = run(
        models=[ModelSpec("tiny", generator)],
        registry=str(tmp_path / "registry.yaml"),
        tasks=["understanding"],
        data_root=str(data),
        output_dir=str(tmp_path / "out"),
        judges={"judge": HttpJudge(stub_url, model="stub-judge")},
        resamples=10,
    )
    row = json.loads((out / "samples.jsonl").read_text())
    assert (row["id"], row["score"]) == ("u-text", 0.75)
    (again,) = generator.respond(load_items(data / "understanding.jsonl", limit=1), data)
    assert again == (Part.of_text(row["output"]),)


@pytest.mark.slow
def test_multimodal_generator_batched_equals_one_by_one(data):
    """tiny:qwen2-vl answers text, image and video prompts in one left-padded batch exactly as it answers
    each alone: padding and media batching do not change greedy answers."""
    generator = LocalGenerator(BackboneOptions(name="tiny:qwen2-vl"), max_new_tokens=3, batch_size=3)
    text, image, _, video = load_items(data / "understanding.jsonl")
    batched = generator.respond([text, image, video], data)
    alone = [generator.respond([item], data)[0] for item in (text, image, video)]
    assert batched == alone
    assert all(answer[0].type == "text" for answer in batched)


def test_local_judge_batched_equals_one_at_a_time():
    """Requests of different lengths (with and without a reference) judged 3 per forward pass, padded
    together, give the expected ratings they get alone."""
    judge = LocalModelJudge(BackboneOptions(name="tiny:llama", seed=5), batch_size=3)
    prompts = ["Say hi.", "What is 2 + 2? Answer with a number and a short reason.", "Name a colour."]
    requests = [
        JudgeRequest(
            Sample(prompt=(Message("user", (Part.of_text(prompts[i % 3]),)),)),
            (Part.of_text("word " * (i + 1)),),
            "correct?",
            reference="4" if i % 2 else None,
        )
        for i in range(5)
    ]
    batched = [v.score for v in judge.judge(requests)]
    alone = [judge.judge([request])[0].score for request in requests]
    assert batched == pytest.approx(alone, abs=1e-5)
    assert len(set(batched)) == len(batched)  # the requests really differ
