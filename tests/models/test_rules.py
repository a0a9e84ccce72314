"""The rule judges (`omnialign.models.rules`), by hand."""

import pytest

from omnialign.models.rules import KeywordRule, PlainProse

RULE = PlainProse(min_words=2, target_words=4, max_words=8, markup_factor=0.25, incomplete_factor=0.5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Water it weekly.", 1.0),  # 3 words <= 4, plain, complete
        ("Water it once a week, please.", 1.0 - 2 / 4),  # 6 words: 1 - (6-4)/(8-4)
        ("Water it weekly", 0.5),  # no sentence end
        ("1. Water it.", 0.25),  # numbered item
        ("- Water it", 0.25 * 0.5),  # bullet, no sentence end
        ("Use **light** daily.", 0.25),  # bold run
        ("Yes.", 0.0),  # 1 word < min_words
        ("one two three four five six seven eight nine.", 0.0),  # past max_words
    ],
)
def test_plain_prose_by_hand(text, expected):
    assert RULE.score(text) == pytest.approx(expected)


def test_keyword_rule_is_weight_times_capped_match_count():
    """'aaa' has 3 matches, capped at 2 → 2·2 = 4; 'b' has none → 0; 'a' has 1 → 2."""
    assert KeywordRule("a", weight=2.0, max_count=2).scores(["aaa", "b", "a"]) == [4.0, 0.0, 2.0]


def test_uncapped_keyword_rule_counts_every_match_of_a_regular_expression():
    assert KeywordRule(r"\bcat\b", weight=-0.5).scores(["cat cat concat", ""]) == [-1.0, 0.0]
