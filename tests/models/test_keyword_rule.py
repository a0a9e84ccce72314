"""The one rule-based text score (`omnialign.models.generation.keyword.KeywordRule`), by hand."""

from omnialign.models.generation.keyword import KeywordRule


def test_weight_times_capped_match_count():
    """'aaa' has 3 matches, capped at 2 → 2·2 = 4; 'b' has none → 0; 'a' has 1 → 2."""
    assert KeywordRule("a", weight=2.0, max_count=2).scores(["aaa", "b", "a"]) == [4.0, 0.0, 2.0]


def test_uncapped_rule_counts_every_match_of_a_regular_expression():
    assert KeywordRule(r"\bcat\b", weight=-0.5).scores(["cat cat concat", ""]) == [-1.0, 0.0]
