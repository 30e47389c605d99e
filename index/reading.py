"""What every format reader shares (:mod:`index.formats` and the document and archive readers it hands
files to): the per-file report, the decompression-bomb bound on gzip streams, and trafilatura's reading
of an HTML page.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from index.parse import ParseError, normalize_date

GZIP_MAX_RATIO = 200  # news text compresses 3-10x; 200x past the first GZIP_FREE_BYTES is a bomb
GZIP_FREE_BYTES = 10_000_000


@dataclass
class FileReport:
    """Per-file notes collected while reading: warnings, and records skipped with their reason."""

    warnings: list[str] = field(default_factory=list)
    skipped_records: int = 0  # records that could not be read (a re-read file then drops nothing)
    notes: list[str] = field(default_factory=list)  # what was passed over on purpose (a web archive's images)


class BoundedGzip(io.RawIOBase):
    """A gzip file read as a stream that stops with ParseError once its contents pass ``GZIP_FREE_BYTES``
    and ``GZIP_MAX_RATIO`` times the compressed bytes read so far (a decompression bomb), whatever they
    hold: a bomb is refused after reading a few hundred MB, in seconds, in constant memory."""

    def __init__(self, path: Path) -> None:
        self._raw = path.open("rb")
        self._gzip = gzip.GzipFile(fileobj=self._raw, mode="rb")
        self._out = 0

    def readable(self) -> bool:
        """Always: it is a reader."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Decompress into ``buffer``; ParseError past the bound."""
        count = self._gzip.readinto(buffer)
        self._out += count
        if self._out > GZIP_FREE_BYTES and self._out > GZIP_MAX_RATIO * max(self._raw.tell(), 1):
            raise ParseError(
                f"compressed contents expand over {GZIP_MAX_RATIO}x (a decompression bomb?); stopped after "
                f"{self._out / 1e6:.0f} MB"
            )
        return count

    def close(self) -> None:
        """Close the gzip stream and the file."""
        self._gzip.close()
        self._raw.close()
        super().close()


def host_of(url: str | None) -> str | None:
    """An outlet name from a URL's host (``www.`` dropped)."""
    if not url:
        return None
    try:
        host = urlparse(url if "//" in url else f"//{url}").hostname
    except ValueError:  # "[" and other malformed netlocs: no outlet to take, not a bad article
        return None
    return host.removeprefix("www.") if host else None


def html_fields(html: str | bytes) -> dict[str, str | None]:
    """The main text and metadata trafilatura finds in an HTML page (menus, footers and ads dropped):
    ``body``, and ``title``, ``published`` (ISO date), ``outlet`` (the site's own name), ``url``
    (canonical), ``host`` and ``author``, each None when the page does not say. Raises ParseError when the
    page holds no article text."""
    import trafilatura

    doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False, include_tables=False)
    if doc is None:
        raise ParseError("no article text found in the HTML")
    meta = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    body = (meta.get("text") or "").strip()
    title = (meta.get("title") or "").strip()
    if title and body.startswith(title):
        body = body[len(title) :].strip()
    if not body:
        raise ParseError("no article text found in the HTML (only navigation or boilerplate)")
    return {
        "title": title or None,
        "body": body,
        "published": normalize_date(meta.get("date")),
        "outlet": meta.get("sitename") or None,
        "url": meta.get("url") or None,
        "host": meta.get("hostname") or None,
        "author": meta.get("author") or None,
    }
