"""The lexical (BM25) index beside the dense one: news questions are full of names that exact words find.

``bm25s`` over the same chunk texts as Chroma (title included), persisted in ``<data>/bm25``. It is
rebuilt from the chunk store whenever the catalog's generation moved (after every ingest, replace or
prune, and after a crash between the two), written to a temporary folder and swapped in atomically.
"""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.catalog import Catalog
from index.store import ChunkStore

_FOLDER = "bm25"
_STAMP = "stamp.json"
_CHUNKS = "chunks.json"
_PAGE = 5000


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
    """BM25 over all stored chunks, kept in step with the catalog generation."""

    def __init__(self, data_dir: Path, store: ChunkStore, catalog: Catalog) -> None:
        self.folder = data_dir / _FOLDER
        self.store = store
        self.catalog = catalog
        self._lock = threading.Lock()
        self._loaded_generation: int | None = None
        self._retriever = None
        self._ids: list[str] = []
        self._days = np.zeros(0, dtype=np.int64)
        self._outlets: list[str] = []

    def _stamp(self) -> int | None:
        try:
            return json.loads((self.folder / _STAMP).read_text())["generation"]
        except (OSError, ValueError, KeyError):
            return None

    def rebuild(self) -> None:
        """Build the index from the chunk store and swap it in."""
        import bm25s

        generation = self.catalog.generation()
        ids, documents, metadatas = self.store.all_chunks()
        texts = [f"{m.get('title', '')}\n{d}" for d, m in zip(documents, metadatas, strict=True)]
        tmp = self.folder.with_name(_FOLDER + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
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
        old = self.folder.with_name(_FOLDER + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if self.folder.exists():
            self.folder.rename(old)
        tmp.rename(self.folder)
        shutil.rmtree(old, ignore_errors=True)
        self._loaded_generation = None

    def _ensure(self) -> None:
        generation = self.catalog.generation()
        if self._loaded_generation == generation:
            return
        if self._stamp() != generation:
            self.rebuild()
        import bm25s

        chunks = json.loads((self.folder / _CHUNKS).read_text())
        self._ids, self._outlets = chunks["ids"], chunks["outlets"]
        self._days = np.asarray(chunks["days"], dtype=np.int64)
        self._retriever = bm25s.BM25.load(str(self.folder), show_progress=False) if self._ids else None
        self._loaded_generation = generation

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
