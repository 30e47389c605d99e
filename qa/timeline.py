"""Story timelines: the articles about a story in date order, grouped by day, each syndicated story one
entry with every outlet that carried it (``newsqa timeline``, ``qa.timeline``, the chat's Timeline view).

Which articles are "about the story" is the answer pipeline's own search (dense + BM25, the question's
time words preferred), read wider: the best ``timeline_candidates`` passages, one entry per article, kept
while its best passage's cosine is at least ``timeline_relative`` times the best article's (and never below
``min_relevance``). Copies folded at ingest (syndication, near-duplicates) come from the catalog. An
optional one-sentence summary per day is written by the LLM from that day's passages and cited to the
timeline's own numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from qa.abstain import missing_names, weak_evidence
from qa.cite import best_quote, is_abstention
from qa.dates import to_date, to_iso
from qa.models import OtherReport, Passage

if TYPE_CHECKING:
    from qa.answer import Engine

UNDATED = "undated"
_CITATION = re.compile(r"\[(\d+)\]")
_FIRST_CITED_SENTENCE = re.compile(r"\s*(.+?\[\d+\](?:\s*\[\d+\])*[.!?]?)", re.DOTALL)


@dataclass
class TimelineEntry:
    """One article of the story (with the copies folded into it), numbered for citation."""

    n: int
    passage: Passage  # the article's best passage for the story
    excerpt: str  # its one sentence that best matches the story
    also_reported_by: list[OtherReport] = field(default_factory=list)

    @property
    def day(self) -> str:
        """The article's date (ISO), or ``undated``."""
        return self.passage.date or UNDATED

    def label(self) -> str:
        """``Title — Outlet, 2021-12-31``."""
        return self.passage.label()

    def outlets(self) -> list[str]:
        """Every outlet that carried it: its own first, then the folded copies'."""
        names = [self.passage.outlet or "unknown outlet"]
        names += [o.outlet for o in self.also_reported_by if o.outlet and o.outlet not in names]
        return names


@dataclass
class TimelineDay:
    """The story's articles of one day, and optionally a one-sentence cited summary of them."""

    day: str
    entries: list[TimelineEntry]
    summary: str = ""


@dataclass
class Timeline:
    """A story in date order: days oldest first (undated articles last)."""

    query: str
    days: list[TimelineDay]
    filters: dict[str, Any] = field(default_factory=dict)
    empty_reason: str = ""  # why no article is about the story

    @property
    def entries(self) -> list[TimelineEntry]:
        """Every entry, in timeline order."""
        return [entry for day in self.days for entry in day.entries]

    def headline(self) -> str:
        """``Timeline of "query": 3 articles over 2 days`` (or why it is empty)."""
        if not self.days:
            why = f" ({self.empty_reason})" if self.empty_reason else ""
            return f'No article in the index is about "{self.query}"{why}.'
        n, d = len(self.entries), len([day for day in self.days if day.day != UNDATED])
        return f'Timeline of "{self.query}": {n} article{"s" * (n != 1)} over {d} day{"s" * (d != 1)}'

    def text(self) -> str:
        """The timeline as plain text, for the command line."""
        lines = [self.headline()]
        for day in self.days:
            lines += ["", day.day] + ([f"  {day.summary}"] if day.summary else [])
            for entry in day.entries:
                lines.append(f"  [{entry.n}] {entry.label()}")
                lines.append(f"      {entry.excerpt}")
                if entry.also_reported_by:
                    lines.append(f"      also reported by: {others_line(entry)}")
                if entry.passage.url:
                    lines.append(f"      {entry.passage.url}")
        return "\n".join(lines)


def others_line(entry: TimelineEntry) -> str:
    """``Outlet (date), Outlet`` of the copies folded into ``entry`` (a date only where it differs)."""
    return ", ".join(
        f"{o.outlet or 'unknown outlet'}"
        + (f" ({o.date})" if o.date and o.date != entry.passage.date else "")
        for o in entry.also_reported_by
    )


def story_articles(query: str, passages: list[Passage], relative: float, floor: float) -> list[Passage]:
    """One passage per article (its best), kept while its cosine reaches ``relative`` times the best
    article's and ``floor``, and it mentions every name the query has (``Putin``, ``Biden``)."""
    best: dict[str, Passage] = {}
    for passage in passages:
        if passage.article_id not in best or passage.score > best[passage.article_id].score:
            best[passage.article_id] = passage
    if not best:
        return []
    top = max(p.score for p in best.values())
    return [
        p for p in best.values() if p.score >= max(floor, relative * top) and not missing_names(query, [p])
    ]


def build_timeline(
    engine: Engine,
    query: str,
    *,
    since: date | str | None = None,
    until: date | str | None = None,
    outlets: list[str] | str | None = None,
    as_of: date | str | None = None,
    limit: int | None = None,
    summarize: bool = False,
) -> Timeline:
    """The timeline of the story ``query`` names: its articles by day, oldest first, at most ``limit``
    (default ``timeline_articles``). ``since`` / ``until`` / ``outlets`` narrow it; time words in the query
    ("this week") prefer their days, relative to ``as_of`` (default today). ``summarize`` adds one cited
    sentence per day, written by the LLM."""
    settings = engine.settings
    as_of_day = to_date(as_of, "as_of") or date.today()
    engine.refresh()
    search = engine.search_filters(
        query, None, as_of_day, to_iso(since, "since"), to_iso(until, "until"), outlets
    )
    passages = engine.retriever.retrieve(
        search.query, settings.timeline_candidates, search.filters, boost=search.boost, window=search.window
    )
    reason = weak_evidence(search.query, passages, settings.min_relevance)
    kept = (
        []
        if reason
        else story_articles(search.query, passages, settings.timeline_relative, settings.min_relevance)
    )
    kept = sorted(kept, key=lambda p: -p.score)[: limit or settings.timeline_articles]
    kept.sort(key=lambda p: (p.date or "9999", p.outlet, p.title))  # undated last
    entries = [
        TimelineEntry(
            n, replace(p, n=n), best_quote(search.query, p.text), engine.other_reports(p.article_id)
        )
        for n, p in enumerate(kept, start=1)
    ]
    days: dict[str, list[TimelineEntry]] = {}
    for entry in entries:
        days.setdefault(entry.day, []).append(entry)
    timeline = Timeline(query, [TimelineDay(d, e) for d, e in days.items()], search.shown(), reason or "")
    if summarize:
        for day in timeline.days:
            if day.day != UNDATED:
                day.summary = summarize_day(engine, search.query, day)
    return timeline


def summarize_day(engine: Engine, query: str, day: TimelineDay) -> str:
    """One sentence on what the day's articles reported about the story, cited with the timeline's
    numbers: the first cited sentence of the model's answer; "" when it finds nothing or cites nothing."""
    question = f"What did the reports of {day.day} say about {query}?"
    answer = engine.answer_from(question, [entry.passage for entry in day.entries])
    first = _FIRST_CITED_SENTENCE.match(answer.text)
    if answer.abstained or is_abstention(answer.text) or not first:
        return ""
    numbers = {i: entry.n for i, entry in enumerate(day.entries, start=1)}
    return _CITATION.sub(lambda m: f"[{numbers.get(int(m.group(1)), m.group(1))}]", first.group(1))
