"""The chunk store: a Chroma collection (embedded ``PersistentClient``) behind llama-index's ChromaVectorStore.

Chroma is only ever given ready embeddings, never bare text (it would fetch its own model otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import chromadb
from chromadb.config import Settings as ChromaSettings
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import MetadataFilters, VectorStoreQuery
from llama_index.vector_stores.chroma import ChromaVectorStore

from index.models import Article, Chunk
from index.settings import Settings

COLLECTION = "newsqa"


def article_metadata(article: Article) -> dict[str, Any]:
    """Per-article metadata stored with every chunk (Chroma wants scalars, so None becomes "" or 0)."""
    published = article.published or ""
    return {
        "article_id": article.id,
        "title": article.title,
        "outlet": article.outlet or "",
        "published": published,
        "published_day": int(published.replace("-", "")) if published else 0,
        "url": article.url or "",
        "source": article.source_path,
    }


@dataclass
class StoredChunk:
    """A chunk as it comes back from a search, with its cosine similarity to the query."""

    id: str
    text: str
    metadata: dict[str, Any]
    score: float


class ChunkStore:
    """Add, delete and search chunks in one Chroma collection (cosine space)."""

    def __init__(self, settings: Settings) -> None:
        settings.chroma_dir.mkdir(parents=True, exist_ok=True)
        self.client = chromadb.PersistentClient(
            path=str(settings.chroma_dir),
            settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False),
        )
        self.collection = self.client.get_or_create_collection(
            COLLECTION, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        self.vector_store = ChromaVectorStore(chroma_collection=self.collection)

    def add_many(
        self, items: Sequence[tuple[Article, Sequence[Chunk]]], embeddings: Sequence[Sequence[float]]
    ) -> None:
        """Write several articles' chunks with their embeddings in one call (ids are deterministic, so
        re-adding overwrites). ``embeddings`` follow the chunks in order."""
        nodes = []
        vectors = iter(embeddings)
        for article, chunks in items:
            base = article_metadata(article)
            for chunk in chunks:
                nodes.append(
                    TextNode(
                        id_=chunk.id,
                        text=chunk.text,
                        embedding=[float(x) for x in next(vectors)],
                        metadata={**base, "chunk_index": chunk.index},
                    )
                )
        if nodes:
            self.vector_store.add(nodes)

    def add(self, article: Article, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None:
        """Write one article's chunks."""
        self.add_many([(article, chunks)], embeddings)

    def delete_article(self, article_id: str) -> None:
        """Remove every chunk of one article."""
        self.collection.delete(where={"article_id": article_id})

    def all_chunks(self, page: int = 5000) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        """(ids, texts, metadatas) of every chunk, read in pages (Chroma refuses very large single reads)."""
        ids: list[str] = []
        texts: list[str] = []
        metadatas: list[dict[str, Any]] = []
        for offset in range(0, self.count(), page):
            got = self.collection.get(include=["documents", "metadatas"], limit=page, offset=offset)
            ids += got["ids"]
            texts += got["documents"]
            metadatas += got["metadatas"]
        return ids, texts, metadatas

    def count(self) -> int:
        """Number of chunks stored."""
        return self.collection.count()

    def search(
        self, embedding: list[float], k: int, filters: MetadataFilters | None = None
    ) -> list[StoredChunk]:
        """The ``k`` chunks nearest to ``embedding``, best first, with cosine similarity scores."""
        if self.count() == 0:
            return []
        result = self.vector_store.query(
            VectorStoreQuery(query_embedding=embedding, similarity_top_k=k, filters=filters)
        )
        found = []
        for node, similarity in zip(result.nodes or [], result.similarities or [], strict=True):
            # ChromaVectorStore reports exp(-distance); in cosine space distance = 1 - cosine.
            cosine = 1.0 + math.log(similarity) if similarity > 0 else -1.0
            metadata = {k: v for k, v in node.metadata.items() if not k.startswith("_")}
            found.append(
                StoredChunk(id=node.node_id, text=node.get_content(), metadata=metadata, score=cosine)
            )
        return found
