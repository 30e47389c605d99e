"""Time words in questions resolve to the right inclusive date range (fixed as_of: Friday 8 May 2026)."""

from __future__ import annotations

import calendar
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.timerange import EARLIEST, TimeRange, resolve_time, strip_time

AS_OF = date(2026, 5, 8)
assert calendar.day_name[AS_OF.weekday()] == "Friday"
OPEN = EARLIEST.isoformat()

# question, since, until, the matched text
CASES = [
    # relative to as_of
    ("What happened today?", "2026-05-08", "2026-05-08", "today"),
    ("What moved in today's trading?", "2026-05-08", "2026-05-08", "in today"),
    ("What did the Fed do yesterday?", "2026-05-07", "2026-05-07", "yesterday"),
    ("What happened the day before yesterday?", "2026-05-06", "2026-05-06", "the day before yesterday"),
    ("Who was arrested last night?", "2026-05-07", "2026-05-07", "last night"),
    ("Who resigned this week?", "2026-05-04", "2026-05-08", "this week"),
    ("What was announced earlier this week?", "2026-05-04", "2026-05-08", "earlier this week"),
    ("Who resigned last week?", "2026-04-27", "2026-05-03", "last week"),
    ("What happened in the past week?", "2026-05-01", "2026-05-08", "in the past week"),
    ("What happened this past week?", "2026-05-01", "2026-05-08", "this past week"),
    ("What happened in the last 7 days?", "2026-05-01", "2026-05-08", "in the last 7 days"),
    ("What happened in the past 24 hours?", "2026-05-07", "2026-05-08", "in the past 24 hours"),
    (
        "What happened over the last couple of weeks?",
        "2026-04-24",
        "2026-05-08",
        "over the last couple of weeks",
    ),
    ("Who won this month?", "2026-05-01", "2026-05-08", "this month"),
    ("Who won last month?", "2026-04-01", "2026-04-30", "last month"),
    ("What happened over the past month?", "2026-04-08", "2026-05-08", "over the past month"),
    ("What changed this year?", "2026-01-01", "2026-05-08", "this year"),
    ("What changed last year?", "2025-01-01", "2025-12-31", "last year"),
    ("What happened recently in Chicago?", "2026-04-08", "2026-05-08", "recently"),
    ("Has inflation eased lately?", "2026-04-08", "2026-05-08", "lately"),
    ("What happened in recent days?", "2026-05-01", "2026-05-08", "in recent days"),
    ("What happened three days ago?", "2026-05-05", "2026-05-05", "three days ago"),
    ("What happened 2 weeks ago?", "2026-04-20", "2026-04-26", "2 weeks ago"),
    ("What happened a month ago?", "2026-04-01", "2026-04-30", "a month ago"),
    ("What happened 2 months ago?", "2026-03-01", "2026-03-31", "2 months ago"),
    ("What did he say on Tuesday?", "2026-05-05", "2026-05-05", "on Tuesday"),
    ("What did he say on Friday?", "2026-05-08", "2026-05-08", "on Friday"),  # as_of itself
    ("What happened last Friday?", "2026-05-01", "2026-05-01", "last Friday"),  # strictly before as_of
    ("What happened last Monday?", "2026-05-04", "2026-05-04", "last Monday"),
    ("What has changed since Monday?", "2026-05-04", "2026-05-08", "since Monday"),
    ("What happened last weekend?", "2026-05-02", "2026-05-03", "last weekend"),
    ("What happened this weekend?", "2026-05-02", "2026-05-03", "this weekend"),  # weekday: the one just gone
    ("What happened over the weekend?", "2026-05-02", "2026-05-03", "over the weekend"),
    # absolute
    ("What happened in December 2021?", "2021-12-01", "2021-12-31", "in December 2021"),
    ("What happened during March of 2024?", "2024-03-01", "2024-03-31", "during March of 2024"),
    ("What happened in 2021?", "2021-01-01", "2021-12-31", "in 2021"),
    ("What happened in early 2024?", "2024-01-01", "2024-04-30", "in early 2024"),
    ("What happened on Jan 10?", "2026-01-10", "2026-01-10", "on Jan 10"),
    ("What happened on January 10th?", "2026-01-10", "2026-01-10", "on January 10th"),
    ("What happened on June 3?", "2025-06-03", "2025-06-03", "on June 3"),  # latest one on or before as_of
    ("What happened on Dec. 31?", "2025-12-31", "2025-12-31", "on Dec. 31"),
    ("What happened on 10 May?", "2025-05-10", "2025-05-10", "on 10 May"),
    ("What happened on Feb 29?", "2024-02-29", "2024-02-29", "on Feb 29"),
    ("What was said on Jan 10, 2022?", "2022-01-10", "2022-01-10", "on Jan 10, 2022"),
    ("What was said on January 10th, 2022?", "2022-01-10", "2022-01-10", "on January 10th, 2022"),
    ("What did Putin say December 31, 2021?", "2021-12-31", "2021-12-31", "December 31, 2021"),
    ("What happened on 31 December 2021?", "2021-12-31", "2021-12-31", "on 31 December 2021"),
    ("Who spoke on 2021-12-31?", "2021-12-31", "2021-12-31", "on 2021-12-31"),
    ("What happened in March?", "2026-03-01", "2026-03-31", "in March"),
    ("What happened in May?", "2026-05-01", "2026-05-08", "in May"),  # the current month, up to as_of
    ("What happened in may?", "2026-05-01", "2026-05-08", "in may"),  # lower case, after a preposition
    ("What happened in December?", "2025-12-01", "2025-12-31", "in December"),
    ("What happened last May?", "2025-05-01", "2025-05-31", "last May"),
    ("What did 200 people do in April?", "2026-04-01", "2026-04-30", "in April"),
    ("Who has led since March 2024?", "2024-03-01", "2026-05-08", "since March 2024"),
    ("Who has led since 2020?", "2020-01-01", "2026-05-08", "since 2020"),
    ("What happened after 2020?", "2021-01-01", "2026-05-08", "after 2020"),
    ("What happened since last week?", "2026-04-27", "2026-05-08", "since last week"),
    ("What happened before 2020?", OPEN, "2019-12-31", "before 2020"),
    ("What was the rate until June 2023?", OPEN, "2023-06-30", "until June 2023"),
    ("What happened between March and May 2024?", "2024-03-01", "2024-05-31", "between March and May 2024"),
    (
        "What happened between December and March 2024?",
        "2023-12-01",
        "2024-03-31",
        "between December and March 2024",
    ),
    ("What happened from 2019 to 2021?", "2019-01-01", "2021-12-31", "from 2019 to 2021"),
    (
        "What happened between Jan 10 and Feb 2, 2024?",
        "2024-01-10",
        "2024-02-02",
        "between Jan 10 and Feb 2, 2024",
    ),
    ("What was said on Dec 30 and Dec 31, 2021?", "2021-12-30", "2021-12-31", "on Dec 30 and Dec 31, 2021"),
    ("What did sales do in 2023 and 2024?", "2023-01-01", "2024-12-31", "in 2023 and 2024"),
    ("What happened in early March 2024?", "2024-03-01", "2024-03-15", "in early March 2024"),
    ("What happened in late March 2024?", "2024-03-16", "2024-03-31", "in late March 2024"),
    ("What happened in mid-March 2024?", "2024-03-11", "2024-03-20", "in mid-March 2024"),
    ("What did Theresa May say in 2019?", "2019-01-01", "2019-12-31", "in 2019"),  # the name is not a month
    ("In 2021, who won?", "2021-01-01", "2021-12-31", "In 2021"),
]


@pytest.mark.parametrize(("question", "since", "until", "text"), CASES)
def test_resolves(question: str, since: str, until: str, text: str) -> None:
    span = resolve_time(question, AS_OF)
    assert span is not None, question
    assert (span.since.isoformat(), span.until.isoformat(), span.text) == (since, until, text)


@pytest.mark.parametrize(
    ("as_of", "question", "since", "until"),
    [
        (date(2026, 5, 10), "What happened this weekend?", "2026-05-09", "2026-05-10"),  # a Sunday
        (date(2026, 5, 10), "What happened last weekend?", "2026-05-02", "2026-05-03"),
        (date(2026, 5, 9), "What happened over the weekend?", "2026-05-09", "2026-05-09"),  # a Saturday
        (date(2026, 11, 20), "What happened last May?", "2026-05-01", "2026-05-31"),
        (date(2026, 3, 15), "What happened last month?", "2026-02-01", "2026-02-28"),
        (date(2026, 1, 5), "What happened last week?", "2025-12-29", "2026-01-04"),
    ],
)
def test_other_as_of(as_of: date, question: str, since: str, until: str) -> None:
    span = resolve_time(question, as_of)
    assert span is not None, question
    assert (span.since.isoformat(), span.until.isoformat()) == (since, until)


@pytest.mark.parametrize(
    "question",
    [
        "What did Putin warn Biden about?",
        "Which company was sued by publishers?",
        "How many candidates ran?",
        "What may happen to rates next?",  # modal "may"
        "May the court block the merger?",
        "Where did the protest march end?",  # the noun "march"
        "Why did they march 10 miles?",  # the verb, with a number after it
        "Where did the last march end?",
        "Why did 2,000 troops move to the border?",  # numbers that are not years
        "Why did they send in 2000 troops?",
        "How many of the 200 people were hurt?",
        "Which team scored 2021 points?",
        "Who won the 2024 election?",  # a year without a preposition: not a range
        "What happened in the 1990s?",
        "What did Biden and May discuss?",  # Theresa May
        "What has changed since May took office?",
        "What happens this December?",  # in the future
        "What happened on Feb 30?",  # no such date
        "What did the “Today” anchor say?",  # a quoted title, not a day
        'Who hosts "Tonight" on NBC?',
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
        ("Since March 2024, who has led the party?", "Who has led the party?"),
        ("What did reports from last week say about Ukraine?", "What did reports say about Ukraine?"),
        ("What happened between March and May 2024 in Kyiv?", "What happened in Kyiv?"),
    ],
)
def test_strip_time(question: str, stripped: str) -> None:
    assert strip_time(question, resolve_time(question, AS_OF)) == stripped


def test_strip_time_without_a_range() -> None:
    question = "What did Putin warn Biden about?"
    assert strip_time(question, None) == question
    assert strip_time(question, TimeRange(AS_OF, AS_OF, "yesterday")) == question


_WORDS = ["in", "on", "since", "between", "and", "to", "last", "this", "past", "the", "May", "march", "Dec.",
          "10", "31st", "2021", "2,000", "1999", "week", "weeks", "ago", "Friday", "weekend", "a", "few", "of",
          "early", "late", "mid-", "people", "'s", "?", ",", "-", "2021-12-31", "today", "recently"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), max_size=10), st.dates(date(1950, 1, 1), date(2090, 12, 31)))
def test_never_raises_and_ranges_are_ordered(words: list[str], as_of: date) -> None:
    question = " ".join(words)
    span = resolve_time(question, as_of)
    if span is not None:
        assert span.since <= span.until
        assert span.text and span.text in question
        assert isinstance(strip_time(question, span), str)
