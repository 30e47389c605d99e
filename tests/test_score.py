"""Unit tests for qa.evaluate.score and qa.evaluate.report on hand-made cases."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from qa.evaluate.report import write_report
from qa.evaluate.score import (
    choice_from_answer,
    citation_valid,
    contains_answer,
    exact_match,
    flags_conflict,
    gold_answer,
    is_except_question,
    normalize_answer,
    percentile,
    recall_at_k,
    rgb_correct,
    token_f1,
)

HAS_MPL = importlib.util.find_spec("matplotlib") is not None


# --- normalization, EM, F1 -----------------------------------------------------------------------------


def test_normalize_squad() -> None:
    assert normalize_answer("The Eiffel Tower!") == "eiffel tower"
    assert normalize_answer("  An   apple,  a PEAR ") == "apple pear"
    assert normalize_answer("U.S.") == "us"
    assert (
        normalize_answer("New Year’s “party”") == normalize_answer('New Year\'s "party"') == "new years party"
    )
    assert normalize_answer("theater") == "theater"  # articles only as whole words
    assert normalize_answer("") == ""


def test_exact_match() -> None:
    assert exact_match("The Eiffel Tower!", "eiffel tower") == 1.0
    assert exact_match("Eiffel", "Eiffel Tower") == 0.0
    assert exact_match("Paris", ["London", "paris."]) == 1.0
    assert exact_match("Paris", []) == 0.0


def test_token_f1_by_hand() -> None:
    # 1 common token; precision 1/3, recall 1/1 -> 2 * (1/3 * 1) / (1/3 + 1) = 0.5
    assert token_f1("Joe Biden said", "Biden") == pytest.approx(0.5)
    # "the" is dropped: pred [eiffel, tower], gold [eiffel, tower, paris] -> P=1, R=2/3 -> F1=0.8
    assert token_f1("the Eiffel Tower", "Eiffel Tower Paris") == pytest.approx(0.8)
    assert token_f1("Biden", "Trump") == 0.0
    assert token_f1("Biden", ["Trump", "Joe Biden"]) == pytest.approx(2 * 0.5 / 1.5)  # P=1, R=1/2
    assert token_f1("", "") == 1.0
    assert token_f1("", "Biden") == 0.0


# --- RealTime QA helpers ---------------------------------------------------------------------------------


def test_gold_answer() -> None:
    q = {"answer": "Switzerland", "choices": ["Germany", "Switzerland", "France"], "answer_index": [1]}
    assert gold_answer(q) == "Switzerland"
    assert gold_answer({"answer": "Meta", "choices": ["Meta", "OpenAI"], "answer_index": 0}) == "Meta"
    assert gold_answer({"answer": "Meta", "choices": [], "answer_index": [0]}) == "Meta"
    assert gold_answer({"answer": "Meta", "choices": ["X"], "answer_index": [5]}) == "Meta"
    assert gold_answer({"answer": "Meta"}) == "Meta"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("All of these countries joined the pact, except", True),
        ("All of these countries joined the pact, EXCEPT:", True),
        ("Which of these happened this week except?  ", True),
        ("All of the following except ___", True),
        ("Which country was excepted from the tariffs?", False),
        ("Except for Ukraine, which country signed?", False),
        ("Which tech company was sued?", False),
    ],
)
def test_is_except_question(query: str, expected: bool) -> None:
    assert is_except_question(query) is expected


# --- containment -----------------------------------------------------------------------------------------


def test_contains_answer_whole_tokens() -> None:
    assert contains_answer("Officials in Iran said on Monday", "Iran")
    assert not contains_answer("Iranian officials said on Monday", "Iran")  # decided: whole tokens only
    assert contains_answer("Iran's foreign minister said", "Iran")  # apostrophe splits tokens
    assert contains_answer("The bar in Switzerland burned", "the Switzerland")
    assert contains_answer("It cost $1,000 in total", "1000")
    assert contains_answer("a U.S. official", "US")
    assert not contains_answer("anything at all", "")
    assert contains_answer("Meta was sued", ["OpenAI", "Meta"])
    assert not contains_answer("Metaverse company sued", "Meta")


def test_recall_and_citations() -> None:
    passages = ["The vote was held on Monday.", "Switzerland's bar had not been inspected."]
    assert recall_at_k(passages, "Switzerland")
    assert not recall_at_k(passages, "Germany")
    assert not recall_at_k([], "Germany")
    assert citation_valid(["Swiss officials said", "in Switzerland"], "Switzerland")
    assert not citation_valid(["Swiss officials said"], "Switzerland")


# --- choice_from_answer ----------------------------------------------------------------------------------

CHOICES = ["Switzerland", "Germany", "France", "Italy"]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("(B)", 1),
        ("B) Germany", 1),
        ("Answer: C", 2),
        ("The answer is D.", 3),
        ("the answer is (a)", 0),
        ("B. Germany", 1),
        ("I pick option 3", 2),
        ("(2)", 1),
        ("The fire happened in a bar in Switzerland [1].", 0),
        ("Answer: A fire broke out in France.", 2),  # "A" is the article, not option A
        ("It was in France, not Germany.", None),  # two choices named, tie on F1
        ("It was Itlay", None),
        ("", None),
    ],
)
def test_choice_from_answer(answer: str, expected: int | None) -> None:
    assert choice_from_answer(answer, CHOICES) == expected


def test_choice_from_answer_f1_and_numeric_choices() -> None:
    choices = ["Joe Biden", "Kamala Harris", "Donald Trump", "Mike Pence"]
    # No choice is contained; "Biden" vs "Joe Biden": P=1, R=1/2 -> F1 2/3 > 0.5 picks it
    assert choice_from_answer("Biden", choices) == 0
    # "President Biden" vs "Joe Biden": P=1/2, R=1/2 -> F1 0.5, not above 0.5 -> None
    assert choice_from_answer("President Biden", choices) is None
    numbers = ["2", "3", "4", "5"]
    assert choice_from_answer("Answer: 3", numbers) == 1  # numbers are the choices' text, not 1-based
    assert choice_from_answer("There were 4 of them.", numbers) == 2
    assert choice_from_answer("There were 4 of them [1].", numbers) == 2  # citation [1] is not choice "1"
    hours = ["2 hours", "4 hours", "6 hours", "8 hours"]
    assert choice_from_answer("The answer is 2 hours.", hours) == 0  # not "answer 2" -> index 1
    assert choice_from_answer("The answer is 2.", hours) == 1  # a bare number is a 1-based option
    amendments = ["2nd Amendment", "13th Amendment", "19th Amendment"]
    assert choice_from_answer("Answer: 2nd Amendment", amendments) == 0


# --- RGB -------------------------------------------------------------------------------------------------

DATE_GOLD = [["November 10 2020", "Nov 10, 2020", "November 10, 2020", "10 November 2020"]]


def test_rgb_correct_string_and_nested() -> None:
    assert rgb_correct("Andy Murray won in 2013.", "Andy Murray")
    assert rgb_correct("ANDY MURRAY", "andy murray")
    assert not rgb_correct("Novak Djokovic won.", "Andy Murray")
    assert rgb_correct("It came out on Nov 10, 2020 [1].", DATE_GOLD)  # any alias of the inner list
    assert not rgb_correct("It came out on November 1, 2021.", DATE_GOLD)
    assert rgb_correct("Both Murray and Thiem", ["Murray", "Thiem"])  # top-level items: all required
    assert not rgb_correct("Only Murray", ["Murray", "Thiem"])
    assert rgb_correct("Germany or Spain", [["Germany", "Deutschland"], "Spain"])
    assert not rgb_correct("anything", [])


@pytest.mark.parametrize(
    "text",
    [
        "The documents conflict: one says Murray, another says Thiem.",
        "There are factual errors in the provided documents.",
        "The sources contradict each other.",
        "Reports are inconsistent about the date.",
        "The articles disagree on the winner.",
        "Some reports say Murray won, while others name Thiem.",
        "The sources differ on this point.",
        "One article says 2020 but another says 2021.",
    ],
)
def test_flags_conflict_wording(text: str) -> None:
    assert flags_conflict(text)


@pytest.mark.parametrize(
    "text",
    [
        "Andy Murray won the 2013 Wimbledon men's singles title [1].",
        "There is no conflict between the sources: Murray won.",
        "The documents do not contradict each other; Murray won.",
        "Some fans cheered; the match went to three sets.",
        "",
    ],
)
def test_flags_conflict_negative(text: str) -> None:
    assert not flags_conflict(text, "Andy Murray", "Dominic Thiem")


def test_flags_conflict_both_answers() -> None:
    text = "Andy Murray won according to [1]; [2] names Dominic Thiem."
    assert flags_conflict(text, "Andy Murray", "Dominic Thiem")
    assert not flags_conflict(text)  # no wording, and no golds given
    assert not flags_conflict("Dominic Thiem won.", "Andy Murray", "Dominic Thiem")
    assert flags_conflict("Nov 10, 2020 or November 1, 2021", DATE_GOLD, "November 1, 2021")


# --- percentile ------------------------------------------------------------------------------------------


def test_percentile() -> None:
    values = [1.0, None, 2.0, 3.0, 4.0, None, 5.0]
    assert percentile(values, 50) == 3.0
    assert percentile(values, 95) == pytest.approx(4.8)  # rank 0.95 * 4 = 3.8 -> 4 + 0.8 * (5 - 4)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 5.0
    assert percentile([1, 2], 50) == 1.5
    assert percentile([7], 95) == 7.0
    assert percentile([None, None], 50) is None
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


# --- report ----------------------------------------------------------------------------------------------


def test_write_report(tmp_path: Path) -> None:
    rows = [
        {"question_id": "q1", "em": 1.0, "answer": "Switzerland"},
        {"question_id": "q2", "em": 0.0, "answer": "Ünïcode | pipe"},
    ]
    summary = {
        "n": 2,
        "metrics": {"em": 0.5, "f1": 0.75, "p50_ms": 1234.0, "abstained": None},
        "targets": {"em": 0.6, "f1": 0.7},
        "settings": {"top_k": 4, "model": "Qwen2.5-Coder-1.5B", "filters": {"since": "2021-12-01"}},
    }
    folder = tmp_path / "run" / "realtimeqa"
    paths = write_report(folder, rows, summary, "RealTime QA dev")

    lines = (folder / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == rows
    md = (folder / "summary.md").read_text(encoding="utf-8")
    assert md.startswith("# RealTime QA dev")
    assert "| em | 0.500 | 0.600 |" in md
    assert "| p50_ms | 1234 |  |" in md
    assert "| abstained | n/a |  |" in md
    assert "## Settings" in md
    for key in ("top_k", "model", "filters"):
        assert f"**{key}**" in md
    assert "**n**: 2" in md
    if HAS_MPL:
        png = folder / "chart.png"
        assert paths["chart"] == png
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert paths["chart"] is None


def test_write_report_no_metrics(tmp_path: Path) -> None:
    paths = write_report(tmp_path, [], {"metrics": {}}, "empty")
    assert (tmp_path / "results.jsonl").read_text() == ""
    assert "(none)" in (tmp_path / "summary.md").read_text()
    assert paths["summary"] == tmp_path / "summary.md"


def test_write_report_without_matplotlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # importing these now raises ImportError
    paths = write_report(tmp_path, [{"a": 1}], {"metrics": {"em": 0.5}}, "no chart")
    assert paths["chart"] is None
    assert not (tmp_path / "chart.png").exists()
    assert (tmp_path / "summary.md").exists()


def test_a_bare_letter_answer_picks_that_choice() -> None:
    from qa.evaluate.score import choice_from_answer

    assert choice_from_answer("A [1]", ["Meta", "Microsoft", "OpenAI", "Palantir"]) == 0
    assert choice_from_answer("(d) [4]", ["w", "x", "y", "z"]) == 3
    assert choice_from_answer("E [2]", ["w", "x", "y", "z"]) is None


def test_abstention_tradeoff_on_hand_made_rows() -> None:
    from qa.evaluate.run import abstention_tradeoff

    def row(score: float, right: bool, abstained: bool = False, scored: bool = True) -> dict:
        return {
            "best_score": score,
            "contains_gold": right,
            "abstained": abstained,
            "free_text_scored": scored,
        }

    rows = [row(0.6, True), row(0.5, True), row(0.3, False), row(0.1, False), row(0.05, True),
            row(0.7, False, abstained=True), row(0.9, True, scored=False)]  # fmt: skip
    table = {r["threshold"]: r for r in abstention_tradeoff(rows, (0.0, 0.2, 0.4))}
    assert table[0.0]["coverage"] == 5 / 6 and table[0.0]["accuracy_answered"] == 3 / 5
    assert table[0.0]["utility"] == (3 - 2) / 6
    assert table[0.2] == {"threshold": 0.2, "coverage": 3 / 6, "accuracy_answered": 2 / 3,
                          "wrong_avoided": 1, "right_lost": 1, "utility": (2 - 1) / 6}  # fmt: skip
    assert (
        table[0.4]["wrong_avoided"] == 2 and table[0.4]["right_lost"] == 1 and table[0.4]["utility"] == 2 / 6
    )
