"""The chunk store: a Chroma collection behind llama-index's ChromaVectorStore.

Embedded by default (a ``PersistentClient`` in ``<data>/chroma``); with ``NEWSQA_CHROMA_HOST`` set, a Chroma
server (``chromadb.HttpClient``) holds the chunks instead, while the SQLite catalog and the BM25 index stay
in the data folder. Chroma is only ever given ready embeddings, never bare text (it would fetch its own
model otherwise). A server that cannot be reached raises ``StoreUnavailable`` naming host:port and the
problem; the same store object works again as soon as the server is back.
"""

from __future__ import annotations

import functools
import logging
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import chromadb
import httpx
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import AuthorizationError, ChromaAuthError, InternalError
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import MetadataFilters
from llama_index.vector_stores.chroma import ChromaVectorStore
from llama_index.vector_stores.chroma.base import _to_chroma_filter

from index.models import Article, Chunk
from index.settings import Settings

COLLECTION = "newsqa"  # the default of NEWSQA_CHROMA_COLLECTION
SPACE = "cosine"
STALE_RETRIES = 3  # reopenings of an embedded store a query may need while another process commits
log = logging.getLogger(__name__)


class StoreError(RuntimeError):
    """The chunk store cannot be used as configured."""


class StoreUnavailable(StoreError):
    """The Chroma server could not be reached, or went away in the middle of an operation."""


class StoreAccessDenied(StoreError):
    """The Chroma server (or the proxy in front of it) refused newsqa's token."""


def _denied(exc: BaseException) -> bool:
    """Whether a client error is the server saying no to our credentials (HTTP 401 / 403)."""
    if isinstance(exc, AuthorizationError | ChromaAuthError):
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in (401, 403)
    return False


def server_error(host: str, port: int, exc: BaseException) -> StoreError | None:
    """The one-line ``StoreError`` for a failed call to the Chroma server at host:port, or None when the
    failure is not about reaching the server or being let in (then it is raised as it is)."""
    if _denied(exc):
        return denied(host, port, exc)
    if isinstance(exc, httpx.TransportError):  # refused, reset, closed mid-answer, timed out
        return unavailable(host, port, exc)
    return None


def denied(host: str, port: int, problem: BaseException) -> StoreAccessDenied:
    """The error for a Chroma server that refused the token, in one line, with what to check."""
    return StoreAccessDenied(
        f"the Chroma server at {host}:{port} refused access ({type(problem).__name__}: {problem}). "
        "Check NEWSQA_CHROMA_TOKEN (sent as 'Authorization: Bearer <token>')."
    )


def unavailable(host: str, port: int, problem: BaseException | str) -> StoreUnavailable:
    """The error for a Chroma server at host:port that failed with ``problem``, with what to check."""
    if isinstance(problem, BaseException):
        cause = problem.__cause__ or problem.__context__
        if not isinstance(problem, httpx.TransportError) and isinstance(cause, httpx.TransportError):
            problem = cause  # chromadb's "Could not connect ..." hides the reason
        detail = f"{type(problem).__name__}: {problem}" if str(problem) else type(problem).__name__
    else:
        detail = problem
    return StoreUnavailable(
        f"the Chroma server at {host}:{port} is unavailable ({detail}). Check that it is running and "
        f"reachable (e.g. `chroma run --path <folder> --host {host} --port {port}`), or unset "
        "NEWSQA_CHROMA_HOST to use the embedded store."
    )


def server_client(
    host: str, port: int, *, token: str | None = None, ssl: bool = False, ca_file: str | None = None
) -> ClientAPI:
    """An HTTP(S) client of the Chroma server at host:port (telemetry off), sending ``token`` as a bearer
    token; ``StoreUnavailable`` if it does not answer as a Chroma server, ``StoreAccessDenied`` if it
    refuses the token."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    chroma = ChromaSettings(anonymized_telemetry=False, chroma_server_ssl_verify=ca_file)
    try:
        with warnings.catch_warnings():  # chromadb hands httpx the CA file as a path, which httpx deprecates
            warnings.filterwarnings("ignore", message=".*verify=<str>.*", category=DeprecationWarning)
            return chromadb.HttpClient(host=host, port=port, ssl=ssl, headers=headers, settings=chroma)
    except Exception as exc:
        error = server_error(host, port, exc)
        if error is None and isinstance(exc, ValueError):  # chromadb reports a refused connection so
            error = unavailable(host, port, exc)
        if error is None:
            raise
        raise error from exc


def open_collection(client: ClientAPI, name: str, where: str) -> Collection:
    """Get or create the cosine-space collection ``name`` without an embedding function (we embed).

    ``where`` names the store in the error raised when an existing collection uses another distance."""
    collection = client.get_or_create_collection(
        name, metadata={"hnsw:space": SPACE}, embedding_function=None
    )
    config = collection.configuration or {}
    spaces = {(config.get(kind) or {}).get("space") for kind in ("hnsw", "spann")} - {None}
    spaces |= {(collection.metadata or {}).get("hnsw:space")} - {None}
    if spaces and SPACE not in spaces:
        raise StoreError(
            f"collection {name!r} in {where} uses distance {', '.join(sorted(map(str, spaces)))}, not "
            f"{SPACE}; newsqa's scores need cosine. Use another NEWSQA_CHROMA_COLLECTION."
        )
    return collection


class GuardedCollection:
    """A Chroma collection whose calls turn lost connections into ``StoreUnavailable`` (server mode)."""

    def __init__(self, collection: Collection, host: str, port: int) -> None:
        self._collection = collection
        self._host = host
        self._port = port

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._collection, name)
        if not callable(value):
            return value

        @functools.wraps(value)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return value(*args, **kwargs)
            except Exception as exc:
                error = server_error(self._host, self._port, exc)
                if error is None:
                    raise
                raise error from exc

        return call


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


_EPOCHS: dict[str, int] = {}  # embedded store folder -> times this process reopened it (see ``reopen``)
_EPOCHS_LOCK = threading.Lock()


def _reopen_embedded(folder: str) -> None:
    """Drop this process's cached Chroma system for ``folder``, so every store object of the folder opens
    it again on next use. An embedded Chroma keeps its vector index in memory and does not see vectors
    another process added since it was opened (``count`` and ``get`` do, ``query`` does not); a system
    opened again catches up from the store's log. The old system is left to threads still using it."""
    from chromadb.api.shared_system_client import SharedSystemClient

    with _EPOCHS_LOCK:
        SharedSystemClient._identifier_to_system.pop(folder, None)  # noqa: SLF001 - no public way
        _EPOCHS[folder] = _EPOCHS.get(folder, 0) + 1


def _names_deleted(got: Any) -> bool:
    """Whether a query's result names chunks whose documents are gone (deleted by another process since
    this one opened the store); only results that asked for documents can tell."""
    return any(doc is None for docs in got.get("documents") or [] for doc in docs)


class ChunkStore:
    """Add, delete and search chunks in one Chroma collection (cosine space)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.host = settings.chroma_host or None
        self.port = settings.chroma_port
        self.collection_name = settings.chroma_collection
        self._lock = threading.Lock()
        self._client: ClientAPI | None = None
        self._collection: Any = None
        self._vector_store: ChromaVectorStore | None = None
        self._epoch = 0
        if self.host is None:  # embedded: open now; a server is reached on first use (and again later)
            self._connect()

    @property
    def location(self) -> str:
        """Where the chunks live, for people: the server's host:port or the embedded store's folder."""
        if self.host is not None:
            scheme = "https" if self.settings.chroma_ssl else "http"
            return f"Chroma server {scheme}://{self.host}:{self.port}, collection {self.collection_name}"
        return f"embedded Chroma in {self.settings.chroma_dir}, collection {self.collection_name}"

    @property
    def _folder(self) -> str:
        return str(self.settings.chroma_dir)

    def reopen(self) -> None:
        """Open the embedded store again (it then sees what other processes wrote); nothing in server
        mode, where the server is the one copy."""
        if self.host is None:
            _reopen_embedded(self._folder)

    def _stale(self) -> bool:
        return self.host is None and self._epoch != _EPOCHS.get(self._folder, 0)

    def _connect(self) -> None:
        with self._lock:
            if self._collection is not None and not self._stale():
                return
            if self.host is None:
                self._epoch = _EPOCHS.get(self._folder, 0)
                self.settings.chroma_dir.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(
                    path=str(self.settings.chroma_dir),
                    settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False),
                )
                collection: Any = open_collection(client, self.collection_name, str(self.settings.chroma_dir))
            else:
                token = self.settings.chroma_token
                client = server_client(
                    self.host,
                    self.port,
                    token=token.get_secret_value() if token else None,
                    ssl=self.settings.chroma_ssl,
                    ca_file=str(self.settings.chroma_ca_file) if self.settings.chroma_ca_file else None,
                )
                where = f"the Chroma server at {self.host}:{self.port}"
                try:
                    raw = open_collection(client, self.collection_name, where)
                except Exception as exc:  # went away, or refused us, between the heartbeat and now
                    error = server_error(self.host, self.port, exc)
                    if error is None:
                        raise
                    raise error from exc
                collection = GuardedCollection(raw, self.host, self.port)
            self._client = client
            self._vector_store = ChromaVectorStore(chroma_collection=collection)
            self._collection = collection

    @property
    def client(self) -> ClientAPI:
        """The Chroma client (connected on first use in server mode)."""
        if self._client is None or self._stale():
            self._connect()
        assert self._client is not None
        return self._client

    @property
    def collection(self) -> Any:
        """The chromadb ``Collection`` (in server mode wrapped so that lost connections raise
        ``StoreUnavailable``); connected on first use in server mode."""
        if self._collection is None or self._stale():
            self._connect()
        return self._collection

    @property
    def vector_store(self) -> ChromaVectorStore:
        """llama-index's view of the same collection."""
        if self._vector_store is None or self._stale():
            self._connect()
        assert self._vector_store is not None
        return self._vector_store

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

    def get_chunks(self, ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any], Any]]:
        """{id: (text, metadata, embedding)} of the stored chunks among ``ids`` (missing ids are left out)."""
        if not ids:
            return {}
        got = self._read("get", ids=list(ids), include=["documents", "metadatas", "embeddings"])
        return {
            i: (doc, meta, emb)
            for i, doc, meta, emb in zip(
                got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True
            )
        }

    def get_embeddings(self, ids: Sequence[str]) -> dict[str, Any]:
        """{id: embedding} of the stored chunks among ``ids`` (a third of the time of ``get_chunks``)."""
        if not ids:
            return {}
        got = self._read("get", ids=list(ids), include=["embeddings"])
        return dict(zip(got["ids"], got["embeddings"], strict=True))

    def update_article_metadata(self, article_id: str, fields: dict[str, Any]) -> int:
        """Set ``fields`` in the metadata of every chunk of one article; returns how many chunks."""
        got = self.collection.get(where={"article_id": article_id}, include=["metadatas"])
        if got["ids"]:
            self.collection.update(ids=got["ids"], metadatas=[{**m, **fields} for m in got["metadatas"]])
        return len(got["ids"])

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

    def _read(self, method: str, **kwargs: Any) -> Any:
        """``collection.query`` or ``collection.get``, caught up with other processes' writes if they land
        under it. An embedded store's vector index is this process's in-memory copy while its metadata is
        the shared SQLite file: after a commit by another process since this one last opened the store
        (say, after the question's ``Corpus.sync``), a filtered query or a read of embeddings asks the copy
        for ids it has not seen and Chroma fails with "Error finding id"; a query can also name chunks
        deleted since (their documents come back as None). Open the store again and retry."""
        for attempt in range(STALE_RETRIES + 1):
            final = self.host is not None or attempt == STALE_RETRIES  # a server has nothing to reopen
            try:
                got = getattr(self.collection, method)(**kwargs)
            except InternalError as exc:
                if final or "finding id" not in str(exc):
                    raise
            else:
                if final or not (method == "query" and _names_deleted(got)):
                    return got
            log.info("the embedded store in %s moved under a read; opening it again", self._folder)
            self.reopen()
        raise AssertionError("unreachable")

    def count(self) -> int:
        """Number of chunks stored."""
        return self.collection.count()

    def nearest(self, embedding: list[float], n: int) -> list[tuple[str, float]]:
        """(id, cosine) of the ``n`` chunks nearest to ``embedding``, unfiltered: one HNSW query without a
        metadata filter and without documents takes milliseconds where a filtered one takes 80-200 ms
        (38,562 chunks, 2026-12-05), so callers filter these themselves when they can."""
        got = self._read("query", query_embeddings=[embedding], n_results=n, include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(got["ids"][0], got["distances"][0], strict=True)]

    def search(
        self, embedding: list[float], k: int, filters: MetadataFilters | None = None
    ) -> list[StoredChunk]:
        """The ``k`` chunks nearest to ``embedding``, best first, with cosine similarity scores.

        One Chroma query (filters translated by llama-index's Chroma integration); metadata is read from
        Chroma's own fields, which ``update_article_metadata`` keeps current (the node copy that llama-index
        also stores is not updated), and without parsing that copy for every hit."""
        where = _to_chroma_filter(filters) if filters is not None and filters.filters else None
        got = self._read(
            "query",
            query_embeddings=[embedding],
            n_results=k,
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        return [
            StoredChunk(
                id=chunk_id,
                text=text or "",
                metadata={key: v for key, v in (meta or {}).items() if not key.startswith("_")},
                score=1.0 - float(distance),  # cosine space: distance = 1 - cosine
            )
            for chunk_id, text, meta, distance in zip(
                got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0], strict=True
            )
            if text is not None  # deleted by another process under the query (see ``_read``)
        ]
