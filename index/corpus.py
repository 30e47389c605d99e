"""The one owner of a data folder's corpus: the catalog (SQLite), the chunk store (Chroma) and the BM25
index. Every write (add, replace, delete, prune, promote) goes through a :class:`Corpus`, under one
inter-process lock in the data folder (``<data>/write.lock``), so two processes (or two threads, say the
chat's Library tab and a CLI ingest) never interleave their writes. Before it lets go of the lock, a writer
rebuilds the BM25 index, which is published atomically (see :mod:`index.lexical`).

Readers in other processes: an embedded Chroma store keeps its vector index in memory and does not see
vectors another process added after it was opened, so :meth:`Corpus.sync` (called before each question)
reopens it when the catalog's generation moved without this process writing. A Chroma server needs none
of this: it is one copy for every process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from index.catalog import Catalog, CatalogRow
from index.lexical import LexicalIndex
from index.models import Article
from index.settings import Settings
from index.store import ChunkStore, StoreError, article_metadata

LOCK_FILE = "write.lock"
OWNER_FILE = "writer.json"

log = logging.getLogger(__name__)

_LOCKS: dict[str, FileLock] = {}
_SEEN: dict[str, int] = {}  # data folder -> the catalog generation this process's embedded store reflects
_WRITING: dict[str, int] = {}  # data folder -> threads of this process holding its write lock
_STATE = threading.Lock()


class IndexBusy(StoreError):
    """Another process (or thread) kept the data folder's write lock for longer than we would wait."""


def write_lock(data_dir: Path) -> FileLock:
    """The data folder's write lock: one object per folder in a process; re-entrant within a thread,
    exclusive between threads and between processes."""
    key = str(Path(data_dir).resolve())
    with _STATE:
        if key not in _LOCKS:
            Path(key).mkdir(parents=True, exist_ok=True)
            _LOCKS[key] = FileLock(Path(key) / LOCK_FILE, thread_local=True)
        return _LOCKS[key]


def _owner(data_dir: Path) -> str:
    try:
        return f"process {json.loads((data_dir / OWNER_FILE).read_text())['pid']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


class Corpus:
    """Catalog, chunk store and BM25 index of one data folder, with the only write path into them."""

    def __init__(
        self, settings: Settings, store: ChunkStore | None = None, catalog: Catalog | None = None
    ) -> None:
        self.settings = settings
        self.catalog = catalog or Catalog(settings.catalog_path)
        self._key = str(settings.data_dir.resolve())
        with _STATE:  # read before the store opens: the store then reflects at least this generation
            _SEEN.setdefault(self._key, self.catalog.generation())
        self.store = store or ChunkStore(settings)
        self.lexical = LexicalIndex(settings.data_dir, self.store, self.catalog, self._try_lock)

    # --- locking -------------------------------------------------------------------------------------
    @property
    def _lock(self) -> FileLock:
        return write_lock(self.settings.data_dir)

    def _try_lock(self) -> contextlib.AbstractContextManager[None] | None:
        """The write lock if it can be had at once (a no-op if this thread holds it), else None."""
        lock = self._lock
        if lock.is_locked:
            return contextlib.nullcontext()
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return None
        stack = contextlib.ExitStack()
        stack.callback(lock.release)
        return stack

    def _acquire(self, lock: FileLock) -> None:
        try:
            lock.acquire(timeout=0)
            return
        except Timeout:
            pass
        wait = self.settings.write_wait
        log.warning("waiting up to %.0f s for %s writing to %s", wait, _owner(self.settings.data_dir),
                    self.settings.data_dir)  # fmt: skip
        try:
            lock.acquire(timeout=wait)
        except Timeout as exc:
            raise IndexBusy(
                f"{_owner(self.settings.data_dir)} is still writing to {self.settings.data_dir} after "
                f"{wait:.0f} s; try again when it has finished (or raise NEWSQA_WRITE_WAIT)"
            ) from exc

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the write lock (re-entrant). The outermost holder first catches up with what other
        processes wrote, and rebuilds the BM25 index before it lets go if anything changed."""
        lock = self._lock
        outer = not lock.is_locked
        self._acquire(lock)
        try:
            if not outer:
                yield
                return
            with _STATE:
                _WRITING[self._key] = _WRITING.get(self._key, 0) + 1
            (self.settings.data_dir / OWNER_FILE).write_text(json.dumps({"pid": os.getpid()}))
            self._catch_up()
            start = self.catalog.generation()
            try:
                yield
            finally:
                now = self.catalog.generation()
                if now != start or self.lexical.generation != now:
                    self.lexical.rebuild()
                with _STATE:
                    _SEEN[self._key] = now
                    _WRITING[self._key] -= 1
        finally:
            lock.release()

    def _catch_up(self) -> None:
        """Reopen the embedded store if the catalog moved since this process's store last reflected it."""
        if self.store.host is not None:
            return
        generation = self.catalog.generation()
        with _STATE:
            if _SEEN.get(self._key) == generation:
                return
            _SEEN[self._key] = generation
            self.store.reopen()

    def sync(self) -> None:
        """For readers, before a question: see what other processes wrote since (a no-op while this
        process is writing, or with a Chroma server)."""
        with _STATE:
            if _WRITING.get(self._key):
                return
        self._catch_up()

    # --- writes --------------------------------------------------------------------------------------
    def remove(self, article_id: str) -> None:
        """Remove one article's chunks, catalog row and copies; crash-safe (marked pending first)."""
        with self.writing():
            self.catalog.set_pending(article_id)  # a crash from here on is recovered by the next run
            self.store.delete_article(article_id)
            self.catalog.forget(article_id)

    def recover(self) -> int:
        """Remove the chunks of articles an interrupted run left pending; returns how many."""
        with self.writing():
            pending = self.catalog.pending()
            for article_id in pending:
                self.remove(article_id)
            return len(pending)

    def delete(self, article_id: str) -> bool:
        """Remove one stored article (as ``remove``); False when no such article is stored."""
        with self.writing():
            if self.catalog.source_key_of(article_id) is None:
                return False
            self.remove(article_id)
            return True

    def promote(self, article_id: str, source_key: str) -> None:
        """Make a recorded copy the article's source: the chunks' metadata in the store first (outlet,
        url, date, file), then the catalog, so a crash in between is repaired by doing it again."""
        with self.writing():
            copy = self.catalog.copy(source_key)
            row = self.catalog.row(article_id)
            if copy is None or row is None:
                return
            published = copy["published"] or row.published or ""
            fields = article_metadata_fields(copy["outlet"], published, copy["url"], copy["source_path"])
            self.store.update_article_metadata(article_id, fields)
            self.catalog.promote_copy(article_id, source_key)

    def retire(self, row: CatalogRow) -> bool:
        """An article's recorded source no longer holds it: another copy takes over, or it is removed.
        Returns True when it was removed."""
        with self.writing():
            keys = self.catalog.copy_keys_of(row.id)
            if keys:
                self.promote(row.id, keys[0])
                return False
            self.remove(row.id)
            return True

    def prune(self) -> tuple[list[str], int]:
        """Remove articles (and copies) whose source files no longer exist. A source recorded as a
        relative path (by older versions) cannot be checked and is kept. Returns (removed article ids,
        sources that could not be checked)."""
        removed: list[str] = []
        unchecked = 0
        with self.writing():
            for source_key, _, source_path in self.catalog.copy_rows():
                if not Path(source_path).is_absolute():
                    unchecked += 1
                elif not Path(source_path).exists():
                    self.catalog.forget_copy(source_key)
            for row in self.catalog.rows():
                if not Path(row.source_path).is_absolute():
                    unchecked += 1
                elif not Path(row.source_path).exists() and self.retire(row):
                    removed.append(row.id)
        return removed, unchecked

    def reconcile(self, source_path: str, keys: Iterable[str]) -> list[str]:
        """Make the index hold exactly the records of one file as just read (``keys``: their source
        keys): stored articles and copies recorded from it that it no longer holds are retired. Returns
        the ids of articles removed."""
        seen = set(keys)
        removed = []
        with self.writing():
            rows, copies = self.catalog.keys_from(source_path)
            for key in copies:
                if key not in seen:
                    self.catalog.forget_copy(key)
            for row in rows:
                if row.source_key not in seen and self.retire(row):
                    removed.append(row.id)
        return removed


def article_metadata_fields(outlet: str | None, published: str, url: str | None, source: str) -> dict:
    """The per-article chunk metadata that follows an article's recorded source."""
    probe = Article(title="", body="", published=published or None, outlet=outlet, url=url, source=source)
    meta = article_metadata(probe)
    return {k: meta[k] for k in ("outlet", "published", "published_day", "url", "source")}
