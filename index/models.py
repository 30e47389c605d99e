"""The things that flow through ingestion: an ``Article`` parsed from a file, and its ``Chunk``s."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field


def normalize_text(text: str) -> str:
    """Lowercase and collapse whitespace: two copies that differ only in layout normalize equal."""
    return re.sub(r"\s+", " ", text).strip().lower()


def article_id_for(title: str, body: str) -> str:
    """A stable id from the article's normalized title and body (16 hex digits of SHA-256)."""
    digest = hashlib.sha256(f"{normalize_text(title)}\n{normalize_text(body)}".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Article:
    """One news article, as parsed from its source."""

    title: str
    body: str
    published: str | None = None  # ISO 8601 date, e.g. "2021-12-31"
    outlet: str | None = None
    url: str | None = None
    source: str = ""  # the file (or file#record) it came from
    place: str | None = None  # dateline place, e.g. "Moscow [Russia]"
    author: str | None = None
    id: str = field(default="")

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", article_id_for(self.title, self.body))

    @property
    def source_path(self) -> str:
        """The file this article was read from (``source`` without a ``#record`` suffix)."""
        return self.source.split("#", 1)[0]

    @property
    def source_key(self) -> str:
        """What identifies "the same article, maybe edited": its url, else its file (and record)."""
        return self.url or self.source


@dataclass(frozen=True)
class Chunk:
    """A piece of an article small enough for the embedding model, with the text that gets embedded."""

    article_id: str
    index: int
    text: str  # the body text of this piece (what is shown and quoted)
    embed_text: str  # title and date first, then the text (what is embedded)

    @property
    def id(self) -> str:
        """Deterministic chunk id, so a re-run after a crash overwrites instead of duplicating."""
        return f"{self.article_id}:{self.index}"
