"""Find the passages for a question: embed it, search the chunk store, number the hits [1]..[k]."""

from __future__ import annotations

from typing import Any

from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from index.embed import Embedder
from index.store import ChunkStore
from qa.models import Passage


def to_filters(filters: dict[str, Any] | MetadataFilters | None) -> MetadataFilters | None:
    """Accept llama-index ``MetadataFilters`` or a plain dict of metadata ``key: value`` (a list = any of).

    ``since`` / ``until`` (ISO dates) become range filters on the article date.
    """
    if filters is None or isinstance(filters, MetadataFilters):
        return filters
    parts: list[MetadataFilter] = []
    for key, value in filters.items():
        if value is None or value == [] or value == "":
            continue
        if key in ("since", "until"):
            day = int(str(value)[:10].replace("-", ""))
            op = FilterOperator.GTE if key == "since" else FilterOperator.LTE
            parts.append(MetadataFilter(key="published_day", value=day, operator=op))
        elif isinstance(value, list | tuple | set):
            parts.append(MetadataFilter(key=key, value=list(value), operator=FilterOperator.IN))
        else:
            parts.append(MetadataFilter(key=key, value=value, operator=FilterOperator.EQ))
    return MetadataFilters(filters=parts) if parts else None


class Retriever:
    """Dense retrieval over the Chroma chunk store."""

    def __init__(self, embedder: Embedder, store: ChunkStore) -> None:
        self.embedder = embedder
        self.store = store

    def retrieve(
        self, question: str, top_k: int, filters: dict[str, Any] | MetadataFilters | None = None
    ) -> list[Passage]:
        """The ``top_k`` best passages for ``question``, best first, numbered from 1."""
        hits = self.store.search(self.embedder.embed_query(question), top_k, to_filters(filters))
        return [
            Passage(
                n=i,
                chunk_id=hit.id,
                article_id=str(hit.metadata.get("article_id", "")),
                title=str(hit.metadata.get("title", "")),
                outlet=str(hit.metadata.get("outlet", "")),
                date=str(hit.metadata.get("published", "")),
                url=str(hit.metadata.get("url", "")),
                text=hit.text,
                score=hit.score,
            )
            for i, hit in enumerate(hits, start=1)
        ]
