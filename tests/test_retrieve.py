"""Dense retrieval over the sample corpus puts the right article first."""

from __future__ import annotations

import pytest
from conftest import LAYOUT_A, LAYOUT_B

from index.parse import parse_text

ID_A = parse_text(LAYOUT_A.read_text()).id
ID_B = parse_text(LAYOUT_B.read_text()).id


@pytest.mark.parametrize(
    ("question", "article_id"),
    [
        ("What security guarantees does Moscow require?", ID_B),
        ("How long did the phone conversation last?", ID_B),
        ("When did the presidents agree to continue the dialogue?", ID_A),
    ],
)
def test_right_article_first(sample_engine, question: str, article_id: str) -> None:
    passages = sample_engine.retriever.retrieve(question, 4)
    assert passages[0].article_id == article_id
    assert [p.n for p in passages] == [1, 2, 3, 4]
    assert passages[0].score >= passages[-1].score


def test_filters_narrow_the_search(sample_engine) -> None:
    assert sample_engine.retriever.retrieve("Putin", 4, {"since": "2022-01-01"}) == []
    assert len(sample_engine.retriever.retrieve("Putin", 4, {"until": "2021-12-31"})) == 4
    assert sample_engine.retriever.retrieve("Putin", 4, {"outlet": ["Nobody"]}) == []


def test_choices_bring_each_options_evidence(sample_engine) -> None:
    question = "Where will the Russia–NATO council meet?"
    passages = sample_engine.retriever.retrieve_for_choices(question, ["Geneva", "Brussels", "Vienna"], 3)
    assert [p.n for p in passages] == [1, 2, 3]
    assert len({p.chunk_id for p in passages}) == 3 and all(p.score > 0 for p in passages)
    assert any("brussels" in p.text.lower() for p in passages)


def test_a_time_window_is_preferred_not_required(sample_engine) -> None:
    """Time words prefer articles of their window; older reports still compete (open search), unlike a
    hard filter (open_weight 0)."""
    window = ("2022-03-01", "2022-03-31")
    retriever = sample_engine.retriever
    assert retriever.retrieve("Putin", 4, window=window, open_weight=0.0) == []
    assert len(retriever.retrieve("Putin", 4, window=window)) == 4
    inside = retriever.retrieve("Putin", 4, window=("2021-12-31", "2021-12-31"))
    assert [p.chunk_id for p in inside] == [p.chunk_id for p in retriever.retrieve("Putin", 4)]


def test_a_window_after_the_newest_article_is_beyond_the_corpus(sample_engine) -> None:
    from datetime import date

    later = sample_engine.search_filters(
        "What did Putin say last month?", None, date(2022, 2, 10), None, None, None
    )
    assert later.window == ("2021-12-29", "2022-01-31") and later.query == "What did Putin say?"
    assert sample_engine.beyond_the_corpus(later) is None  # starts before the newest article
    after = sample_engine.search_filters(
        "What did Putin say in March 2022?", None, date(2022, 6, 1), None, None, None
    )
    assert "the newest is from 2021-12-31" in (sample_engine.beyond_the_corpus(after) or "")
    before = sample_engine.search_filters(
        "What happened on December 7, 1941?", None, date(2022, 6, 1), None, None, None
    )
    assert (
        before.window is not None and sample_engine.beyond_the_corpus(before) is None
    )  # looking back is fine


def test_date_objects_in_filters_combine_with_a_window(sample_engine) -> None:
    from datetime import date

    search = sample_engine.search_filters(
        "What did Putin say last week?", {"since": date(2021, 12, 1)}, date(2022, 1, 3), None, None, None
    )
    assert search.filters["since"] == "2021-12-01" and search.window == ("2021-12-24", "2022-01-02")
    passages = sample_engine.retriever.retrieve(search.query, 4, search.filters, window=search.window)
    assert len(passages) == 4
