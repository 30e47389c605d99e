"""Timelines in the chat page without a browser: which questions ask for one (``qa.intent``), the Timeline
tab's HTML, the chat reply and its source cards (escaping, other outlets, links only over http), and the
chat answering "how did the story develop?" on the sample corpus with no LLM call but a follow-up's
rewrite."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from qa.intent import story_query, timeline_request
from qa.models import OtherReport, Passage
from qa.timeline import Timeline, TimelineDay, TimelineEntry
from qa.ui.chat import Exchange, chat_messages, history
from qa.ui.timeline_view import timeline_html, timeline_markdown, timeline_sources_html

EVIL = "<img src=x onerror=alert(1)>"


# --- which questions ask for a timeline --------------------------------------------------------------------
@pytest.mark.parametrize(
    "question",
    [
        "How did the story develop?",
        "How did the Putin Biden call story develop?",
        "how has the Ukraine crisis unfolded since the call?",
        "How has the situation been evolving?",
        "How did relations between Russia and the US develop after the call?",
        "How did the talks play out?",
        "Tell me how it developed over time",
        "Give me a timeline of the Geneva talks",
        "Timeline of the Putin-Biden call",
        "What's the chronology of the sanctions dispute?",
        "List the events in chronological order",
        "What happened day by day in the Geneva talks?",
        "Walk me through the sequence of events.",
    ],
)
def test_questions_about_how_a_story_went_ask_for_a_timeline(question: str) -> None:
    assert timeline_request(question)


@pytest.mark.parametrize(
    "question",
    [
        "What did Putin warn Biden about?",
        "Where will the talks be held?",
        "How did Biden respond?",
        "How did the call end?",
        "How did the developers react?",
        "How did Russia develop its hypersonic missiles?",  # "develop" with an object
        "Who developed the vaccine?",
        "How is the developing story covered by the press?",
        "How did the evolving crisis affect oil prices?",
        "What are the latest developments in Ukraine?",
        "What is the timeline for the troop withdrawal?",  # a schedule
        "",
    ],
)
def test_other_questions_do_not(question: str) -> None:
    assert not timeline_request(question)


@pytest.mark.parametrize(
    ("question", "story"),
    [
        ("How did the Putin Biden call story develop?", "Putin Biden call"),
        ("Give me a timeline of the Geneva talks", "Geneva talks"),
        ("Timeline of the Putin-Biden call", "Putin-Biden call"),
        ("Show the chronology of the sanctions dispute.", "sanctions dispute"),
        ("What happened day by day in the Geneva talks?", "Geneva talks"),
        ("How has the story of Putin's warning evolved since the call?", "Putin's warning since the call"),
        ("How did the story develop?", ""),  # no story named: the caller searches with the question
        ("How did it unfold this week?", ""),
        ("Putin Biden call", "Putin Biden call"),  # a bare story is left as it is
    ],
)
def test_the_story_is_the_request_without_its_own_words(question: str, story: str) -> None:
    assert story_query(question) == story


# --- the Timeline tab, the chat reply and its cards ----------------------------------------------------------
def entry(n: int, *, title: str = "Talks set for Geneva", day: str = "2021-12-31", outlet: str = "Reuters",
          url: str = "https://example.com/a", others: tuple[OtherReport, ...] = ()) -> TimelineEntry:  # fmt: skip
    excerpt = "The talks will be held in Geneva on Jan 10."
    passage = Passage(n, f"a{n}:0", f"a{n}", title, outlet, day, url, f"Officials met. {excerpt} More.", 0.5)
    return TimelineEntry(n, passage, excerpt, list(others))


def timeline_of(*entries: TimelineEntry, summaries: dict[str, str] | None = None) -> Timeline:
    days: dict[str, list[TimelineEntry]] = {}
    for e in entries:
        days.setdefault(e.day, []).append(e)
    summary = summaries or {}
    return Timeline(
        "Putin Biden call",
        [TimelineDay(d, es, summary.get(d, "")) for d, es in days.items()],
        {"until": "2026-12-06"},
    )


def hostile_timeline() -> Timeline:
    copies = (
        OtherReport("AP", "2021-12-30", "https://ap.example/story"),
        OtherReport("<b>Evil</b>", "2021-12-30", "javascript:alert(1)"),
        OtherReport("Same Day News", "2021-12-30", ""),
    )
    return timeline_of(
        entry(1, day="2021-12-30", others=copies[1:] + (OtherReport("TASS", "2021-12-31", ""),)),
        entry(2, title=EVIL, url="javascript:alert(2)", day="2021-12-31", outlet="<script>x</script>"),
        entry(3, title="Second report", day="2021-12-31", others=copies[:1]),
        summaries={"2021-12-30": f"Putin warned {EVIL} Biden [1]."},
    )


def test_timeline_html_groups_days_folds_copies_and_escapes_everything() -> None:
    html = timeline_html(hostile_timeline())
    assert "Timeline of &quot;Putin Biden call&quot;: 3 articles over 2 days" in html
    assert [m for m in re.findall(r'<h3 class="nq-day-head">([^<]*)</h3>', html)] == [
        "2021-12-30",
        "2021-12-31",
    ]
    first, second = html.split('data-day="2021-12-31"')
    assert first.count('class="nq-card nq-entry"') == 1 and second.count('class="nq-card nq-entry"') == 2
    # the copies: every other outlet, a date only where it differs from the entry's own
    assert "&lt;b&gt;Evil&lt;/b&gt;, Same Day News, TASS (2021-12-31)" in first
    assert '<a href="https://ap.example/story"' in second and "AP</a> (2021-12-30)" in second
    # hostile fields stay text; only http(s) urls are links
    assert "<img" not in html and "<script" not in html and "javascript:" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;script&gt;x&lt;/script&gt;" in html
    links = re.findall(r'href="([^"]*)"', html)
    assert links == ["https://example.com/a", "https://example.com/a", "https://ap.example/story"]
    assert '<p class="nq-summary">Putin warned &lt;img' in html  # the day's summary, escaped
    assert "The talks will be held in Geneva on Jan 10." in html and '<span class="nq-num">3</span>' in html


def test_an_empty_timeline_says_so() -> None:
    empty = Timeline("Zorblatt bridge", [], {}, "nothing in the index matched")
    html = timeline_html(empty)
    assert "do not cover this story" in html and "nq-card" not in html
    assert "nothing in the index matched" in timeline_sources_html(empty, 0, "How did the Zorblatt story go?")
    assert timeline_markdown(empty, 0).startswith("The articles do not cover this story\\.")


def test_the_chat_reply_links_each_entry_to_its_card_and_makes_no_markup() -> None:
    from markdown_it import MarkdownIt

    timeline = hostile_timeline()
    text = timeline_markdown(timeline, turn=2)
    assert "**2021\\-12\\-30**" in text and "[\\[1\\]](#src-2-1)" in text and "[\\[3\\]](#src-2-3)" in text
    assert "also reported by &lt;b&gt;Evil&lt;/b&gt;, Same Day News, TASS \\(2021\\-12\\-31\\)" in text
    rendered = MarkdownIt().render(text)
    assert "<img" not in rendered and "<script" not in rendered and "<b>" not in rendered
    assert set(re.findall(r'(?:href|src)="([^"]*)"', rendered)) == {"#src-2-1", "#src-2-2", "#src-2-3"}
    panel = timeline_sources_html(timeline, 2, "How did it develop?", "How did the Putin Biden call develop?")
    assert [f"src-2-{n}" for n in (1, 2, 3)] == re.findall(r'<article class="nq-card" id="([^"]+)"', panel)
    assert "was read as “How did the Putin Biden call develop?”" in panel and "until 2026-12-06" in panel
    assert "<img" not in panel and "javascript:" not in panel


def test_an_exchange_keeps_the_timeline_reply_and_a_short_history() -> None:
    exchange = Exchange("How did it develop?", "as of 2026-12-06 · timeline")
    exchange.finish_timeline(
        timeline_of(entry(1), entry(2, title="Second report")), turn=0, rewritten="x story"
    )
    user, bot = chat_messages([exchange])
    assert "searched as: x story" in user["content"] and bot["content"] == exchange.reply
    assert history([exchange]) == [
        (
            "How did it develop?",
            'Timeline of "Putin Biden call": 2 articles over 1 day. [1] Talks set for Geneva — Reuters, '
            "2021-12-31; [2] Second report — Reuters, 2021-12-31.",
        )
    ]
    assert 'id="src-0-2"' in exchange.panel and exchange.cited == [1, 2]


# --- the chat on the sample corpus ---------------------------------------------------------------------------
class CountingLLM:
    """Stands in for the model: records every request; a rewrite comes back as ``rewritten``."""

    name = "counting"

    def __init__(self, rewritten: str) -> None:
        self.rewritten = rewritten
        self.requests: list[list[dict[str, str]]] = []

    def stream(self, messages: list[dict[str, str]], max_tokens: int = 0) -> Iterator[str]:
        self.requests.append(messages)
        yield self.rewritten


def test_the_chat_answers_how_a_story_developed_with_its_timeline(sample_engine, monkeypatch) -> None:  # noqa: ANN001
    from qa.ui.chat_tab import ChatHandlers

    llm = CountingLLM("How did the story of the Putin-Biden call develop?")
    monkeypatch.setattr(sample_engine, "_llm", llm)
    handlers = ChatHandlers(sample_engine)
    filters = (None, None, None, "2026-12-06", 4)
    *_, last = handlers.respond("How did the Putin Biden call story develop?", [], *filters)
    conversation = last[5]
    first = conversation[0]
    assert llm.requests == [] and first.finished  # a timeline asks the model nothing
    assert first.reply.count("2021\\-12\\-31") >= 3 and first.cited == [1, 2]  # the day and both reports
    assert (
        "Putin warns Biden of severing relations" in first.reply and first.panel.count('class="nq-card"') == 2
    )
    assert "searched as" not in chat_messages(conversation)[0]["content"]

    *_, last = handlers.respond("And how did the story develop?", conversation, *filters)
    follow_up = last[5][1]
    assert len(llm.requests) == 1  # the follow-up's rewrite, nothing else
    assert follow_up.rewritten == llm.rewritten and follow_up.cited == [1, 2]
    assert 'Timeline of "Putin-Biden call"' in follow_up.text
