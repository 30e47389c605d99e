"""The lexical (BM25) index beside the dense one: news questions are full of names that exact words find.

``bm25s`` over the same chunk texts as Chroma (title included), persisted in ``<data>/bm25``. Each build
goes into a folder of its own (``bm25/g<generation>-<random>``, written under a temporary name first) and
is published by atomically replacing the pointer file ``bm25/current.json``; readers follow the pointer,
so they see the old index or the new one, never a mix. Builds happen only under the data folder's write
lock (see :mod:`index.corpus`): a writer rebuilds before it lets go; a reader that finds the index behind
the catalog (after a crash between the two) rebuilds only if it can take the lock at once, and otherwise
keeps reading the index it has until the writer publishes the next one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.catalog import Catalog
from index.store import ChunkStore

_FOLDER = "bm25"
_POINTER = "current.json"
_STAMP = "stamp.json"
_CHUNKS = "chunks.json"
_KEEP = 2  # builds kept: the current one and the one before (a reader may still be loading it)


def tokenize(texts: list[str]):  # noqa: ANN201 - bm25s.tokenization.Tokenized
    """Lower-cased word tokens without English stop words."""
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", show_progress=False)


@dataclass
class LexicalHit:
    """A chunk found by BM25."""

    id: str
    score: float


class LexicalIndex:
    """BM25 over all stored chunks, kept in step with the catalog generation.

    ``try_lock`` returns a context manager that holds the data folder's write lock, or None when another
    writer holds it (readers then keep the index they have)."""

    def __init__(
        self,
        data_dir: Path,
        store: ChunkStore,
        catalog: Catalog,
        try_lock: Callable[[], AbstractContextManager[None] | None] | None = None,
    ) -> None:
        self.root = data_dir / _FOLDER
        self.store = store
        self.catalog = catalog
        self._try_lock = try_lock or (lambda: contextlib.nullcontext())
        self._lock = threading.Lock()
        self._loaded: tuple[int, str] | None = None  # (generation, folder) in memory
        self._retriever = None
        self._ids: list[str] = []
        self._rows: dict[str, int] = {}  # chunk id -> its row in the arrays below
        self._days = np.zeros(0, dtype=np.int64)
        self._outlets: list[str] = []
        self._outlet_names: frozenset[str] = frozenset()
        self._outlet_names_of: tuple[int, str] | None = None  # the build they were read from

    def _current(self) -> tuple[int, Path] | None:
        """(generation, folder) of the published build, if any."""
        try:
            pointer = json.loads((self.root / _POINTER).read_text())
            folder = self.root / pointer["folder"]
            return int(json.loads((folder / _STAMP).read_text())["generation"]), folder
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @property
    def generation(self) -> int | None:
        """The catalog generation the published build reflects (None: no build yet)."""
        current = self._current()
        return None if current is None else current[0]

    def rebuild(self) -> None:
        """Build the index from the chunk store and publish it. Call with the write lock held."""
        import bm25s

        generation = self.catalog.generation()
        ids, documents, metadatas = self.store.all_chunks()
        texts = [f"{m.get('title', '')}\n{d}" for d, m in zip(documents, metadatas, strict=True)]
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=self.root))
        try:
            if ids:
                retriever = bm25s.BM25()
                retriever.index(tokenize(texts), show_progress=False)
                retriever.save(str(tmp), show_progress=False)
            chunks = {
                "ids": ids,
                "days": [int(m.get("published_day") or 0) for m in metadatas],
                "outlets": [str(m.get("outlet") or "") for m in metadatas],
            }
            (tmp / _CHUNKS).write_text(json.dumps(chunks))
            (tmp / _STAMP).write_text(json.dumps({"generation": generation, "chunks": len(ids)}))
            name = f"g{generation}-{uuid.uuid4().hex[:8]}"
            tmp.rename(self.root / name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        pointer = self.root / f".{_POINTER}.{uuid.uuid4().hex[:8]}"
        pointer.write_text(json.dumps({"folder": name}))
        os.replace(pointer, self.root / _POINTER)  # the switch: atomic
        self._prune_builds(keep=name)

    def _prune_builds(self, keep: str) -> None:
        """Remove old builds (all but the newest ``_KEEP``), leftovers of interrupted builds, and the
        files of the single-folder layout of earlier versions."""
        builds = sorted(
            (p for p in self.root.iterdir() if p.is_dir() and p.name.startswith("g")),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        old = [p for p in builds[_KEEP:] if p.name != keep]
        old += [p for p in self.root.iterdir() if p.name.startswith(".build-") or p.is_file()]
        for path in old:
            if path.name == _POINTER:
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def _ensure(self) -> None:
        generation = self.catalog.generation()
        if self._loaded is not None and self._loaded[0] == generation:
            return
        current = self._current()
        if current is None or current[0] != generation:
            lock = self._try_lock()
            if lock is not None:  # nobody is writing: bring the index up to date now
                with lock:
                    current = self._current()
                    if current is None or current[0] != self.catalog.generation():
                        self.rebuild()
                        current = self._current()
        if current is None:  # never built, and a writer is at work: BM25 finds nothing for now
            self._ids, self._outlets, self._retriever = [], [], None
            self._rows = {}
            self._days = np.zeros(0, dtype=np.int64)
            self._loaded = None
            return
        if self._loaded is not None and self._loaded[1] == current[1].name:
            return
        self._load(*current)

    def _load(self, generation: int, folder: Path) -> None:
        import bm25s

        for attempt in range(3):  # a build may be removed between reading the pointer and loading it
            try:
                chunks = json.loads((folder / _CHUNKS).read_text())
                retriever = bm25s.BM25.load(str(folder), show_progress=False) if chunks["ids"] else None
                break
            except (OSError, ValueError):
                current = self._current()
                if attempt == 2 or current is None:
                    raise
                generation, folder = current
        self._ids, self._outlets = chunks["ids"], chunks["outlets"]
        self._rows = {chunk_id: row for row, chunk_id in enumerate(self._ids)}
        self._days = np.asarray(chunks["days"], dtype=np.int64)
        self._retriever = retriever
        self._loaded = (generation, folder.name)

    def _mask(self, since_day: int | None, until_day: int | None, outlets: list[str] | None) -> np.ndarray:
        """Which chunks pass the date / outlet filters (an undated chunk fails any ``until``)."""
        mask = np.ones(len(self._ids), dtype=bool)
        if since_day:
            mask &= self._days >= since_day
        if until_day:
            mask &= (self._days <= until_day) & (self._days > 0)
        if outlets:
            wanted = set(outlets)
            mask &= np.fromiter((o in wanted for o in self._outlets), dtype=bool, count=len(self._outlets))
        return mask

    def passing(
        self, ids: list[str], since_day: int | None = None, until_day: int | None = None,
        outlets: list[str] | None = None,
    ) -> list[bool] | None:  # fmt: skip
        """Which of ``ids`` pass the date / outlet filters, read from this index's own arrays (no store
        query); None when any id is unknown to it (a write it has not caught up with yet)."""
        with self._lock:
            self._ensure()
            rows = [self._rows.get(chunk_id) for chunk_id in ids]
            if any(row is None for row in rows):
                return None
            mask = self._mask(since_day, until_day, outlets)
            return [bool(mask[row]) for row in rows]

    def allowed_ids(
        self, limit: int, since_day: int | None = None, until_day: int | None = None,
        outlets: list[str] | None = None,
    ) -> list[str] | None:  # fmt: skip
        """The ids of every chunk passing the filters, or None when more than ``limit`` do."""
        with self._lock:
            self._ensure()
            rows = np.flatnonzero(self._mask(since_day, until_day, outlets))
            return None if len(rows) > limit else [self._ids[int(r)] for r in rows]

    def outlet_names(self) -> frozenset[str]:
        """Every outlet of an indexed chunk (the names a question may use for one, see ``qa.outlets``)."""
        with self._lock:
            self._ensure()
            if self._outlet_names_of != self._loaded:
                self._outlet_names = frozenset(o for o in self._outlets if o)
                self._outlet_names_of = self._loaded
            return self._outlet_names

    def newest_day(
        self, since_day: int | None = None, until_day: int | None = None, outlets: list[str] | None = None
    ) -> int | None:
        """The latest article date (``YYYYMMDD``) among chunks passing the filters; None if none is dated."""
        with self._lock:
            self._ensure()
            days = self._days[self._mask(since_day, until_day, outlets)]
            return int(days.max()) if days.size and days.max() > 0 else None

    def search(
        self, query: str, k: int, since_day: int | None = None, until_day: int | None = None,
        outlets: list[str] | None = None,
    ) -> list[LexicalHit]:  # fmt: skip
        """The ``k`` best BM25 chunks for ``query`` among those passing the date / outlet filters."""
        with self._lock:
            self._ensure()
            if self._retriever is None:
                return []
            mask = self._mask(since_day, until_day, outlets)
            allowed = int(mask.sum())
            tokens = tokenize([query])
            if allowed == 0 or not tokens.ids or not tokens.ids[0]:
                return []
            docs, scores = self._retriever.retrieve(
                tokens,
                k=min(k, allowed),
                show_progress=False,
                weight_mask=mask.astype(np.float32),
                n_threads=1,
            )
            return [
                LexicalHit(self._ids[int(d)], float(s))
                for d, s in zip(docs[0], scores[0], strict=True)
                if s > 0 and mask[int(d)]
            ]
