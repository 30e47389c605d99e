"""newsqa question answering: ``qa.ask(question)`` for a cited ``Answer``, ``qa.stream`` to watch it come,
``qa.timeline_of(story)`` for a story's articles by day; ``qa.as_retriever()`` and ``qa.as_query_engine()``
for llama-index (a retriever of newsqa's passages, a query engine of its cited answers; see qa/llamaindex.py).

Options (all keyword): ``top_k``, ``filters`` (a dict with ``since``, ``until``, ``outlets``; the same as the
keywords below, which add to it), ``history`` (earlier
(question, answer) pairs), ``as_of`` (default today), ``since`` / ``until`` (each a date, datetime or ISO
string; a malformed one raises ``ValueError`` naming it), ``outlets``,
``style`` ("normal" or "short"), ``mode`` ("hybrid", "dense" or "lexical" retrieval), ``sources_first``
(``stream`` only: a ``Reading`` of the passages before the first text piece).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qa.answer import Engine
    from qa.llamaindex import NewsQueryEngine, NewsRetriever
    from qa.models import Answer, Reading
    from qa.timeline import Timeline

_engine: Engine | None = None
_engine_lock = threading.Lock()


def default_engine() -> Engine:
    """The process's engine for the settings in the environment, created on first use."""
    global _engine
    with _engine_lock:
        if _engine is None:
            from index.settings import use_offline_environment

            use_offline_environment()  # before qa.answer brings in the store's libraries
            from qa.answer import Engine

            _engine = Engine()
        return _engine


def ask(question: str, **options: Any) -> Answer:
    """Answer ``question`` from the indexed articles, with numbered citations (or an honest abstention)."""
    return default_engine().ask(question, **options)


def stream(question: str, **options: Any) -> Iterator[str | Reading | Answer]:
    """Yield the answer's text pieces as they are written, then the finished ``Answer`` (with
    ``sources_first=True``, first a ``Reading``: the passages the model is about to read)."""
    return default_engine().stream(question, **options)


def timeline_of(story: str, **options: Any) -> Timeline:
    """The articles about ``story`` by day, oldest first, copies folded (options: ``since``, ``until``,
    ``outlets``, ``as_of``, ``limit``, ``summarize``; see ``qa.timeline.build_timeline``)."""
    from qa.timeline import build_timeline

    return build_timeline(default_engine(), story, **options)


def as_retriever(**options: Any) -> NewsRetriever:
    """A llama-index retriever of newsqa's reranked passages as ``NodeWithScore``s (options: ``top_k``,
    ``filters``, ``since``, ``until``, ``outlets``, ``as_of``, ``mode``; see ``qa.llamaindex.NewsRetriever``)."""
    engine = default_engine()  # first: it readies the offline environment before the store's libraries load
    from qa.llamaindex import NewsRetriever

    return NewsRetriever(engine, **options)


def as_query_engine(**options: Any) -> NewsQueryEngine:
    """A llama-index query engine answering as ``ask`` does (the same options): its ``Response`` has the
    shown passages as ``source_nodes`` and ``metadata["citations"]`` / ``["answer"]`` / ``["abstained"]``."""
    engine = default_engine()  # first: it readies the offline environment before the store's libraries load
    from qa.llamaindex import NewsQueryEngine

    return NewsQueryEngine(engine, **options)


__all__ = ["ask", "stream", "timeline_of", "as_retriever", "as_query_engine", "default_engine"]
