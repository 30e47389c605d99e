"""Ingestion: files → articles → chunks → embeddings → Chroma, recorded in the catalog.

Crash safety: an article is marked ``pending`` in the catalog before its chunks are written and ``done``
after; chunk ids are deterministic. A run that was killed leaves pending rows, and the next run first
deletes their chunks, so it ends in exactly the state a clean run gives.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from index.catalog import Catalog
from index.chunk import Chunker
from index.embed import Embedder, make_embedder
from index.load import find_files, load_files
from index.models import Article, Chunk
from index.settings import Settings
from index.store import ChunkStore

_WRITE_BATCH_CHUNKS = 512  # chunks embedded and written per step (and per catalog commit)


@dataclass
class IngestReport:
    """What one ingest run did, per file."""

    added: list[Article] = field(default_factory=list)
    unchanged: list[Article] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (path, message)
    chunks_added: int = 0
    recovered: int = 0  # interrupted articles cleaned up from an earlier run

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.failed

    def summary(self) -> str:
        """A human summary: counts, then the reason for each failed file."""
        lines = [
            f"added {len(self.added)} article(s) ({self.chunks_added} chunks), "
            f"unchanged {len(self.unchanged)}, failed {len(self.failed)}"
        ]
        if self.recovered:
            lines.append(f"cleaned up {self.recovered} article(s) left half-written by an interrupted run")
        lines += [f"  warning: {path}: {message}" for path, message in self.warnings]
        lines += [f"  failed: {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)


class Ingestor:
    """Owns the embedder, the chunk store and the catalog for one data folder."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        store: ChunkStore | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder or make_embedder(settings)
        self.store = store or ChunkStore(settings)
        self.catalog = catalog or Catalog(settings.catalog_path)
        self._chunker: Chunker | None = None

    @property
    def chunker(self) -> Chunker:
        """Chunker sized with the embedding model's own tokenizer."""
        if self._chunker is None:
            tokenizer = self.embedder.tokenizer
            self._chunker = Chunker(
                lambda text: tokenizer.encode(text, add_special_tokens=False),
                chunk_tokens=self.settings.chunk_tokens,
                overlap=self.settings.chunk_overlap,
            )
        return self._chunker

    def recover(self) -> int:
        """Remove the chunks of articles an interrupted run left pending; returns how many."""
        pending = self.catalog.pending()
        for article_id in pending:
            self.store.delete_article(article_id)
            self.catalog.forget(article_id)
        return len(pending)

    def ingest(self, paths: Iterable[str | Path], *, progress: bool = True) -> IngestReport:
        """Ingest files and folders; bad files are reported and skipped, good ones are stored."""
        report = IngestReport(recovered=self.recover())
        found = find_files(paths)
        report.failed += [(str(p), "no such file or folder") for p in found.missing]
        report.failed += [
            (str(p), f"unsupported file type '{p.suffix or '(none)'}' (supported: .txt, .md)")
            for p in found.unsupported
        ]
        new: dict[str, Article] = {}
        for result in tqdm(
            load_files(found.files),
            total=len(found.files),
            desc="reading",
            unit="file",
            disable=not progress or not found.files,
        ):
            report.warnings += [(str(result.path), w) for w in result.warnings]
            if result.error:
                report.failed.append((str(result.path), result.error))
                continue
            for article in result.articles:
                if article.id in new or self.catalog.is_done(article.id):
                    report.unchanged.append(article)
                else:
                    new[article.id] = article
        self._write(list(new.values()), report, progress=progress)
        return report

    def _write(self, articles: list[Article], report: IngestReport, *, progress: bool) -> None:
        """Chunk, embed and store articles, a batch of whole articles at a time."""
        chunked = [(article, self.chunker.chunks(article)) for article in articles]
        total = sum(len(chunks) for _, chunks in chunked)
        bar = tqdm(total=total, desc="embedding", unit="chunk", disable=not progress or not total)
        batch: list[tuple[Article, list[Chunk]]] = []
        size = 0
        for article, chunks in chunked:
            batch.append((article, chunks))
            size += len(chunks)
            if size >= _WRITE_BATCH_CHUNKS:
                self._write_batch(batch, report, bar)
                batch, size = [], 0
        if batch:
            self._write_batch(batch, report, bar)
        bar.close()

    def _write_batch(self, batch: list[tuple[Article, list[Chunk]]], report: IngestReport, bar: tqdm) -> None:
        texts = [chunk.embed_text for _, chunks in batch for chunk in chunks]
        vectors = self.embedder.embed(texts)
        for article, chunks in batch:
            self.catalog.mark_pending(article, len(chunks))
        offset = 0
        for article, chunks in batch:
            self.store.add(article, chunks, vectors[offset : offset + len(chunks)])
            offset += len(chunks)
        self.catalog.mark_done([article.id for article, _ in batch])
        for article, chunks in batch:
            report.added.append(article)
            report.chunks_added += len(chunks)
        bar.update(len(texts))
