"""Saved conversations and answer feedback, per user, in one SQLite file of the data folder
(``conversations.sqlite3``).

A conversation is a list of exchanges, each stored as the JSON the chat page rebuilds it from (question,
answer text, Sources panel, …), so a reopened conversation shows its sources again. Feedback is one
rating (``up`` / ``down``) and an optional note per answer, stored with the question, the answer (the
``/v1/ask`` JSON, passages included) and the options and settings it was made with, for evaluation
(``newsqa feedback export``). Every read and write names its user: nothing of one user's is visible to
another. Written with SQLite's WAL journal, so two processes (a chat and an export) can share the file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

FILE_NAME = "conversations.sqlite3"
TITLE_CHARS = 60
Rating = Literal["up", "down"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    title TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_by_user ON conversations (user, updated);
CREATE TABLE IF NOT EXISTS exchanges (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    turn INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (conversation_id, turn)
);
CREATE TABLE IF NOT EXISTS feedback (
    user TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    turn INTEGER NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    note TEXT NOT NULL DEFAULT '',
    record TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (user, conversation_id, turn)
);
"""


class ConversationNotFound(KeyError):
    """No conversation with that id belongs to that user."""


@dataclass
class ConversationInfo:
    """One line of a user's conversation list."""

    id: str
    title: str
    created: str
    updated: str
    turns: int

    def label(self) -> str:
        """``title · 2026-12-06 21:30`` for the sidebar."""
        return f"{self.title} · {self.updated[:16].replace('T', ' ')}"


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def title_of(question: str) -> str:
    """A conversation's title: its first question, cut at a word near ``TITLE_CHARS``."""
    text = " ".join(question.split())
    if len(text) <= TITLE_CHARS:
        return text or "(untitled)"
    cut = text[:TITLE_CHARS].rsplit(" ", 1)[0]
    return f"{cut}…"


class ConversationStore:
    """Conversations and feedback of every user of one data folder."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    @classmethod
    def in_folder(cls, data_dir: Path) -> ConversationStore:
        """The store of a data folder."""
        return cls(Path(data_dir) / FILE_NAME)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction, taken before reading so that two writers never interleave."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def save(self, user: str, conversation_id: str | None, exchanges: list[dict[str, Any]]) -> str:
        """Store a user's conversation as it is now (all its exchanges); a new one when ``conversation_id``
        is None. Returns its id. Saving another user's conversation id raises ``ConversationNotFound``."""
        if not exchanges:
            raise ValueError("an empty conversation is not saved")
        stamp = now()
        with self._write() as db:
            if conversation_id is None:
                conversation_id = uuid.uuid4().hex
                title = title_of(str(exchanges[0].get("question", "")))
                db.execute(
                    "INSERT INTO conversations VALUES (?, ?, ?, ?, ?)",
                    (conversation_id, user, title, stamp, stamp),
                )
            else:
                self._owned(db, user, conversation_id)
                db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (stamp, conversation_id))
                db.execute("DELETE FROM exchanges WHERE conversation_id = ?", (conversation_id,))
            db.executemany(
                "INSERT INTO exchanges VALUES (?, ?, ?)",
                [(conversation_id, turn, json.dumps(data)) for turn, data in enumerate(exchanges)],
            )
        return conversation_id

    @staticmethod
    def _owned(db: sqlite3.Connection, user: str, conversation_id: str) -> None:
        row = db.execute("SELECT user FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        if row is None or row[0] != user:
            raise ConversationNotFound(conversation_id)

    def conversations(self, user: str) -> list[ConversationInfo]:
        """The user's conversations, most recently updated first."""
        rows = self.db.execute(
            "SELECT c.id, c.title, c.created, c.updated, COUNT(e.turn) FROM conversations c "
            "LEFT JOIN exchanges e ON e.conversation_id = c.id WHERE c.user = ? "
            "GROUP BY c.id ORDER BY c.updated DESC, c.created DESC",
            (user,),
        ).fetchall()
        return [ConversationInfo(*row) for row in rows]

    def load(self, user: str, conversation_id: str) -> list[dict[str, Any]]:
        """The exchanges of one of the user's conversations, in order."""
        self._owned(self.db, user, conversation_id)
        rows = self.db.execute(
            "SELECT data FROM exchanges WHERE conversation_id = ? ORDER BY turn", (conversation_id,)
        ).fetchall()
        return [json.loads(data) for (data,) in rows]

    def delete(self, user: str, conversation_id: str) -> None:
        """Forget one of the user's conversations (its feedback stays, for evaluation)."""
        with self._write() as db:
            self._owned(db, user, conversation_id)
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def rate(
        self, user: str, conversation_id: str, turn: int, rating: Rating | None, record: dict[str, Any]
    ) -> None:
        """Record (or change) the user's rating of one answer, with what it was made from (``record``: the
        question, the answer, its options and settings); ``rating=None`` withdraws it."""
        stamp = now()
        with self._write() as db:
            self._owned(db, user, conversation_id)
            if rating is None:
                db.execute(
                    "DELETE FROM feedback WHERE user = ? AND conversation_id = ? AND turn = ?",
                    (user, conversation_id, turn),
                )
                return
            if rating not in ("up", "down"):
                raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
            db.execute(
                "INSERT INTO feedback (user, conversation_id, turn, rating, record, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user, conversation_id, turn) DO UPDATE SET "
                "rating = excluded.rating, record = excluded.record, updated = excluded.updated",
                (user, conversation_id, turn, rating, json.dumps(record), stamp, stamp),
            )

    def annotate(self, user: str, conversation_id: str, turn: int, note: str) -> bool:
        """Attach a note to the user's rating of one answer; False when that answer is not rated."""
        with self._write() as db:
            changed = db.execute(
                "UPDATE feedback SET note = ?, updated = ? WHERE user = ? AND conversation_id = ? AND turn = ?",
                (note.strip(), now(), user, conversation_id, turn),
            ).rowcount
        return bool(changed)

    def feedback(self, user: str | None = None, rating: Rating | None = None) -> Iterator[dict[str, Any]]:
        """Every rating (of ``user`` / of one ``rating`` only, when given), oldest first, as export rows."""
        query = "SELECT user, conversation_id, turn, rating, note, record, created, updated FROM feedback"
        where, args = [], []
        if user is not None:
            where.append("user = ?")
            args.append(user)
        if rating is not None:
            where.append("rating = ?")
            args.append(rating)
        if where:
            query += " WHERE " + " AND ".join(where)
        rows = self.db.execute(query + " ORDER BY created, user, conversation_id, turn", args).fetchall()
        for user_, conversation_id, turn, rating_, note, record, created, updated in rows:
            yield {
                "user": user_,
                "conversation_id": conversation_id,
                "turn": turn,
                "rating": rating_,
                "note": note,
                "created": created,
                "updated": updated,
                **json.loads(record),
            }

    def close(self) -> None:
        """Close the database connection."""
        self.db.close()
