"""Web articles kept as files in the data folder, so that ingesting them is ingesting files.

Each fetched article is one JSON record, ``<data>/web/<host>/<sha1 of its URL>.json``, that
:func:`index.formats.read_articles` reads like any other ``.json`` article: ``title``, ``body``,
``published``, ``outlet``, ``url``, ``author``. How it was fetched is kept beside them under
``newsqa_web`` (a key no field alias reads): the URL asked and the one answered, the validators for the
next conditional request, the feed and the entry's fingerprint, where the text came from, and the page's
own metadata (so an entry that changes on a page that does not can be merged again without a download).

What the page says wins; the feed entry fills what it lacks (title, date, outlet = the feed's title,
link); the outlet then falls back to the URL's host (as for any record). Files are replaced atomically.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from index.atomic import write_text_atomic
from index.feedlist import now_iso
from index.feeds import FeedEntry
from index.fetch import FetchResult
from index.formats import html_fields
from index.parse import ParseError

WEB_DIR = "web"
META = "newsqa_web"
_PAGE_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")


def record_path(data_dir: Path, url: str) -> Path:
    """Where the record of the article at ``url`` is kept: ``<data>/web/<host>/<sha1 of url>.json``."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "unknown").lower() + (f"_{parts.port}" if parts.port else "")
    except ValueError:  # a malformed URL (it fails when fetched): any folder will do
        host = "unknown"
    folder = re.sub(r"[^a-z0-9._-]", "_", host)
    return Path(data_dir) / WEB_DIR / folder / f"{hashlib.sha1(url.encode()).hexdigest()}.json"


def read_record(path: Path) -> dict[str, Any] | None:
    """A stored record, or None when there is none (or it cannot be read: it is then fetched anew)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get(META), dict) else None


def write_record(path: Path, record: dict[str, Any]) -> None:
    """Write a record atomically (a reader or a crash sees the old record or the new one)."""
    write_text_atomic(path, json.dumps(record, ensure_ascii=False, indent=1) + "\n")


def page_fields(result: FetchResult) -> dict[str, str | None]:
    """The article text and metadata of a fetched HTML page (trafilatura, as for .html files);
    ParseError when it is not a page or holds no article text."""
    kind = result.content_type.split(";", 1)[0].strip().lower()
    if kind not in _PAGE_TYPES:
        raise ParseError(f"not an HTML page or a feed (content type {kind})")
    return html_fields(result.content)


def _article_url(url: str | None) -> str | None:
    """A page's canonical URL, unless it is malformed or is the site's home page (some sites name their
    home page as every article's canonical URL: the link then tells the articles apart)."""
    try:
        return url if url and urlsplit(url).path.strip("/") else None
    except ValueError:
        return None


def build_record(
    page: dict[str, str | None],
    entry: FeedEntry | None,
    *,
    asked: str,
    fetched: FetchResult | None,
    feed: str | None,
    text_from: str,
) -> dict[str, Any]:
    """A record from the page's fields (``page``: what :func:`page_fields` found, or the entry's own
    text) and the feed entry's, the page's winning; ``fetched`` gives the validators (None: none)."""

    def pick(name: str, fallback: str | None) -> str | None:
        return page.get(name) or fallback

    return {
        "title": pick("title", entry.title if entry else None),
        "body": page["body"],
        "published": pick("published", entry.published if entry else None),
        "outlet": pick("outlet", entry.outlet if entry else None),
        "url": _article_url(page.get("url")) or (entry.link if entry else None) or asked,
        "author": pick("author", entry.author if entry else None),
        META: {
            "asked": asked,
            "final_url": fetched.final_url if fetched else None,
            "etag": fetched.etag if fetched else None,
            "last_modified": fetched.last_modified if fetched else None,
            "fetched": now_iso(),
            "feed": feed,
            "entry": entry.fingerprint if entry else None,
            "text_from": text_from,
            "page": {k: v for k, v in page.items() if k != "body"},
        },
    }


def entry_page(entry: FeedEntry) -> dict[str, str | None]:
    """The entry's own text as the page's fields (for an entry whose page could not be used)."""
    return {"body": entry.text}


def stored_page(record: dict[str, Any]) -> dict[str, str | None]:
    """The page fields kept in a record (for a page that answered 304 Not Modified)."""
    return {**record[META].get("page", {}), "body": record["body"]}
