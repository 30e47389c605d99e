"""Reading RSS 0.9x / 1.0 / 2.0 and Atom feeds into plain entries, with feedparser.

feedparser is only ever given bytes that newsqa fetched itself (:mod:`index.fetch`): handed a string that
looks like a URL it would fetch it on its own, without newsqa's limits, so it never gets one.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from index.parse import ParseError, normalize_date

FEED_TEXT_MIN_WORDS = 120  # an entry's own text this long is a whole article, not a teaser
_FEED_TYPES = {
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
    "application/x-rss+xml",
}
_BLOCK_END = re.compile(r"(?i)</(?:p|div|li|h[1-6]|blockquote|pre)\s*>|<br\s*/?>")
_FEED_START = re.compile(  # after a BOM, XML declarations, comments and a DOCTYPE
    rb"^(?:\xef\xbb\xbf)?\s*(?:(?:<\?[^>]*\?>|<!--.*?-->|<!doctype[^>]*>)\s*)*<(?:rss|feed|rdf:rdf)\b",
    re.S | re.I,
)


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed, as the feed tells it."""

    link: str | None
    title: str | None
    published: str | None  # ISO date: the entry's published date, else its updated date
    outlet: str | None  # the feed's title
    author: str | None
    text: str | None  # the entry's own text (its content, else its summary), tags stripped
    key: str  # what names the entry: its link, else its id
    fingerprint: str  # changes when the feed changes anything the entry says

    @property
    def has_full_text(self) -> bool:
        """Whether the entry carries a whole article (not only a teaser) that can stand in for its page."""
        return bool(self.text) and len((self.text or "").split()) >= FEED_TEXT_MIN_WORDS


@dataclass(frozen=True)
class Feed:
    """A parsed feed: its URL, title, format (``rss20``, ``atom10``...) and entries, in feed order."""

    url: str
    title: str | None
    version: str
    entries: list[FeedEntry]


def looks_like_feed(content: bytes, content_type: str = "") -> bool:
    """Whether a response is a feed rather than a page: its first element is ``<rss>``, ``<feed>`` or
    ``<rdf:RDF>``, or its content type is a feed's (or XML)."""
    if _FEED_START.match(content[:4096]):
        return True
    return content_type.split(";", 1)[0].strip().lower() in _FEED_TYPES


def plain_text(html: str | None) -> str | None:
    """Text of an HTML fragment (a feed's title, summary or content): tags dropped, entities decoded,
    one paragraph per block, blanks collapsed; None when nothing is left."""
    if not html or not html.strip():
        return None
    from lxml import etree
    from lxml import html as lxml_html

    marked = _BLOCK_END.sub(lambda m: m.group(0) + "\n\n", html)
    try:
        text = lxml_html.fragment_fromstring(marked, create_parent="div").text_content()
    except (etree.ParserError, ValueError):
        text = html
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n\s*\n", text))
    return "\n\n".join(p for p in paragraphs if p) or None


def _struct_date(value: Any) -> str | None:
    """feedparser's parsed date (a UTC ``time.struct_time``) as an ISO date."""
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC).date().isoformat()
    except (TypeError, ValueError, OverflowError):
        return None


def _entry(raw: Any, outlet: str | None) -> FeedEntry:
    link = (raw.get("link") or "").strip() or None
    title = plain_text(raw.get("title"))
    # the dates as the entry gives them (dict.get: not feedparser's deprecated updated -> published mapping)
    dates = {k: dict.get(raw, k) for k in ("published", "updated", "published_parsed", "updated_parsed")}
    published = (
        normalize_date(dates["published"])
        or normalize_date(dates["updated"])
        or _struct_date(dates["published_parsed"] or dates["updated_parsed"])
    )
    contents = [c.get("value") for c in raw.get("content") or [] if c.get("value")]
    text = plain_text(max(contents, key=len) if contents else raw.get("summary"))
    said = [link, title, dates["published"], dates["updated"], text]
    fingerprint = hashlib.sha1(json.dumps(said).encode()).hexdigest()
    key = link or (raw.get("id") or "").strip() or f"entry:{fingerprint}"
    author = plain_text(raw.get("author"))
    return FeedEntry(link, title, published, outlet, author, text, key, fingerprint)


def read_feed(content: bytes, url: str, content_type: str = "") -> Feed:
    """Parse a fetched RSS or Atom feed (bytes, never a URL); ParseError when it is not one."""
    import feedparser

    if not isinstance(content, bytes):
        raise TypeError("read_feed takes the fetched bytes, never a URL or a string")
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    parsed = feedparser.parse(content, response_headers=headers)
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        detail = f" ({' '.join(str(problem).split())})" if problem else ""
        raise ParseError(f"not an RSS or Atom feed{detail}")
    title = plain_text(parsed.feed.get("title"))
    return Feed(url, title, parsed.get("version") or "", [_entry(e, title) for e in parsed.entries])
