"""Find the passages for a question: dense (Chroma) and lexical (BM25) search fused by reciprocal rank.

Every returned passage carries its cosine similarity to the question (also for chunks only BM25 found),
so the abstention threshold means the same thing whichever retriever found the passage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

import numpy as np
from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters

from index.embed import Embedder
from index.lexical import LexicalIndex
from qa.models import Passage

Mode = Literal["hybrid", "dense", "lexical"]
# Fusion: reciprocal rank with k = 30 over the best 50 of each retriever, a BM25 vote worth half a dense one.
# Tuned on the RealTime QA dev questions (benchmarks/fusion_sweep.py; the 79 questions whose search documents
# hold the answer), recall@5 dense / BM25 / equal-weight k=60 top-20 RRF / this:
#   whole 2,960-article corpus      0.696 / 0.696 / 0.709 / 0.734
#   the 907 dev search documents    0.734 / 0.684 / 0.709 / 0.759
RRF_K = 30
LEXICAL_WEIGHT = 0.5
CANDIDATES = 50
# A time window read from the question ("this week", "in March") is a preference, not a filter: the search
# runs inside the window and over everything up to ``as_of`` (votes worth OPEN_WEIGHT), so an article of that
# time that matches is found by both and comes first. A hard filter hid the answer of 13 of the 79 answerable
# dev questions: quizzes say "this week" of a story reported a month before, "recently" of an old one, "on
# December 7, 1941" of an event the corpus covers in anniversary pieces. benchmarks/time_sweep.py, whole
# corpus, recall@5 / @50 of those 79: hard filter 0.722 / 0.835, open 0.25 or 0.5: 0.747 / 0.861-0.911,
# open 1: 0.772 / 0.924, open 2: 0.772 / 0.924, time words ignored: 0.747 / 0.924.
OPEN_WEIGHT = 1.0


def day_number(value: Any) -> int:
    """An ISO date (or datetime) as the ``YYYYMMDD`` integer stored in chunk metadata."""
    return int(str(value)[:10].replace("-", ""))


def to_filters(filters: dict[str, Any] | MetadataFilters | None) -> MetadataFilters | None:
    """Accept llama-index ``MetadataFilters`` or a plain dict of metadata ``key: value`` (a list = any of).

    ``since`` / ``until`` (ISO dates) become range filters on the article date; ``outlets`` is a list of
    outlet names.
    """
    if filters is None or isinstance(filters, MetadataFilters):
        return filters
    parts: list[MetadataFilter] = []
    for key, value in filters.items():
        if value is None or value == [] or value == "":
            continue
        if key in ("since", "until"):
            op = FilterOperator.GTE if key == "since" else FilterOperator.LTE
            parts.append(MetadataFilter(key="published_day", value=day_number(value), operator=op))
            if key == "until":  # undated articles cannot be placed before a date
                parts.append(MetadataFilter(key="published_day", value=0, operator=FilterOperator.GT))
        else:
            key = "outlet" if key == "outlets" else key
            if isinstance(value, list | tuple | set):
                parts.append(MetadataFilter(key=key, value=list(value), operator=FilterOperator.IN))
            else:
                parts.append(MetadataFilter(key=key, value=value, operator=FilterOperator.EQ))
    return MetadataFilters(filters=parts) if parts else None


def lexical_filters(filters: dict[str, Any] | None) -> dict[str, Any]:
    """A plain filter dict as ``LexicalIndex`` keyword arguments: ``since_day``, ``until_day``, ``outlets``."""
    f = filters or {}
    outlets = f.get("outlets") or f.get("outlet")
    return {
        "since_day": day_number(f["since"]) if f.get("since") else None,
        "until_day": day_number(f["until"]) if f.get("until") else None,
        "outlets": [outlets] if isinstance(outlets, str) else outlets,
    }


@dataclass
class _Candidate:
    id: str
    fused: float = 0.0


class ChunkSource(Protocol):
    """What retrieval needs of a chunk store (``index.store.ChunkStore`` is one)."""

    def search(self, embedding: list[float], k: int, filters: MetadataFilters | None = None) -> list[Any]:
        """The ``k`` nearest chunks (objects with ``id``), best first."""
        ...

    def get_chunks(self, ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any], Any]]:
        """{id: (text, metadata, embedding)} of the stored chunks among ``ids``."""
        ...


class Retriever:
    """Hybrid retrieval over a chunk source and its BM25 index."""

    def __init__(self, embedder: Embedder, store: ChunkSource, lexical: LexicalIndex | None = None) -> None:
        self.embedder = embedder
        self.store = store
        self.lexical = lexical

    def retrieve(
        self,
        question: str,
        top_k: int,
        filters: dict[str, Any] | MetadataFilters | None = None,
        *,
        mode: Mode = "hybrid",
        candidates: int = CANDIDATES,
        boost: tuple[str, str] | None = None,
        boost_weight: float = 1.0,
        window: tuple[str, str] | None = None,
        open_weight: float = OPEN_WEIGHT,
    ) -> list[Passage]:
        """The ``top_k`` best passages for ``question``, best first, numbered from 1.

        ``filters`` are hard: nothing outside them is returned. ``window`` = (since, until) ISO dates, the
        time the question speaks of: the search runs inside it and, with votes worth ``open_weight``,
        without it, so articles of that time come first but an older report can still answer.
        ``boost`` = (since, until): articles published in that span get an extra top-rank vote in the
        fusion, worth ``boost_weight`` dense votes."""
        query_vector = self.embedder.embed_query(question)
        pool = max(candidates, top_k)
        fused: dict[str, _Candidate] = {}
        if window is None:
            self._vote(fused, question, query_vector, pool, filters, mode, 1.0)
        else:
            windowed = dict(filters or {})
            windowed["since"] = max(filter(None, [windowed.get("since"), window[0]]))
            windowed["until"] = min(filter(None, [windowed.get("until"), window[1]]))
            self._vote(fused, question, query_vector, pool, windowed, mode, 1.0)
            if open_weight > 0:
                self._vote(fused, question, query_vector, pool, filters, mode, open_weight)
        if not fused:
            return []
        by_id = self.store.get_chunks(list(fused))
        if boost:
            low, high = day_number(boost[0]), day_number(boost[1])
            for candidate in fused.values():
                day = int(by_id.get(candidate.id, ("", {}, None))[1].get("published_day") or 0)
                if low <= day <= high:
                    candidate.fused += boost_weight / (RRF_K + 1)
        best = sorted(fused.values(), key=lambda c: (-c.fused, c.id))[:top_k]
        query = np.asarray(query_vector, dtype=np.float32)
        passages = []
        for candidate in best:
            if candidate.id not in by_id:
                continue
            doc, meta, emb = by_id[candidate.id]
            passages.append(
                Passage(
                    n=len(passages) + 1,
                    chunk_id=candidate.id,
                    article_id=str(meta.get("article_id", "")),
                    title=str(meta.get("title", "")),
                    outlet=str(meta.get("outlet", "")),
                    date=str(meta.get("published", "")),
                    url=str(meta.get("url", "")),
                    text=doc,
                    score=float(np.dot(query, np.asarray(emb, dtype=np.float32))),
                )
            )
        return passages

    def _vote(
        self,
        fused: dict[str, _Candidate],
        question: str,
        query_vector: list[float],
        pool: int,
        filters: dict[str, Any] | MetadataFilters | None,
        mode: Mode,
        weight: float,
    ) -> None:
        """Add the reciprocal-rank votes of the dense and BM25 searches under ``filters`` to ``fused``."""
        if mode in ("hybrid", "dense"):
            for rank, hit in enumerate(self.store.search(query_vector, pool, to_filters(filters))):
                fused.setdefault(hit.id, _Candidate(hit.id)).fused += weight / (RRF_K + rank + 1)
        if (
            mode in ("hybrid", "lexical")
            and self.lexical is not None
            and not isinstance(filters, MetadataFilters)
        ):
            hits = self.lexical.search(question, pool, **lexical_filters(filters))
            for rank, hit in enumerate(hits):
                fused.setdefault(hit.id, _Candidate(hit.id)).fused += (
                    weight * LEXICAL_WEIGHT / (RRF_K + rank + 1)
                )

    def retrieve_for_choices(
        self,
        question: str,
        choices: list[str],
        top_k: int,
        filters: dict[str, Any] | MetadataFilters | None = None,
        *,
        mode: Mode = "hybrid",
        boost: tuple[str, str] | None = None,
        window: tuple[str, str] | None = None,
    ) -> list[Passage]:
        """Passages for a multiple-choice question: the question alone and the question followed by each
        choice are searched, and the lists fused by reciprocal rank, so the evidence for every option
        can reach the prompt (a question such as "which chain filed for bankruptcy?" names none of them).
        A passage keeps the score it had in the first list that found it."""
        queries = [question, *(f"{question} {choice}" for choice in choices)]
        fused: dict[str, float] = {}
        found: dict[str, Passage] = {}
        for query in queries:
            for rank, passage in enumerate(
                self.retrieve(query, top_k, filters, mode=mode, boost=boost, window=window)
            ):
                fused[passage.chunk_id] = fused.get(passage.chunk_id, 0.0) + 1 / (RRF_K + rank + 1)
                found.setdefault(passage.chunk_id, passage)
        best = sorted(fused, key=lambda cid: (-fused[cid], cid))[:top_k]
        return [replace(found[cid], n=n) for n, cid in enumerate(best, start=1)]
