"""End to end with the real packaged 1.5B model: cited answers on the sample corpus, and abstention."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

_streamed: dict[str, list] = {}


def streamed(engine, question: str) -> list:  # noqa: ANN001 - the sample Engine
    """The items ``engine.stream(question)`` yielded (text pieces, then the ``Answer``), computed once per
    question for this module: answering is deterministic (temperature 0), and several tests look at the
    same answer from different sides."""
    if question not in _streamed:
        _streamed[question] = list(engine.stream(question))
    return _streamed[question]


_short: dict[str, object] = {}


def short(engine, question: str):  # noqa: ANN001, ANN201 - the sample Engine, an Answer
    """``engine.ask(question, style="short", as_of="2022-01-05")``, once per question for this module (the
    same deterministic answer seen from different sides)."""
    if question not in _short:
        _short[question] = engine.ask(question, style="short", as_of="2022-01-05")
    return _short[question]


def _cited_text(answer) -> str:
    return " ".join(c.passage.text for c in answer.citations).lower()


@pytest.mark.parametrize(
    ("question", "answer_any", "passage_must"),
    [
        (
            "What did Putin warn Biden about?",
            ["sever", "rupture", "cut", "relations"],
            ["severance", "cutting ties", "severing"],
        ),
        ("Where will the US–Russia talks be held?", ["geneva"], ["geneva"]),
        ("What are the three negotiation tracks?", ["geneva", "brussels", "vienna"], ["geneva"]),
    ],
)
def test_cited_answers(sample_engine, question: str, answer_any: list[str], passage_must: list[str]) -> None:
    answer = streamed(sample_engine, question)[-1]
    text = answer.text.lower()
    assert not answer.abstained, answer
    assert any(word in text for word in answer_any), answer.text
    assert answer.citations, answer.text
    assert any(word in _cited_text(answer) for word in passage_must)
    for c in answer.citations:
        assert f"[{c.n}]" in answer.text
        assert c.quote and c.quote in c.passage.text
        assert c.date == "2021-12-31"
    assert answer.model.startswith("Qwen2.5-Coder-1.5B")
    t = answer.timings
    assert 0 < t.retrieve_ms <= t.first_token_ms <= t.total_ms


def test_three_tracks_named(sample_engine) -> None:
    text = streamed(sample_engine, "What are the three negotiation tracks?")[-1].text.lower()
    assert "geneva" in text and "brussels" in text and "vienna" in text


def test_not_covered(sample_engine) -> None:
    answer = sample_engine.ask("What did Zelensky say about the call?")
    assert answer.abstained and answer.citations == []
    assert "do not cover" in answer.text


def test_stream_yields_pieces_then_answer(sample_engine) -> None:
    items = streamed(sample_engine, "Where will the US–Russia talks be held?")
    from qa.models import Answer

    assert all(isinstance(i, str) for i in items[:-1]) and len(items) > 2
    assert isinstance(items[-1], Answer)


def test_date_outside_the_corpus_abstains(sample_engine) -> None:
    from datetime import date

    answer = sample_engine.ask("What did Putin warn Biden about in March 2024?", as_of=date(2024, 6, 1))
    assert answer.abstained and answer.citations == [] and answer.retrieved == []
    assert answer.filters["preferring"] == "2024-02-27 to 2024-03-31", answer.filters
    assert "2021-12-31" in (answer.abstain_reason or ""), answer.abstain_reason  # the newest article


def test_as_of_before_the_articles_excludes_them(sample_engine) -> None:
    from datetime import date

    answer = sample_engine.ask("What did Putin warn Biden about?", as_of=date(2021, 12, 1))
    assert answer.abstained and answer.retrieved == []


def test_follow_up_is_rewritten_before_retrieval(sample_engine) -> None:
    first = streamed(sample_engine, "What did Putin warn Biden about?")[-1]
    follow = sample_engine.ask(
        "And what did he say about offensive weapons?", history=[(first.question, first.text)]
    )
    assert follow.rewritten_question and follow.rewritten_question != follow.question
    assert "biden" in follow.rewritten_question.lower() or "putin" in follow.rewritten_question.lower()
    assert not follow.abstained and "weapon" in follow.text.lower()


def test_short_style_answers_in_few_words(sample_engine) -> None:
    answer = short(sample_engine, "Where will the US–Russia talks be held?")
    assert "geneva" in answer.text.lower() and len(answer.text.split()) <= 12 and answer.citations


def test_sources_that_disagree_are_flagged_and_both_cited(sample_engine) -> None:
    from qa.models import Passage

    def passage(n: int, winner: str) -> Passage:
        text = (f"The 2014 World Cup final was played at the Maracana in Rio de Janeiro and was won by {winner}, "
                "who beat Argentina 1-0 after extra time. Fans celebrated in the streets.")  # fmt: skip
        return Passage(n, f"c{n}", f"a{n}", "World Cup final", f"Outlet {n}", "2014-07-14", "", text, 0.6)

    answer = sample_engine.answer_from(
        "Who won the 2014 World Cup final?", [passage(1, "Germany"), passage(2, "Spain")]
    )
    assert "disagree" in answer.text, answer.text
    assert {c.n for c in answer.citations} == {1, 2}, answer.text
    assert all(c.quote in c.passage.text for c in answer.citations)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Where will the US–Russia talks be held?", "geneva"),
        ("Who did Putin speak with on the phone?", "biden"),
    ],
)
def test_short_answers_stop_at_their_citation(sample_engine, question: str, expected: str) -> None:
    answer = short(sample_engine, question)
    assert not answer.abstained and answer.citations, answer
    before, _, after = answer.text.partition("[")
    assert len(before.split()) <= 8 and expected in before.lower(), answer.text
    assert after.endswith("]") and after.count("[") == 0, answer.text  # nothing written past the citation
