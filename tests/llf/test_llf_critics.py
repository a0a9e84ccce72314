"""Critics of pair synthesis: the rule critic's text follows its rule, and synthesis takes any critic."""

from __future__ import annotations

import pytest

from omnialign.data.sample import Message, Part, Sample
from omnialign.pipelines.llf.critics import WordLimitCritic, word_count
from omnialign.pipelines.llf.synthesis import PairSynthesizer


def _sample(text: str, row: int = 0) -> Sample:
    return Sample(prompt=(Message("user", (Part.of_text(text),)),), meta={"row": row})


def test_word_count_splits_on_whitespace():
    assert word_count("  Boil it,\nthen  cool it. ") == 5
    assert word_count("") == 0


def test_word_limit_critic_names_the_count_and_the_limit_and_passes_answers_within_it():
    critic = WordLimitCritic(max_words=3)
    long, short = (Part.of_text("one two three four"),), (Part.of_text("one two three"),)
    feedback = critic.critique([_sample("q"), _sample("q")], [long, short], seed=0)
    assert feedback[0].startswith("Critique: The answer has 4 words, but the limit is 3.")
    assert "at most 3 words" in feedback[0]
    assert feedback[1] == ""  # within the limit: nothing to fix, synthesis skips the row


def test_word_limit_critic_rejects_a_limit_below_one():
    with pytest.raises(ValueError, match="max_words"):
        WordLimitCritic(0)


class _Responder:
    """Answers with a fixed long text and refines to the first word of it."""

    def respond(self, samples, seed):
        return [(Part.of_text("a b c d e"),) for _ in samples]

    def refine(self, samples, responses, feedback, seed):
        from omnialign.pipelines.llf.responders import Refinement

        return [Refinement((Part.of_text("a" if f else "a b c d e"),)) for f in feedback]


def test_synthesis_uses_a_rule_critic_and_records_its_feedback(tmp_path):
    synthesizer = PairSynthesizer(_Responder(), WordLimitCritic(2), tmp_path / "pairs.jsonl", batch_size=2)
    samples = [_sample("first", 0), _sample("second", 1)]
    report = synthesizer.run(samples)
    synthesizer.merge(samples)
    assert report.written == 2
    rows = [line for line in (tmp_path / "pairs.jsonl").read_text().splitlines() if line]
    assert len(rows) == 2 and '"chosen": "a"' in rows[0] and "5 words, but the limit is 2" in rows[0]
