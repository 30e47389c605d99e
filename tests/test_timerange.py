"""Time words in questions resolve to the right date range (fixed as_of: Friday 8 May 2026)."""

from __future__ import annotations

from datetime import date

import pytest

from qa.timerange import resolve_time, strip_time

AS_OF = date(2026, 5, 8)  # a Friday


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        ("What happened today?", "2026-05-08", "2026-05-08"),
        ("What did the Fed do yesterday?", "2026-05-07", "2026-05-07"),
        ("Who resigned this week?", "2026-05-04", "2026-05-08"),
        ("Who resigned last week?", "2026-04-27", "2026-05-03"),
        ("What happened in the past week?", "2026-05-01", "2026-05-08"),
        ("What happened this past week?", "2026-05-01", "2026-05-08"),
        ("What happened in the last 3 days?", "2026-05-05", "2026-05-08"),
        ("Who won this month?", "2026-05-01", "2026-05-08"),
        ("Who won last month?", "2026-04-01", "2026-04-30"),
        ("What changed this year?", "2026-01-01", "2026-05-08"),
        ("What changed last year?", "2025-01-01", "2025-12-31"),
        ("What happened recently in Chicago?", "2026-04-08", "2026-05-08"),
        ("What happened 2 weeks ago?", "2026-04-20", "2026-04-26"),
        ("What happened three days ago?", "2026-05-05", "2026-05-05"),
        ("What happened a month ago?", "2026-04-01", "2026-04-30"),
        ("What happened last Friday?", "2026-05-01", "2026-05-01"),
        ("What did he say on Tuesday?", "2026-05-05", "2026-05-05"),
        ("What happened last weekend?", "2026-05-02", "2026-05-03"),
        ("What happened in December 2021?", "2021-12-01", "2021-12-31"),
        ("What happened during March of 2024?", "2024-03-01", "2024-03-31"),
        ("What happened in 2021?", "2021-01-01", "2021-12-31"),
        ("What happened on Jan 10?", "2026-01-10", "2026-01-10"),
        ("What happened on June 3?", "2025-06-03", "2025-06-03"),  # no year: the latest one before as_of
        ("What was said on January 10th, 2022?", "2022-01-10", "2022-01-10"),
        ("What was said on Dec. 31, 2021?", "2021-12-31", "2021-12-31"),
        ("What happened on 31 December 2021?", "2021-12-31", "2021-12-31"),
        ("Who spoke on 2021-12-31?", "2021-12-31", "2021-12-31"),
        ("Who has led since March 2024?", "2024-03-01", "2026-05-08"),
        ("Who has led since 2020?", "2020-01-01", "2026-05-08"),
        ("What happened before 2020?", "1900-01-01", "2019-12-31"),
        ("What was the rate until June 2023?", "1900-01-01", "2023-06-30"),
        ("What happened between March and May 2024?", "2024-03-01", "2024-05-31"),
        ("What happened in early March 2024?", "2024-03-01", "2024-03-15"),
        ("What happened in late March 2024?", "2024-03-15", "2024-03-31"),
        ("What did 200 people do in April?", "2026-04-01", "2026-04-30"),
    ],
)
def test_resolves(question: str, since: str, until: str) -> None:
    span = resolve_time(question, AS_OF)
    assert span is not None, question
    assert (span.since.isoformat(), span.until.isoformat()) == (since, until)


@pytest.mark.parametrize(
    "question",
    [
        "Which company was sued by publishers?",
        "What may happen to rates next?",
        "Where did the protest march end?",
        "Why did 2,000 troops move to the border?",
        "How many candidates ran?",
        "What did Putin warn Biden about?",
        "Which team scored 2021 points?",
    ],
)
def test_no_time_words(question: str) -> None:
    assert resolve_time(question, AS_OF) is None


@pytest.mark.parametrize(
    ("question", "stripped"),
    [
        ("What did Putin warn Biden about in March 2024?", "What did Putin warn Biden about?"),
        ("Who resigned this week?", "Who resigned?"),
        ("What happened in the past week in Chicago?", "What happened in Chicago?"),
        ("Who spoke on 2021-12-31?", "Who spoke?"),
    ],
)
def test_strip_time(question: str, stripped: str) -> None:
    assert strip_time(question, resolve_time(question, AS_OF)) == stripped
