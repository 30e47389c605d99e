"""Copy an index's chunks into a Chroma server: ``newsqa migrate --to http://host:port``.

Every chunk (id, embedding, text, metadata) of the current store (the data folder's embedded Chroma unless
``NEWSQA_CHROMA_HOST`` points elsewhere) is upserted into the same-named collection of the target server,
page by page (the embedded store refuses very large single reads: "too many SQL variables"). Upserts make
it idempotent: run it again after an interruption, or after more ingests, and it converges. At the end the
target's ids are compared with the source's. The catalog and the BM25 index stay in the data folder; they
refer to chunks by id, and the ids do not change.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from index.settings import Settings
from index.store import ChunkStore, StoreError

DEFAULT_PAGE = 1000
DEFAULT_PORT = 8000


@dataclass
class MigrationReport:
    """What a migration copied and what the check at the end found."""

    source: str
    host: str
    port: int
    collection: str
    copied: int
    source_count: int
    target_count: int
    missing: int  # source chunk ids the target does not hold
    extra: int  # target chunk ids the source does not hold (e.g. left by an earlier index)
    seconds: float

    @property
    def ok(self) -> bool:
        """True when the target holds exactly the source's chunks."""
        return self.missing == 0 and self.extra == 0 and self.source_count == self.target_count

    def summary(self) -> str:
        """Counts, time and the verification verdict."""
        head = (
            f"copied {self.copied} chunk(s) from {self.source} to the Chroma server at "
            f"{self.host}:{self.port} (collection {self.collection}) in {self.seconds:.1f} s"
        )
        if self.ok:
            return f"{head}\nverified: the server holds the same {self.target_count} chunk ids as the source"
        return (
            f"{head}\nVERIFICATION FAILED: source {self.source_count} chunk(s), server {self.target_count}; "
            f"{self.missing} missing on the server, {self.extra} there that the source does not have"
            + (
                " (the collection already held other chunks: use another --collection, or delete it)"
                if self.extra
                else " (was the index changed during the copy? run the migration again)"
            )
        )


def parse_target(url: str) -> tuple[str, int]:
    """(host, port) of ``http://host:port`` (port 8000 when left out); ``ValueError`` on anything else."""
    parsed = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
    if parsed.scheme != "http":
        raise ValueError(f"expected http://HOST:PORT, got {url!r} (only plain http is supported)")
    if parsed.path not in ("", "/") or parsed.query or parsed.fragment:
        raise ValueError(f"expected http://HOST:PORT without a path, got {url!r}")
    try:
        port = parsed.port or DEFAULT_PORT
    except ValueError as exc:
        raise ValueError(f"bad port in {url!r}") from exc
    if not parsed.hostname:
        raise ValueError(f"no host in {url!r}")
    return parsed.hostname, port


def _pages(store: ChunkStore, include: list[Any], page: int) -> Iterator[dict[str, Any]]:
    """``collection.get`` results of every chunk, ``page`` at a time."""
    offset = 0
    while True:
        got = store.collection.get(include=include, limit=page, offset=offset)
        if not got["ids"]:
            return
        yield got
        offset += len(got["ids"])


def _ids(store: ChunkStore, page: int) -> set[str]:
    return {i for got in _pages(store, [], page) for i in got["ids"]}


def migrate(
    settings: Settings,
    target: str,
    *,
    collection: str | None = None,
    page: int = DEFAULT_PAGE,
    progress: bool = True,
) -> MigrationReport:
    """Upsert every chunk of ``settings``' store into the Chroma server at ``target`` (http://host:port).

    ``collection`` names the target collection (default: the source's, ``NEWSQA_CHROMA_COLLECTION``).
    Raises ``ValueError`` for a bad URL, ``StoreError`` when source and target are the same collection,
    ``StoreUnavailable`` when a server cannot be reached."""
    host, port = parse_target(target)
    name = collection or settings.chroma_collection
    source = ChunkStore(settings)
    if source.host == host and source.port == port and source.collection_name == name:
        raise StoreError(f"the source already is collection {name} on {host}:{port}; nothing to migrate")
    server = ChunkStore(
        settings.model_copy(update={"chroma_host": host, "chroma_port": port, "chroma_collection": name})
    )
    page = max(1, min(page, server.client.get_max_batch_size()))
    start = time.perf_counter()
    total = source.count()
    copied = 0
    with tqdm(total=total, unit="chunk", desc=f"to {host}:{port}", disable=not progress) as bar:
        for got in _pages(source, ["embeddings", "documents", "metadatas"], page):
            server.collection.upsert(
                ids=got["ids"],
                embeddings=got["embeddings"],
                documents=got["documents"],
                metadatas=got["metadatas"],
            )
            copied += len(got["ids"])
            bar.update(len(got["ids"]))
    source_ids, server_ids = _ids(source, page), _ids(server, page)
    return MigrationReport(
        source=source.location,
        host=host,
        port=port,
        collection=name,
        copied=copied,
        source_count=source.count(),
        target_count=server.count(),
        missing=len(source_ids - server_ids),
        extra=len(server_ids - source_ids),
        seconds=time.perf_counter() - start,
    )
