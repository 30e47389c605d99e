"""Sources that disagree: near-identical sentences with a different value (no model needed)."""

from __future__ import annotations

from qa.conflict import conflict_note, find_conflicts, sentence_conflict
from qa.models import Passage


def _p(n: int, text: str, article: str | None = None) -> Passage:
    return Passage(n, f"c{n}", article or f"a{n}", f"T{n}", "Outlet", "2024-01-01", "", text, 0.5)


def test_changed_number_name_and_date_are_conflicts() -> None:
    assert sentence_conflict(
        "At least 30 people died in the fire at the resort on Sunday, officials said.",
        "At least 32 people died in the fire at the resort on Sunday, officials said.",
    ) == ("30", "32")
    assert sentence_conflict(
        "The final was contested by Germany and Argentina at the Maracana stadium.",
        "The final was contested by Spain and Argentina at the Maracana stadium.",
    ) == ("Germany", "Spain")
    assert sentence_conflict(
        "The game was released worldwide on November 10, 2020 for consoles.",
        "The game was released worldwide on November 1, 2021 for consoles.",
    ) == ("November 10 2020", "November 1 2021")


def test_same_fact_reworded_or_reordered_is_not_a_conflict() -> None:
    assert (
        sentence_conflict(
            "Putin told Biden that new sanctions would be a colossal mistake.",
            "Biden told Putin that new sanctions would be a colossal mistake.",
        )
        is None
    )  # both names in both sentences: reordered, not contradicted
    assert (
        sentence_conflict(
            "The talks will be held in Geneva on January 10, officials said.",
            "The talks will be held in Geneva on January 10, diplomats said.",
        )
        is None
    )  # the changed word carries no value
    assert sentence_conflict("Talks in Geneva.", "Talks in Vienna.") is None  # too short to judge
    assert (
        sentence_conflict(
            "The council approved a budget of 2.1 billion dollars on Tuesday.",
            "Residents protested outside city hall about library hours on Friday night.",
        )
        is None
    )


def test_only_conflicts_about_the_answers_value_between_articles() -> None:
    a = "The final was contested by Germany and Argentina at the Maracana stadium."
    b = "The final was contested by Spain and Argentina at the Maracana stadium."
    passages = [
        _p(1, f"Fans gathered early. {a}"),
        _p(2, b),
        _p(3, "Unrelated text about the weather today."),
    ]
    found = find_conflicts(passages, "Germany won the final [1].")
    assert [(c.a, c.b, c.value_a, c.value_b) for c in found] == [(1, 2, "Germany", "Spain")]
    assert found[0].sentence_a == a and found[0].sentence_b == b
    assert find_conflicts(passages, "The final was held in Rio [1].") == []  # not about the answer
    same_article = [_p(1, a, "x"), _p(2, b, "x")]
    assert find_conflicts(same_article, "Germany won [1].") == []
    assert conflict_note(found) == 'The sources disagree: [1] says "Germany", [2] says "Spain".'
