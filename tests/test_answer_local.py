"""End to end with the real packaged 1.5B model: cited answers on the sample corpus, and abstention."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


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
    answer = sample_engine.ask(question)
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
    text = sample_engine.ask("What are the three negotiation tracks?").text.lower()
    assert "geneva" in text and "brussels" in text and "vienna" in text


def test_not_covered(sample_engine) -> None:
    answer = sample_engine.ask("What did Zelensky say about the call?")
    assert answer.abstained and answer.citations == []
    assert "do not cover" in answer.text


def test_stream_yields_pieces_then_answer(sample_engine) -> None:
    items = list(sample_engine.stream("Where will the US–Russia talks be held?"))
    from qa.models import Answer

    assert all(isinstance(i, str) for i in items[:-1]) and len(items) > 2
    assert isinstance(items[-1], Answer)
