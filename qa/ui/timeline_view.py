"""A story's timeline (:class:`qa.timeline.Timeline`) as the page shows it: HTML for the Timeline tab, Markdown
for a chat reply, and source cards for the Sources panel beside the chat.

Each entry shows its number, its title (a link only for a plain http(s) url), outlet and date, its one-line
excerpt and every other outlet that carried the story (a date only where it differs). Every piece of
article text, and the story as typed, is escaped (:mod:`qa.ui.safe`); the cards reuse the Sources panel's
classes and helpers (:mod:`qa.ui.sources`).
"""

from __future__ import annotations

from qa.models import Citation
from qa.timeline import Timeline, TimelineEntry, others_line
from qa.ui.safe import esc, escape_md, one_line
from qa.ui.sources import (
    EXCERPT_CONTEXT_CHARS,
    also_reported_html,
    card_html,
    clip_end,
    filters_text,
    link_citations,
    meta_html,
    title_html,
)

EXCERPT_CHARS = 2 * EXCERPT_CONTEXT_CHARS  # longest excerpt shown (cut at a space)
BRIEF_ENTRIES = 6  # entries named in the conversation history a follow-up is rewritten with
NOT_COVERED = "The articles do not cover this story."


def _excerpt(entry: TimelineEntry) -> str:
    """The entry's excerpt on one line, clipped (plain text)."""
    return clip_end(one_line(entry.excerpt), EXCERPT_CHARS)


def entry_html(entry: TimelineEntry) -> str:
    """One entry as a card: number, title (linked), outlet, date, excerpt, and the other outlets."""
    p = entry.passage
    return (
        f'<article class="nq-card nq-entry" id="tl-{entry.n}" data-n="{entry.n}">'
        f'<div class="nq-card-head"><span class="nq-num">{entry.n}</span>{title_html(p.title, p.url)}</div>'
        f"{meta_html(p.outlet, p.date)}"
        f'<blockquote class="nq-excerpt">{esc(_excerpt(entry))}</blockquote>'
        f"{also_reported_html(entry.also_reported_by, day=p.date)}"
        "</article>"
    )


def timeline_html(timeline: Timeline) -> str:
    """The Timeline tab's result: the headline, then each day as a heading with its summary (if any) and
    its entries as cards; or why no article is about the story."""
    blocks = [f'<div class="nq-head">{esc(timeline.headline())}</div>']
    if timeline.filters:
        blocks.append(
            f'<div class="nq-search"><span class="nq-label">Filters</span> {esc(filters_text(timeline.filters))}</div>'
        )
    if not timeline.days:
        blocks.append(f'<p class="nq-abstain"><strong>{esc(NOT_COVERED)}</strong></p>')
    for day in timeline.days:
        summary = f'<p class="nq-summary">{esc(one_line(day.summary))}</p>' if day.summary else ""
        entries = "".join(entry_html(entry) for entry in day.entries)
        blocks.append(
            f'<section class="nq-day" data-day="{esc(day.day)}">'
            f'<h3 class="nq-day-head">{esc(day.day)}</h3>{summary}{entries}</section>'
        )
    return f'<div class="nq-sources nq-timeline">{"".join(blocks)}</div>'


def timeline_markdown(timeline: Timeline, turn: int) -> str:
    """The chat reply of the ``turn``-th exchange: the headline, then per day a bold date, its summary (if
    any) and one item per entry, whose ``[n]`` links to its card in the Sources panel; all escaped."""
    if not timeline.days:
        return f"{escape_md(NOT_COVERED)} {escape_md(timeline.headline())}"
    numbers = [entry.n for entry in timeline.entries]
    lines = [f"**{escape_md(timeline.headline())}**"]
    for day in timeline.days:
        lines += ["", f"**{escape_md(day.day)}**"]
        if day.summary:
            lines.append(link_citations(one_line(day.summary), turn, numbers))
        for entry in day.entries:
            lines.append(f"- {link_citations(f'[{entry.n}]', turn, [entry.n])} {escape_md(entry.label())}")
            lines.append(f"  “{escape_md(_excerpt(entry))}”")
            if entry.also_reported_by:
                lines.append(f"  also reported by {escape_md(others_line(entry))}")
    return "\n".join(lines)


def timeline_sources_html(timeline: Timeline, turn: int, question: str, rewritten: str | None = None) -> str:
    """The Sources panel for a timeline reply: the story searched for (and the follow-up it came from),
    the filters, then one source card per entry (``src-<turn>-<n>``, the chat's ``[n]`` links' targets)."""
    rows = [
        f'<div class="nq-searched"><span class="nq-label">Timeline of</span> “{esc(timeline.query)}”</div>'
    ]
    if rewritten and one_line(rewritten) != one_line(question):
        rows.append(
            f'<div class="nq-rewritten">Follow-up “{esc(one_line(question))}” '
            f"was read as “{esc(one_line(rewritten))}”.</div>"
        )
    rows.append(
        f'<div class="nq-filters"><span class="nq-label">Filters</span> {esc(filters_text(timeline.filters))}</div>'
    )
    blocks = ['<div class="nq-head">Sources</div>', f'<div class="nq-search">{"".join(rows)}</div>']
    if not timeline.days:
        why = f' <span class="nq-why">({esc(timeline.empty_reason)})</span>' if timeline.empty_reason else ""
        blocks.append(f'<p class="nq-abstain"><strong>{esc(NOT_COVERED)}</strong>{why}</p>')
    for entry in timeline.entries:
        citation = Citation(entry.n, entry.excerpt, entry.passage, entry.also_reported_by)
        blocks.append(card_html(citation, turn))
    return f'<div class="nq-sources" data-turn="{turn}">{"".join(blocks)}</div>'


def timeline_brief(timeline: Timeline, limit: int = BRIEF_ENTRIES) -> str:
    """The reply in a few plain words for the conversation history (a later follow-up is rewritten with it):
    the headline and the first ``limit`` entries' labels."""
    if not timeline.days:
        return timeline.headline()
    named = [f"[{entry.n}] {entry.label()}" for entry in timeline.entries[:limit]]
    more = len(timeline.entries) - len(named)
    return f"{timeline.headline()}. " + "; ".join(named) + (f"; and {more} more." if more else ".")


def timeline_message(text: str) -> str:
    """The Timeline tab's result area holding one message (before the first story, or an error)."""
    return f'<div class="nq-sources nq-timeline"><p class="nq-note">{esc(text)}</p></div>'


TIMELINE_EMPTY = timeline_message(
    "Name a story (e.g. “Putin Biden call”) and press Show: its articles in date order, grouped by day, "
    "copies carried by other outlets folded into one entry."
)
