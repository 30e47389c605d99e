"""Reading XML sitemaps and sitemap indexes (sitemaps.org), with Google's ``news:`` extension, into the
plain entries feeds use (:class:`index.feeds.FeedEntry`).

A ``<urlset>`` lists pages: ``<loc>``, ``<lastmod>`` and, in a news sitemap, ``<news:news>`` with the
publication's name, the publication date and the title. A ``<sitemapindex>`` lists other sitemaps.
Parsing is lxml's, with entities, DTDs and the network off; a gzipped sitemap (``sitemap.xml.gz``) is
decompressed up to ``MAX_SITEMAP_BYTES`` (the protocol's 50 MB), past which it is refused as a bomb.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from index.feeds import FeedEntry
from index.parse import ParseError, normalize_date

MAX_SITEMAP_BYTES = 50_000_000
_SITEMAP_START = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:(?:<\?[^>]*\?>|<!--.*?-->)\s*)*<(?:[\w.-]+:)?(?:urlset|sitemapindex)\b", re.S
)


@dataclass(frozen=True)
class SitemapPage:
    """A page a sitemap lists, as a feed entry, with its date stamp (news publication date, else
    ``lastmod``; as written) to compare with the last check."""

    entry: FeedEntry
    stamp: str | None


@dataclass
class Sitemap:
    """A parsed sitemap: its pages (a ``urlset``) or the sitemaps it lists (an index: (url, lastmod))."""

    url: str
    is_index: bool
    pages: list[SitemapPage] = field(default_factory=list)
    children: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def title(self) -> str | None:
        """The publication name its news entries give, if any."""
        return next((p.entry.outlet for p in self.pages if p.entry.outlet), None)


def gunzip_bounded(content: bytes, limit: int = MAX_SITEMAP_BYTES) -> bytes:
    """``content`` decompressed when it is gzip (else as it is), at most ``limit`` bytes; ParseError past
    that or when the gzip data is corrupt."""
    if not content.startswith(b"\x1f\x8b"):
        return content
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(content, limit + 1)
    except zlib.error as exc:
        raise ParseError(f"not valid gzip data ({exc})") from exc
    if len(data) > limit:
        raise ParseError(f"gzipped sitemap expands past {limit / 1e6:.0f} MB (a decompression bomb?)")
    return data


def looks_like_sitemap(content: bytes) -> bool:
    """Whether a response is a sitemap: its first element (after gzip, if gzipped) is ``<urlset>`` or
    ``<sitemapindex>``."""
    head = content[:4096]
    if head.startswith(b"\x1f\x8b"):
        try:
            head = zlib.decompressobj(wbits=31).decompress(content[:65536], 4096)
        except zlib.error:
            return False
    return bool(_SITEMAP_START.match(head))


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _text(element: object, name: str) -> str | None:
    """The text of the first descendant of ``element`` whose local name is ``name``."""
    for child in element.iter():  # type: ignore[attr-defined]
        if _local(child.tag) == name:
            text = " ".join((child.text or "").split())
            return text or None
    return None


def _page(element: object) -> SitemapPage | None:
    loc = _text(element, "loc")
    if not loc:
        return None
    lastmod, published = _text(element, "lastmod"), _text(element, "publication_date")
    title, outlet = _text(element, "title"), _text(element, "name")
    said = [loc, lastmod, published, title, outlet]
    entry = FeedEntry(
        link=loc,
        title=title,
        published=normalize_date(published) or normalize_date(lastmod),
        outlet=outlet,
        author=None,
        text=None,
        key=loc,
        fingerprint=hashlib.sha1(json.dumps(said).encode()).hexdigest(),
    )
    return SitemapPage(entry, published or lastmod)


def read_sitemap(content: bytes, url: str) -> Sitemap:
    """Parse a fetched sitemap or sitemap index (bytes, gzipped or not); ParseError when it is not one."""
    from lxml import etree

    data = gunzip_bounded(content)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"not a valid XML sitemap ({exc})") from exc
    kind = _local(root.tag)
    if kind == "sitemapindex":
        children = [
            (loc, _text(s, "lastmod"))
            for s in root
            if _local(s.tag) == "sitemap" and (loc := _text(s, "loc"))
        ]
        return Sitemap(url, True, children=children)
    if kind != "urlset":
        raise ParseError(f"not a sitemap (its root element is <{kind}>)")
    pages = [page for element in root if _local(element.tag) == "url" and (page := _page(element))]
    return Sitemap(url, False, pages=pages)


def _moment(stamp: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(stamp.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def newer_than(stamp: str | None, since: str | None) -> bool:
    """Whether a page dated ``stamp`` (W3C date or date-time) may be newer than ``since`` (ISO date-time
    of the last check). A page without a readable date may be; a bare date counts as the whole day."""
    if not stamp or not since or (last := _moment(since)) is None:
        return True
    if len(stamp.strip()) == 10:  # YYYY-MM-DD: any time that day
        day = normalize_date(stamp)
        return day is None or day >= last.astimezone(UTC).date().isoformat()
    moment = _moment(stamp)
    return moment is None or moment > last
