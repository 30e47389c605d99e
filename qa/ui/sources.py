"""The Sources panel beside the chat, as HTML for ``gr.HTML``.

For a cited answer: one card per citation (number, title linked to its url when that is a plain http(s)
address, outlet, date, and the supporting quote highlighted with ``<mark>`` inside a short excerpt of its
passage). For an abstention: what was searched (the question as searched and the filters) and the closest
articles found. Card ``n`` of answer ``turn`` has the id ``src-<turn>-<n>``; :func:`link_citations` turns
the answer's ``[n]`` markers into links to it. Every piece of article text is escaped (:func:`esc`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from qa.models import Answer, Citation, OtherReport, Passage, Reading
from qa.ui.safe import esc, escape_chat, one_line, safe_url

EXCERPT_CONTEXT_CHARS = 160  # characters of passage shown on each side of the quote
CLOSEST_MAX = 6  # articles listed when the answer abstains
_MARKER = re.compile(r"\[(\d+)\]")


def card_id(turn: int, n: int) -> str:
    """The element id of card ``n`` of the ``turn``-th answer (``src-0-1``)."""
    return f"src-{turn}-{n}"


def link_citations(text: str, turn: int, cited: Iterable[int] | None = None) -> str:
    """Answer text for the chat, escaped (:func:`escape_chat`), each ``[n]`` (of ``cited``, or any) a link to
    card ``n``; other ``[n]`` stay text."""
    wanted = None if cited is None else set(cited)
    pieces = _MARKER.split(text or "")  # text, number, text, number, ..., text
    out = []
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            out.append(escape_chat(piece))
        elif wanted is None or int(piece) in wanted:
            out.append(f"[\\[{int(piece)}\\]](#{card_id(turn, int(piece))})")
        else:
            out.append(escape_chat(f"[{piece}]"))
    return "".join(out)


def clip_end(text: str, limit: int) -> str:
    """The start of ``text``, at most ``limit`` characters, cut at a space, with `` …`` if cut."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip() + " …"


def _clip_start(text: str, limit: int) -> str:
    """The end of ``text``, at most ``limit`` characters, cut at a space, with ``… `` if cut."""
    if len(text) <= limit:
        return text
    start = text.find(" ", len(text) - limit)
    start = start + 1 if 0 <= start < len(text) - limit // 2 else len(text) - limit
    return "… " + text[start:].lstrip()


def excerpt_html(passage: str, quote: str, context: int = EXCERPT_CONTEXT_CHARS) -> str:
    """A short excerpt of ``passage`` around ``quote``, the quote in ``<mark>``; all text escaped.

    Whitespace is collapsed first; the quote is found case-sensitively, else ignoring case. A quote that
    is not in the passage is shown marked, followed by the passage's opening."""
    text, wanted = one_line(passage), one_line(quote)
    at = text.find(wanted) if wanted else -1
    if wanted and at < 0:
        at = text.lower().find(wanted.lower())
    if at < 0:
        marked = f"<mark>{esc(wanted)}</mark>" if wanted else ""
        rest = esc(clip_end(text, 2 * context))
        return f"{marked} {rest}".strip()
    before = _clip_start(text[:at], context)
    after = clip_end(text[at + len(wanted) :], context)
    return f"{esc(before)}<mark>{esc(text[at : at + len(wanted)])}</mark>{esc(after)}"


def title_html(title: str, url: str | None) -> str:
    """The article title, a link (new tab, no referrer) only for a plain http(s) url."""
    text = esc(one_line(title) or "Untitled")
    link = safe_url(url)
    if not link:
        return f'<span class="nq-title">{text}</span>'
    return f'<a class="nq-title" href="{esc(link)}" target="_blank" rel="noopener noreferrer nofollow">{text}</a>'


def meta_html(outlet: str | None, day: str | None, extra: str = "") -> str:
    """``outlet · date`` (and ``extra``, already HTML) under a card's title; all text escaped."""
    parts = [
        f'<span class="nq-outlet">{esc(one_line(outlet) or "unknown outlet")}</span>',
        f'<span class="nq-date">{esc(one_line(day) or "undated")}</span>',
    ]
    if extra:
        parts.append(extra)
    return f'<div class="nq-meta">{" · ".join(parts)}</div>'


def card_html(citation: Citation, turn: int) -> str:
    """One source card: number, title (linked), outlet, date, and the quote marked in its excerpt."""
    passage = citation.passage.text if citation.passage else citation.quote
    return (
        f'<article class="nq-card" id="{card_id(turn, citation.n)}" data-n="{citation.n}">'
        f'<div class="nq-card-head"><span class="nq-num">{citation.n}</span>'
        f"{title_html(citation.title, citation.url)}</div>"
        f"{meta_html(citation.outlet, citation.date)}"
        f'<blockquote class="nq-excerpt">{excerpt_html(passage, citation.quote)}</blockquote>'
        f"{also_reported_html(citation.also_reported_by)}"
        "</article>"
    )


def also_reported_html(others: list[OtherReport], day: str | None = None) -> str:
    """ "Also reported by" with each other outlet (linked when it has a plain http(s) url) and its date;
    given the card's ``day``, a date is shown only where it differs from it."""
    if not others:
        return ""
    items = []
    for other in others:
        name = esc(one_line(other.outlet) or "unknown outlet")
        link = safe_url(other.url)
        if link:
            name = f'<a href="{esc(link)}" target="_blank" rel="noopener noreferrer nofollow">{name}</a>'
        when = one_line(other.date)
        items.append(name if day and when == day else f"{name} ({esc(when or 'undated')})")
    return f'<div class="nq-also"><span class="nq-label">Also reported by</span> {", ".join(items)}</div>'


def filters_text(filters: dict | None) -> str:
    """The search filters an answer applied, in words: ``since 2021-12-01 · until 2026-11-24 · outlets: A``."""
    filters = dict(filters or {})
    parts = []
    for key in ("since", "until"):
        if filters.get(key):
            parts.append(f"{key} {one_line(str(filters.pop(key)))}")
        filters.pop(key, None)
    outlets = filters.pop("outlet", None)
    if outlets:
        names = [outlets] if isinstance(outlets, str) else list(outlets)
        parts.append("outlets: " + ", ".join(one_line(str(o)) for o in names))
    parts += [f"{one_line(str(k))}: {one_line(str(v))}" for k, v in filters.items() if v not in (None, "")]
    return " · ".join(parts) or "none"


def searched_html(answer: Answer) -> str:
    """What was searched: the question as searched (a follow-up's standalone form) and the filters."""
    asked = answer.rewritten_question or answer.question
    rows = [
        f'<div class="nq-searched"><span class="nq-label">Searched for</span> “{esc(one_line(asked))}”</div>'
    ]
    if answer.rewritten_question and one_line(answer.rewritten_question) != one_line(answer.question):
        rows.append(
            f'<div class="nq-rewritten">Follow-up “{esc(one_line(answer.question))}” '
            "was read as the standalone question above.</div>"
        )
    rows.append(
        f'<div class="nq-filters"><span class="nq-label">Filters</span> {esc(filters_text(answer.filters))}</div>'
    )
    freshness = answer.freshness_text()
    if freshness:
        rows.append(f'<div class="nq-freshness"><span class="nq-label">Dates</span> {esc(freshness)}</div>')
    return f'<div class="nq-search">{"".join(rows)}</div>'


def closest_articles(passages: list[Passage], limit: int = CLOSEST_MAX) -> list[Passage]:
    """The best passage of each distinct article, best score first, at most ``limit``."""
    best: dict[str, Passage] = {}
    for p in passages:
        key = p.article_id or p.title
        if key not in best or p.score > best[key].score:
            best[key] = p
    return sorted(best.values(), key=lambda p: -p.score)[:limit]


def closest_html(passages: list[Passage]) -> str:
    """The closest articles found, as a list (title, outlet, date, similarity, opening of the passage)."""
    items = []
    for p in closest_articles(passages):
        score = f'<span class="nq-score">similarity {p.score:.2f}</span>'
        items.append(
            f'<li class="nq-closest-item">{title_html(p.title, p.url)}{meta_html(p.outlet, p.date, score)}'
            f'<div class="nq-snippet">{esc(clip_end(one_line(p.text), 2 * EXCERPT_CONTEXT_CHARS))}</div></li>'
        )
    if not items:
        return (
            '<p class="nq-none">No passage was found at all: the index may be empty, '
            "or the filters leave no article.</p>"
        )
    return f'<p class="nq-label">Closest articles found</p><ol class="nq-closest">{"".join(items)}</ol>'


def _seconds(ms: float | None) -> str:
    return "–" if ms is None else f"{ms / 1000:.1f} s"


def timings_text(answer: Answer) -> str:
    """``retrieval 0.1 s · first token 6.1 s · total 8.0 s · prompt tokens 31 read, 862 cached · model X``
    (plain text)."""
    t = answer.timings
    parts = [f"retrieval {_seconds(t.retrieve_ms)}"]
    if not answer.abstained and t.first_token_ms is not None:
        parts.append(f"first token {_seconds(t.first_token_ms)}")
    parts.append(f"total {_seconds(t.total_ms)}")
    if t.prompt_tokens is not None:  # llama.cpp reports them: how much of the prompt was read ahead
        parts.append(f"prompt tokens {t.prompt_tokens} read, {t.cached_tokens or 0} cached")
    if answer.model:
        parts.append(f"model {one_line(answer.model)}")
    return " · ".join(parts)


def sources_html(answer: Answer, turn: int) -> str:
    """The Sources panel for the ``turn``-th finished answer (0-based within the conversation)."""
    blocks = ['<div class="nq-head">Sources</div>', searched_html(answer)]
    if answer.abstained:
        reason = (
            f' <span class="nq-why">({esc(answer.abstain_reason)})</span>' if answer.abstain_reason else ""
        )
        blocks.append(
            f'<p class="nq-abstain"><strong>The articles do not cover this question.</strong>{reason}</p>'
        )
        blocks.append(closest_html(answer.retrieved or answer.passages))
    elif not answer.citations:
        blocks.append('<p class="nq-none">The answer cites no passage; treat it with care.</p>')
    else:
        blocks += [card_html(c, turn) for c in answer.citations]
    blocks.append(f'<div class="nq-timings">{esc(timings_text(answer))}</div>')
    return f'<div class="nq-sources" data-turn="{turn}">{"".join(blocks)}</div>'


def reading_card_html(passage: Passage, turn: int) -> str:
    """A card of a passage being read: number, title (linked), outlet, date, and the start of what the
    model reads of it (the sentences the prompt's cut kept)."""
    return (
        f'<article class="nq-card nq-reading" id="{card_id(turn, passage.n)}" data-n="{passage.n}">'
        f'<div class="nq-card-head"><span class="nq-num">{passage.n}</span>'
        f"{title_html(passage.title, passage.url)}</div>"
        f"{meta_html(passage.outlet, passage.date)}"
        f'<blockquote class="nq-excerpt">{esc(clip_end(one_line(passage.text), 2 * EXCERPT_CONTEXT_CHARS))}'
        "</blockquote></article>"
    )


def reading_html(reading: Reading, turn: int) -> str:
    """The Sources panel while the model reads: the passages it was given, marked as being read (the
    answer's cited cards replace them when it is finished)."""
    count = len(reading.passages)
    note = (
        f'<p class="nq-note nq-reading-note">Reading {count} passage{"s" if count != 1 else ""} '
        f"(found in {_seconds(reading.retrieve_ms)})… the ones the answer cites stay when it is finished.</p>"
    )
    cards = "".join(reading_card_html(p, turn) for p in reading.passages)
    return (
        f'<div class="nq-sources nq-sources-reading" data-turn="{turn}">'
        f'<div class="nq-head">Sources</div>{note}{cards}</div>'
    )


def message_html(text: str) -> str:
    """The panel with one message instead of sources (before the first question, while searching...)."""
    return (
        f'<div class="nq-sources"><div class="nq-head">Sources</div><p class="nq-note">{esc(text)}</p></div>'
    )


SOURCES_EMPTY = message_html("Ask a question: the articles its answer cites will be shown here, with quotes.")
SOURCES_SEARCHING = message_html("Searching the articles…")
SOURCES_WRITING = message_html("Writing the answer… its sources appear when it is finished.")
