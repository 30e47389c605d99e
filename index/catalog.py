"""The catalog: a small SQLite database of ingested articles, where each came from, and the other sources
(exact or near-duplicate copies) that carried the same story.

It is also the commit log of ingestion: an article is ``done`` only after all its chunks are in Chroma, so
an interrupted run leaves ``pending`` rows whose chunks the next run removes before doing anything else.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from index.models import Article

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    outlet TEXT,
    published TEXT,
    url TEXT,
    source_key TEXT NOT NULL,
    source_path TEXT NOT NULL,
    n_chunks INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('pending', 'done')),
    minhash BLOB,
    added_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS articles_source_key ON articles (source_key);
CREATE INDEX IF NOT EXISTS articles_source_path ON articles (source_path);
CREATE TABLE IF NOT EXISTS copies (
    source_key TEXT PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles (id),
    kind TEXT NOT NULL CHECK (kind IN ('exact', 'near')),
    title TEXT,
    outlet TEXT,
    published TEXT,
    url TEXT,
    source_path TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS copies_article ON copies (article_id);
CREATE INDEX IF NOT EXISTS copies_source_path ON copies (source_path);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('generation', 0);
"""


@dataclass
class CatalogStats:
    """Corpus figures for ``newsqa stats``."""

    articles: int
    chunks: int
    outlets: list[str]
    first_date: str | None
    last_date: str | None
    exact_copies: int = 0
    near_copies: int = 0


@dataclass
class Copy:
    """Another source carrying an article already stored (an exact or near-duplicate)."""

    article_id: str
    kind: str
    article: Article


@dataclass
class CatalogRow:
    """One stored article as the catalog knows it."""

    id: str
    title: str
    outlet: str | None
    published: str | None
    url: str | None
    source_key: str
    source_path: str
    n_chunks: int


class Catalog:
    """SQLite catalog (WAL mode; every change is one transaction)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements inside commit together or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- reading -------------------------------------------------------------------------------------
    def is_done(self, article_id: str) -> bool:
        """Whether this article's chunks are all stored."""
        row = self.db.execute("SELECT status FROM articles WHERE id = ?", (article_id,)).fetchone()
        return bool(row) and row[0] == "done"

    def pending(self) -> list[str]:
        """Articles whose ingestion (or removal) was interrupted."""
        return [r[0] for r in self.db.execute("SELECT id FROM articles WHERE status = 'pending'")]

    def by_source_key(self, source_key: str) -> str | None:
        """The stored article that came from this url or path, if any."""
        row = self.db.execute("SELECT id FROM articles WHERE source_key = ?", (source_key,)).fetchone()
        return row[0] if row else None

    def source_key_of(self, article_id: str) -> str | None:
        """The url or path a stored article was recorded from."""
        row = self.db.execute("SELECT source_key FROM articles WHERE id = ?", (article_id,)).fetchone()
        return row[0] if row else None

    def has_copy(self, source_key: str) -> bool:
        """Whether this url or path is already recorded as a copy."""
        return (
            self.db.execute("SELECT 1 FROM copies WHERE source_key = ?", (source_key,)).fetchone() is not None
        )

    def generation(self) -> int:
        """A counter bumped by every change to the stored articles (derived indexes compare it)."""
        return self.db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]

    def get_meta(self, key: str) -> str | None:
        """A stored setting of this index (e.g. ``embed_backend``), or None."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Record a setting of this index."""
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _bump(self) -> None:
        self.db.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")

    def minhashes(self) -> Iterator[tuple[str, bytes]]:
        """(article id, MinHash signature) of every stored article."""
        yield from self.db.execute(
            "SELECT id, minhash FROM articles WHERE status = 'done' AND minhash IS NOT NULL"
        )

    def rows(self) -> list[CatalogRow]:
        """Every stored article."""
        return [
            CatalogRow(*r)
            for r in self.db.execute(
                "SELECT id, title, outlet, published, url, source_key, source_path, n_chunks FROM articles"
                " WHERE status = 'done' ORDER BY published, id"
            )
        ]

    def row(self, article_id: str) -> CatalogRow | None:
        """One stored article, or None."""
        r = self.db.execute(
            "SELECT id, title, outlet, published, url, source_key, source_path, n_chunks FROM articles"
            " WHERE id = ? AND status = 'done'",
            (article_id,),
        ).fetchone()
        return CatalogRow(*r) if r else None

    def keys_from(self, source_path: str) -> tuple[list[CatalogRow], list[str]]:
        """The stored articles recorded from one file, and the source keys of copies read from it."""
        rows = [
            CatalogRow(*r)
            for r in self.db.execute(
                "SELECT id, title, outlet, published, url, source_key, source_path, n_chunks FROM articles"
                " WHERE status = 'done' AND source_path = ?",
                (source_path,),
            )
        ]
        copies = [r[0] for r in self.db.execute("SELECT source_key FROM copies WHERE source_path = ?",
                                                 (source_path,))]  # fmt: skip
        return rows, copies

    def relative_paths(self) -> set[str]:
        """Source paths recorded relative to some working folder (by versions before absolute paths)."""
        found = self.db.execute(
            "SELECT source_path FROM articles UNION SELECT source_path FROM copies"
        ).fetchall()
        return {p for (p,) in found if p and not Path(p).is_absolute()}

    def absolutize(self, old: str, new: str) -> None:
        """Record the file once known as relative path ``old`` under its absolute path ``new`` (in the
        source paths, and in source keys made of the path, with or without a ``#record`` suffix)."""
        with self.transaction():
            for table in ("articles", "copies"):
                self.db.execute(
                    f"UPDATE {table} SET source_key = ? || substr(source_key, ?) WHERE source_path = ?"
                    " AND (source_key = ? OR substr(source_key, 1, ?) = ?)",
                    (new, len(old) + 1, old, old, len(old) + 1, old + "#"),
                )
                self.db.execute(f"UPDATE {table} SET source_path = ? WHERE source_path = ?", (new, old))
            self._bump()

    def copies_of(self, article_id: str) -> list[dict[str, str | None]]:
        """Other outlets, urls and dates that carried this article."""
        cursor = self.db.execute(
            "SELECT kind, title, outlet, published, url, source_path FROM copies WHERE article_id = ?"
            " ORDER BY published, source_key",
            (article_id,),
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    def copy(self, source_key: str) -> dict[str, str | None] | None:
        """One recorded copy (kind, title, outlet, published, url, source_path), or None."""
        cursor = self.db.execute(
            "SELECT kind, title, outlet, published, url, source_path FROM copies WHERE source_key = ?",
            (source_key,),
        )
        row = cursor.fetchone()
        return dict(zip([d[0] for d in cursor.description], row, strict=True)) if row else None

    def copy_keys_of(self, article_id: str) -> list[str]:
        """The source keys of the copies recorded of one article, oldest date first."""
        return [r[0] for r in self.db.execute(
            "SELECT source_key FROM copies WHERE article_id = ? ORDER BY published, source_key", (article_id,)
        )]  # fmt: skip

    def copy_rows(self) -> list[tuple[str, str, str]]:
        """(source_key, article_id, source_path) of every copy."""
        return list(self.db.execute("SELECT source_key, article_id, source_path FROM copies"))

    # --- writing -------------------------------------------------------------------------------------
    def mark_pending(self, items: Iterable[tuple[Article, int, bytes | None]]) -> None:
        """Record the intent to write these articles' chunks (before writing them)."""
        with self.transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO articles (id, title, outlet, published, url, source_key,"
                " source_path, n_chunks, status, minhash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                [
                    (a.id, a.title, a.outlet, a.published, a.url, a.source_key, a.source_path, n, mh)
                    for a, n, mh in items
                ],
            )

    def mark_done(self, article_ids: list[str], copies: Iterable[Copy] = ()) -> None:
        """Commit articles whose chunks are all written, with the copies found of them."""
        with self.transaction():
            self.db.executemany(
                "UPDATE articles SET status = 'done' WHERE id = ?", [(i,) for i in article_ids]
            )
            self.add_copies(copies)
            self._bump()  # new articles: derived indexes (BM25) must follow

    def add_copies(self, copies: Iterable[Copy]) -> None:
        """Remember other sources of stored articles."""
        self.db.executemany(
            "INSERT OR REPLACE INTO copies (source_key, article_id, kind, title, outlet, published, url,"
            " source_path) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (c.article.source_key, c.article_id, c.kind, c.article.title, c.article.outlet,
                 c.article.published, c.article.url, c.article.source_path)
                for c in copies
            ],
        )  # fmt: skip

    def set_pending(self, article_id: str) -> None:
        """Mark a stored article for removal (its chunks are deleted next; a crash is then recovered)."""
        self.db.execute("UPDATE articles SET status = 'pending' WHERE id = ?", (article_id,))

    def forget(self, article_id: str) -> None:
        """Drop an article's row and the copies recorded of it."""
        with self.transaction():
            self.db.execute("DELETE FROM copies WHERE article_id = ?", (article_id,))
            self.db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
            self._bump()

    def forget_copy(self, source_key: str) -> None:
        """Drop one copy row."""
        self.db.execute("DELETE FROM copies WHERE source_key = ?", (source_key,))

    def promote_copy(self, article_id: str, source_key: str) -> None:
        """Make a copy the article's recorded source (its own source is gone); the chunks' metadata must
        follow (see ``Corpus.promote``)."""
        with self.transaction():
            self.db.execute(
                "UPDATE articles SET source_key = c.source_key, source_path = c.source_path, outlet = c.outlet,"
                " url = c.url, published = COALESCE(c.published, articles.published)"
                " FROM (SELECT * FROM copies WHERE source_key = ?) AS c WHERE articles.id = ?",
                (source_key, article_id),
            )
            self.db.execute("DELETE FROM copies WHERE source_key = ?", (source_key,))
            self._bump()

    def stats(self) -> CatalogStats:
        """Articles, chunks, outlets, date range and folded copies."""
        articles, chunks, first, last = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(n_chunks), 0), MIN(published), MAX(published)"
            " FROM articles WHERE status = 'done'"
        ).fetchone()
        outlets = [
            r[0]
            for r in self.db.execute(
                "SELECT outlet FROM articles WHERE status = 'done' AND outlet IS NOT NULL AND outlet != ''"
                " UNION SELECT outlet FROM copies WHERE outlet IS NOT NULL AND outlet != '' ORDER BY 1"
            )
        ]
        kinds = dict(self.db.execute("SELECT kind, COUNT(*) FROM copies GROUP BY kind").fetchall())
        return CatalogStats(
            articles, chunks, outlets, first, last, kinds.get("exact", 0), kinds.get("near", 0)
        )

    def close(self) -> None:
        """Close the connection."""
        self.db.close()
