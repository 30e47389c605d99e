"""Find the passages for a question: dense (Chroma) and lexical (BM25) search fused by reciprocal rank.

Every returned passage carries its cosine similarity to the question (also for chunks only BM25 found),
so the abstention threshold means the same thing whichever retriever found the passage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import numpy as np
from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters

from index.embed import Embedder
from index.lexical import LexicalIndex
from index.settings import Settings
from qa.models import Passage

Mode = Literal["hybrid", "dense", "lexical"]
# Fusion (settings rrf_k, candidates, lexical_weight): reciprocal rank with k = 30 over the best 50 of each
# retriever, a BM25 vote worth half a dense one. Tuned on the RealTime QA dev questions
# (benchmarks/fusion_sweep.py; the 79 questions whose search documents hold the answer), recall@5
# dense / BM25 / equal-weight k=60 top-20 RRF / this:
#   whole 2,960-article corpus      0.696 / 0.696 / 0.709 / 0.734
#   the 907 dev search documents    0.734 / 0.684 / 0.709 / 0.759
# A time window read from the question ("this week", "in March") is a preference, not a filter: the search
# runs inside the window and over everything up to ``as_of`` (votes worth open_weight), so an article of that
# time that matches is found by both and comes first. A hard filter hid the answer of 13 of the 79 answerable
# dev questions: quizzes say "this week" of a story reported a month before, "recently" of an old one, "on
# December 7, 1941" of an event the corpus covers in anniversary pieces. benchmarks/time_sweep.py, whole
# corpus, recall@5 / @50 of those 79: hard filter 0.722 / 0.835, open 0.25 or 0.5: 0.747 / 0.861-0.911,
# open 1: 0.772 / 0.924, open 2: 0.772 / 0.924, time words ignored: 0.747 / 0.924.


def day_number(value: Any) -> int:
    """An ISO date (or datetime) as the ``YYYYMMDD`` integer stored in chunk metadata."""
    return int(str(value)[:10].replace("-", ""))


FILTER_KEYS = frozenset({"since", "until", "outlet", "outlets"})


def check_filters(filters: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The one filter type: a plain dict with ``since`` / ``until`` (ISO dates) and ``outlet`` or
    ``outlets`` (a name or a list of names), which every search path honours (dense, BM25, time window).

    Anything else is refused with an error naming it, rather than honoured by one search and ignored by
    another (llama-index ``MetadataFilters`` used to turn BM25 and the time window off silently)."""
    if filters is None:
        return None
    if not isinstance(filters, Mapping):
        raise TypeError(
            f"filters must be a dict with keys since, until and outlets, not {type(filters).__name__}"
        )
    unknown = sorted(set(filters) - FILTER_KEYS)
    if unknown:
        raise ValueError(f"unknown filter {unknown[0]!r}: filters take since, until and outlets")
    return dict(filters)


def to_filters(filters: dict[str, Any] | None) -> MetadataFilters | None:
    """The plain filter dict as llama-index ``MetadataFilters`` for the vector store: ``since`` / ``until``
    become range filters on the article date, ``outlet(s)`` a match on any of the names."""
    if filters is None:
        return None
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
class Candidate:
    """A chunk found by the first stage, with what each search said of it (the reranker's raw material)."""

    id: str
    fused: float = 0.0  # reciprocal-rank fusion score
    dense_rank: int | None = None  # best rank in a dense list (0 = first), None if no dense search found it
    lexical_rank: int | None = None  # the same for BM25
    lexical_score: float = 0.0  # best BM25 score
    in_window: bool = False  # found by a search inside the question's time window
    text: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    cosine: float = 0.0  # cosine similarity of the chunk's embedding to the question's
    score: float = 0.0  # the final ordering score (``fused`` unless a reranker set it)

    def passage(self, n: int) -> Passage:
        """This candidate as the ``n``-th prompt passage."""
        meta = self.metadata
        return Passage(
            n=n,
            chunk_id=self.id,
            article_id=str(meta.get("article_id", "")),
            title=str(meta.get("title", "")),
            outlet=str(meta.get("outlet", "")),
            date=str(meta.get("published", "")),
            url=str(meta.get("url", "")),
            text=self.text,
            score=self.cosine,
        )


class Reranker(Protocol):
    """A second stage: reorders the fused candidates of one question (best first). ``window`` is the time the
    question speaks of, (since, until) ISO dates; since is "" when only the question's ``as_of`` is known."""

    def rerank(
        self, question: str, candidates: list[Candidate], window: tuple[str, str] | None
    ) -> list[Candidate]:
        """The candidates, best first (``Candidate.score`` set)."""
        ...


DENSE_OVERFETCH = 1000  # unfiltered nearest chunks read before falling back to a filtered store search


@dataclass
class _Nearest:
    """A dense hit known by id and cosine only (text and metadata are read later, for the survivors)."""

    id: str
    score: float
    text: str = ""
    metadata: dict[str, Any] | None = None


class ChunkSource(Protocol):
    """What retrieval needs of a chunk store (``index.store.ChunkStore`` is one)."""

    def search(self, embedding: list[float], k: int, filters: MetadataFilters | None = None) -> list[Any]:
        """The ``k`` nearest chunks (objects with ``id``), best first."""
        ...

    def get_chunks(self, ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any], Any]]:
        """{id: (text, metadata, embedding)} of the stored chunks among ``ids``."""
        ...

    def get_embeddings(self, ids: Sequence[str]) -> dict[str, Any]:
        """{id: embedding} of the stored chunks among ``ids``."""
        ...

    def nearest(self, embedding: list[float], n: int) -> list[tuple[str, float]]:
        """(id, cosine) of the ``n`` nearest chunks, unfiltered (fast: no metadata scan)."""
        ...


class Retriever:
    """Hybrid retrieval over a chunk source and its BM25 index. The fusion knobs (``rrf_k``,
    ``lexical_weight``, ``candidates``, ``open_weight``) come from ``settings`` (default: the environment)."""

    def __init__(
        self,
        embedder: Embedder,
        store: ChunkSource,
        lexical: LexicalIndex | None = None,
        reranker: Reranker | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.embedder = embedder
        self.store = store
        self.lexical = lexical
        self.reranker = reranker
        self.settings = settings or Settings()

    def retrieve(
        self,
        question: str,
        top_k: int,
        filters: dict[str, Any] | None = None,
        *,
        mode: Mode = "hybrid",
        candidates: int | None = None,
        boost: tuple[str, str] | None = None,
        boost_weight: float = 1.0,
        window: tuple[str, str] | None = None,
        open_weight: float | None = None,
    ) -> list[Passage]:
        """The ``top_k`` best passages for ``question``, best first, numbered from 1.

        ``filters`` are hard: nothing outside them is returned. ``window`` = (since, until) ISO dates, the
        time the question speaks of: the search runs inside it and, with votes worth ``open_weight``,
        without it, so articles of that time come first but an older report can still answer.
        ``boost`` = (since, until): articles published in that span get an extra top-rank vote in the
        fusion, worth ``boost_weight`` dense votes. ``candidates`` and ``open_weight`` default to the
        settings'."""
        candidates = self.settings.candidates if candidates is None else candidates
        pool = self.pool(
            question, max(candidates, top_k), filters, mode=mode, boost=boost, boost_weight=boost_weight,
            window=window, open_weight=open_weight,
        )  # fmt: skip
        if self.reranker is not None and pool:
            until = filters.get("until") if filters else None
            pool = self.reranker.rerank(question, pool, window or (("", str(until)) if until else None))
        return [candidate.passage(n) for n, candidate in enumerate(pool[:top_k], start=1)]

    def pool(
        self,
        question: str,
        size: int | None = None,
        filters: dict[str, Any] | None = None,
        *,
        mode: Mode = "hybrid",
        boost: tuple[str, str] | None = None,
        boost_weight: float = 1.0,
        window: tuple[str, str] | None = None,
        open_weight: float | None = None,
    ) -> list[Candidate]:
        """The fused first-stage candidates (at most ``size``, default the settings' ``candidates``), best
        first, with their text, metadata and cosine similarity (see ``retrieve`` for the arguments)."""
        filters = check_filters(filters)
        size = self.settings.candidates if size is None else size
        open_weight = self.settings.open_weight if open_weight is None else open_weight
        rrf_k = self.settings.rrf_k
        query_vector = self.embedder.embed_query(question)
        fused: dict[str, Candidate] = {}
        if window is None:
            self._vote(fused, question, query_vector, size, filters, mode, 1.0)
        else:
            windowed = dict(filters or {})
            windowed["since"] = max(filter(None, [windowed.get("since"), window[0]]))
            windowed["until"] = min(filter(None, [windowed.get("until"), window[1]]))
            self._vote(fused, question, query_vector, size, windowed, mode, 1.0, in_window=True)
            if open_weight > 0:
                self._vote(fused, question, query_vector, size, filters, mode, open_weight)
        if not fused:
            return []
        if boost:  # the boost needs every candidate's date
            self._fill(list(fused.values()), query_vector)
            low, high = day_number(boost[0]), day_number(boost[1])
            for candidate in fused.values():
                if low <= int(candidate.metadata.get("published_day") or 0) <= high:
                    candidate.fused += boost_weight / (rrf_k + 1)
        ranked = sorted(fused.values(), key=lambda c: (-c.fused, c.id))
        self._fill(ranked[: size + 10], query_vector)  # read only what can be returned (and a margin)
        best = [c for c in ranked if c.metadata][:size]
        if len(best) < size:  # chunks deleted meanwhile: read further down
            self._fill(ranked, query_vector)
            best = [c for c in ranked if c.metadata][:size]
        for candidate in best:
            candidate.score = candidate.fused
        return best

    def _fill(self, candidates: list[Candidate], query_vector: list[float]) -> None:
        """Text, metadata and cosine of the candidates that have none yet (one read of the store); a chunk
        deleted meanwhile keeps no metadata and is left out."""
        missing = {c.id: c for c in candidates if not c.metadata}
        if not missing:
            return
        query = np.asarray(query_vector, dtype=np.float32)
        for chunk_id, (text, metadata, embedding) in self.store.get_chunks(list(missing)).items():
            candidate = missing[chunk_id]
            candidate.text, candidate.metadata = text, metadata
            candidate.cosine = float(np.dot(query, np.asarray(embedding, dtype=np.float32)))

    def _vote(
        self,
        fused: dict[str, Candidate],
        question: str,
        query_vector: list[float],
        pool: int,
        filters: dict[str, Any] | None,
        mode: Mode,
        weight: float,
        *,
        in_window: bool = False,
    ) -> None:
        """Add the reciprocal-rank votes of the dense and BM25 searches under ``filters`` to ``fused``."""
        rrf_k, lexical_weight = self.settings.rrf_k, self.settings.lexical_weight
        if mode in ("hybrid", "dense"):
            for rank, hit in enumerate(self._dense(query_vector, pool, filters)):
                candidate = fused.setdefault(hit.id, Candidate(hit.id))
                candidate.fused += weight / (rrf_k + rank + 1)
                if not candidate.metadata and hit.metadata:  # a store search brings text and metadata
                    candidate.text, candidate.metadata, candidate.cosine = hit.text, hit.metadata, hit.score
                candidate.dense_rank = min(
                    rank, candidate.dense_rank if candidate.dense_rank is not None else rank
                )
                candidate.in_window |= in_window
        if mode in ("hybrid", "lexical") and self.lexical is not None:
            hits = self.lexical.search(question, pool, **lexical_filters(filters))
            for rank, hit in enumerate(hits):
                candidate = fused.setdefault(hit.id, Candidate(hit.id))
                candidate.fused += weight * lexical_weight / (rrf_k + rank + 1)
                best = candidate.lexical_rank
                candidate.lexical_rank = rank if best is None else min(rank, best)
                candidate.lexical_score = max(candidate.lexical_score, float(hit.score))
                candidate.in_window |= in_window

    def _dense(self, query_vector: list[float], k: int, filters: dict[str, Any] | None) -> list[Any]:
        """The ``k`` nearest chunks passing ``filters``, best first (objects with ``id``, ``score`` and,
        from a filtered store search, ``text`` and ``metadata``).

        A filtered Chroma query is slow (it scans the metadata), so when the filters are dates and outlets
        the nearest ``DENSE_OVERFETCH`` chunks (then five times as many) are fetched unfiltered and filtered
        with the BM25 index's arrays; only when fewer than ``k`` pass (a narrow window, a rare outlet) does
        the store filter."""
        if self.lexical is None:
            return self.store.search(query_vector, k, to_filters(filters))
        for n in (max(k, DENSE_OVERFETCH), max(k, 5 * DENSE_OVERFETCH)):
            found = self.store.nearest(query_vector, n)
            ids = [chunk_id for chunk_id, _ in found]
            passing = self.lexical.passing(ids, **lexical_filters(filters)) if filters else [True] * len(ids)
            if passing is None:  # BM25 has not caught up with a write yet: let the store filter
                return self.store.search(query_vector, k, to_filters(filters))
            if sum(passing) >= k or len(found) < n:
                return [_Nearest(i, cos) for (i, cos), ok in zip(found, passing, strict=True) if ok][:k]
        few = self.lexical.allowed_ids(DENSE_OVERFETCH, **lexical_filters(filters))
        if few is not None:  # a narrow window: score its few chunks exactly
            return self._exact(query_vector, k, few)
        return self.store.search(query_vector, k, to_filters(filters))

    def _exact(self, query_vector: list[float], k: int, ids: list[str]) -> list[_Nearest]:
        """The ``k`` of ``ids`` nearest to the query, by exact cosine over their stored embeddings."""
        embeddings = self.store.get_embeddings(ids)
        if not embeddings:
            return []
        matrix = np.asarray(list(embeddings.values()), dtype=np.float32)
        cosines = matrix @ np.asarray(query_vector, dtype=np.float32)
        scored = [_Nearest(i, float(c)) for i, c in zip(embeddings, cosines, strict=True)]
        return sorted(scored, key=lambda hit: (-hit.score, hit.id))[:k]

    def retrieve_for_choices(
        self,
        question: str,
        choices: list[str],
        top_k: int,
        filters: dict[str, Any] | None = None,
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
                fused[passage.chunk_id] = fused.get(passage.chunk_id, 0.0) + 1 / (
                    self.settings.rrf_k + rank + 1
                )
                found.setdefault(passage.chunk_id, passage)
        best = sorted(fused, key=lambda cid: (-fused[cid], cid))[:top_k]
        return [replace(found[cid], n=n) for n, cid in enumerate(best, start=1)]

    def retrieve_covering(
        self,
        question: str,
        mentions: Sequence[Any],
        top_k: int,
        filters: dict[str, Any] | None = None,
        *,
        whole: Literal["stripped", "question"] = "stripped",
        merge: Literal["heads", "main"] = "heads",
        **options: Any,
    ) -> list[Passage]:
        """Passages for a question that names outlets (``qa.outlets.OutletMention``s): each named outlet's
        best passages, found by a search limited to that outlet, are placed among the ``top_k`` along with
        the best of the whole corpus, so "as reported by both The Verge and TechCrunch" reads both.

        The whole corpus and each named outlet (once, however often it is named) are searched with the
        question, its outlet names cut out (benchmarks/multihop_sweep.py, docs/evaluation.md). ``whole``
        and ``merge`` choose the other ways the sweep measured."""
        from qa.outlets import find_outlets, named_outlets, without_outlets

        # found again in ``question``: the mentions' positions are the asked question's, and the search
        # text may have lost its time words
        found = find_outlets(question, {o for m in mentions for o in m.outlets})
        stripped = without_outlets(question, found) or question
        main = self.retrieve(stripped if whole == "stripped" else question, top_k, filters, **options)
        lists = [
            self.retrieve(stripped, top_k, dict(filters or {}) | {"outlet": list(group)}, **options)
            for group in named_outlets(list(mentions))  # each outlet once
        ]
        return _merge_covering(main, lists, top_k, merge)


def _merge_covering(main: list[Passage], lists: list[list[Passage]], top_k: int, how: str) -> list[Passage]:
    """The ``top_k`` passages: the best of each outlet's list first (``heads``), then the whole corpus's
    order, then the rest of the outlets' lists in turn; no chunk twice."""
    order: list[Passage] = []
    seen: set[str] = set()

    def add(passage: Passage) -> None:
        if passage.chunk_id not in seen:
            seen.add(passage.chunk_id)
            order.append(passage)

    if how == "heads":
        for listed in lists:
            if listed:
                add(listed[0])
        for passage in main:
            add(passage)
    else:  # "main": the whole corpus's order, each outlet's best brought into the top k
        heads = [listed[0] for listed in lists if listed]
        top = {p.chunk_id for p in main[:top_k]}
        missing = [h for h in heads if h.chunk_id not in top]
        for passage in main[: max(0, top_k - len(missing))]:
            add(passage)
        for passage in missing + main:
            add(passage)
    for depth in range(top_k):
        for listed in lists:
            if depth < len(listed):
                add(listed[depth])
    return [replace(p, n=n) for n, p in enumerate(order[:top_k], start=1)]
