"""The catalog: a small SQLite table of ingested articles, their source, and whether their chunks are
fully written. It is the commit log of ingestion: an article is ``done`` only after all its chunks are in
Chroma, so an interrupted run leaves ``pending`` rows whose chunks the next run removes and rewrites.
"""

from __future__ import annotations

import sqlite3
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
    source TEXT,
    n_chunks INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('pending', 'done')),
    added_at TEXT NOT NULL DEFAULT (datetime('now'))
);
"""


@dataclass
class CatalogStats:
    """Corpus figures for ``newsqa stats``."""

    articles: int
    chunks: int
    outlets: list[str]
    first_date: str | None
    last_date: str | None


class Catalog:
    """SQLite catalog of articles (one connection; each write is its own transaction)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)

    def is_done(self, article_id: str) -> bool:
        """Whether this article's chunks are all stored."""
        row = self.db.execute("SELECT status FROM articles WHERE id = ?", (article_id,)).fetchone()
        return bool(row) and row[0] == "done"

    def pending(self) -> list[str]:
        """Articles whose ingestion was interrupted."""
        return [r[0] for r in self.db.execute("SELECT id FROM articles WHERE status = 'pending'")]

    def mark_pending(self, article: Article, n_chunks: int) -> None:
        """Record the intent to write an article's chunks (before writing them)."""
        self.db.execute(
            "INSERT OR REPLACE INTO articles (id, title, outlet, published, url, source, n_chunks, status)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
            (
                article.id,
                article.title,
                article.outlet,
                article.published,
                article.url,
                article.source,
                n_chunks,
            ),
        )

    def mark_done(self, article_ids: list[str]) -> None:
        """Commit articles whose chunks are all written."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "UPDATE articles SET status = 'done' WHERE id = ?", [(i,) for i in article_ids]
            )

    def forget(self, article_id: str) -> None:
        """Drop an article's row."""
        self.db.execute("DELETE FROM articles WHERE id = ?", (article_id,))

    def stats(self) -> CatalogStats:
        """Articles, chunks, outlets and date range of the finished articles."""
        articles, chunks, first, last = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(n_chunks), 0), MIN(published), MAX(published)"
            " FROM articles WHERE status = 'done'"
        ).fetchone()
        outlets = [
            r[0]
            for r in self.db.execute(
                "SELECT DISTINCT outlet FROM articles WHERE status = 'done' AND outlet IS NOT NULL"
                " AND outlet != '' ORDER BY outlet"
            )
        ]
        return CatalogStats(articles, chunks, outlets, first, last)

    def close(self) -> None:
        """Close the connection."""
        self.db.close()
