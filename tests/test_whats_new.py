""" "What's new since": an answer from what newer articles add to older ones (``qa/whats_new.py``), on a
fixture story told over a week: the newer report's restated facts are dropped, its new facts cited; a
later article that only repeats says "nothing new" without the model; nothing after the date is said."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import story_engine_over

from qa.answer import Engine
from qa.whats_new import asks_whats_new, nothing_new, novel_passages

APPROVED = (
    "The Port Avra council approved a desalination plant on Friday to end years of water shortages. "
    "The plant will supply drinking water to 200,000 residents and is due to open next month."
)
STORY = {  # file: (title, date, outlet, body)
    "1_approved.txt": ("Port Avra approves desalination plant", "Mar 1, 2024", "Avra Herald", APPROVED),
    "2_recap.txt": ("Desalination plant for Port Avra", "Mar 5, 2024", "Coast Times",
                    "The Port Avra council has approved a desalination plant to end years of water shortages. "
                    "The plant is to supply drinking water to 200,000 residents and open next month."),
    "3_brine.txt": ("Fishermen fear brine from Port Avra desalination plant", "Mar 8, 2024", "Avra Herald",
                    "The Port Avra council approved a desalination plant last week to end years of water "
                    "shortages. Fishermen said on Thursday that the brine the plant will pump into the bay "
                    "would destroy the sardine grounds, and the council agreed to move the outflow pipe "
                    "two kilometres offshore."),
}  # fmt: skip
QUESTION = "What's new about the Port Avra desalination plant?"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """An engine over the three reports."""
    engine, report = story_engine_over(tmp_path_factory, STORY)
    assert len(report.added) == 3, report.summary()
    return engine


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What's new about the plant?", True),
        ("What has changed in the strike talks since Monday?", True),
        ("Any updates on the Geneva talks?", True),
        ("What is the latest on the ceasefire?", True),
        ("Anything new from Brussels?", True),
        ("What did Putin warn Biden about?", False),
        ("Where is the new plant?", False),
        ("Who won the election in New York?", False),
    ],
)
def test_asks_whats_new(question: str, expected: bool) -> None:
    assert asks_whats_new(question) is expected


def test_the_start_day_comes_from_since_or_the_question() -> None:
    as_of = date(2024, 3, 10)
    assert Engine.new_since(QUESTION, "2024-03-04", as_of) == "2024-03-04"
    assert Engine.new_since(f"{QUESTION[:-1]} since March 4?", None, as_of) == "2024-03-04"
    assert Engine.new_since(QUESTION, None, as_of) is None  # no start day: an ordinary question
    assert Engine.new_since("What did the council approve?", "2024-03-04", as_of) is None


def test_restated_sentences_are_dropped(engine: Engine) -> None:
    older = engine.retriever.retrieve(QUESTION, 4, {"until": "2024-03-03"})
    newer = engine.retriever.retrieve(QUESTION, 4, {"since": "2024-03-04"})
    novel = novel_passages(newer, older, engine.embedder, engine.settings.novelty_threshold)
    text = " ".join(p.text for p in novel)
    assert "sardine" in text and "outflow" in text
    assert "end years of water shortages" not in text  # said on Mar 1 already, by both newer reports
    assert [p.title for p in novel] == ["Fishermen fear brine from Port Avra desalination plant"]


def test_nothing_new_is_said_plainly_without_the_model(engine: Engine) -> None:
    answer = engine.ask(QUESTION, since="2024-03-04", until="2024-03-06", as_of="2024-03-10")
    assert answer.text == nothing_new("2024-03-04") and answer.abstained and not answer.citations
    assert answer.model == ""  # no LLM call
    none = engine.ask(f"{QUESTION[:-1]} since March 9?", as_of="2024-03-10")
    assert none.text == "No article from 2024-03-09 on reports on this." and none.model == ""


@pytest.mark.slow
def test_whats_new_cites_only_the_newer_report(engine: Engine) -> None:
    answer = engine.ask(QUESTION, since="2024-03-04", as_of="2024-03-10")
    assert not answer.abstained and answer.citations, answer
    assert {c.title for c in answer.citations} == {"Fishermen fear brine from Port Avra desalination plant"}
    assert answer.filters["new since"] == "2024-03-04"
    assert any(word in answer.text.lower() for word in ("brine", "fishermen", "sardine", "outflow")), (
        answer.text
    )
