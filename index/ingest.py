"""Ingestion: files → articles → (exact / near-duplicate check) → chunks → embeddings → Chroma + catalog.

- Incremental: an article whose normalized text is stored already is skipped; one whose url or path is
  stored with other text replaces it; ``prune`` removes articles whose source files are gone.
- Duplicates: exact copies and near-duplicates (MinHash/LSH) are stored once; every other outlet, url and
  date that carried the story is remembered in the catalog.
- Crash safety: an article is marked ``pending`` in the catalog before its chunks are written and
  ``done`` after, in one transaction with its copies; chunk ids are deterministic; an article being
  replaced or pruned is marked ``pending`` before its chunks are deleted. A run killed at any moment leaves
  only pending rows, whose chunks the next run deletes first, so it converges to the clean-run state.
- Speed: a reader thread parses and chunks files while the main thread embeds (the model's forward pass
  releases the GIL); chunks are embedded and written to Chroma in batches of whole articles.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from index.catalog import Catalog, Copy
from index.chunk import Chunker
from index.dedupe import NearDuplicateIndex, from_bytes, signature, to_bytes
from index.embed import Embedder, make_embedder
from index.lexical import LexicalIndex
from index.load import LoadResult, find_files, load_files
from index.models import Article, Chunk
from index.settings import Settings
from index.store import ChunkStore

_READ_AHEAD = 64  # files parsed ahead of the embedder


@dataclass
class IngestReport:
    """What one ingest run did, per file."""

    added: list[Article] = field(default_factory=list)
    unchanged: list[Article] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # ids of articles whose text changed
    folded: list[Copy] = field(default_factory=list)  # exact / near-duplicate copies stored once
    pruned: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (path, message)
    chunks_added: int = 0
    recovered: int = 0  # interrupted articles cleaned up from an earlier run

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.failed

    def summary(self) -> str:
        """A human summary: counts, then the warnings and the reason for each failed file."""
        near = sum(c.kind == "near" for c in self.folded)
        lines = [
            f"added {len(self.added)} article(s) ({self.chunks_added} chunks), "
            f"unchanged {len(self.unchanged)}, replaced {len(self.replaced)}, "
            f"folded {len(self.folded)} duplicate(s) ({near} near), failed {len(self.failed)}"
        ]
        if self.pruned:
            lines.append(f"pruned {len(self.pruned)} article(s) whose source files are gone")
        if self.recovered:
            lines.append(f"cleaned up {self.recovered} article(s) left half-written by an interrupted run")
        lines += [f"  warning: {path}: {message}" for path, message in self.warnings]
        lines += [f"  failed: {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)


@dataclass
class _Parsed:
    """An article read by the reader thread, with its signature and (if it may be new) its chunks."""

    article: Article
    signature_bytes: bytes
    chunks: list[Chunk] | None


EMBED_BACKEND_KEY = "embed_backend"  # catalog meta: the backend the stored vectors came from


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
        self.catalog = catalog or Catalog(settings.catalog_path)
        self.embedder = embedder or make_embedder(settings, self.catalog.get_meta(EMBED_BACKEND_KEY))
        self.store = store or ChunkStore(settings)
        self._chunker: Chunker | None = None

    @property
    def chunker(self) -> Chunker:
        """Chunker sized with the embedding model's own tokenizer."""
        if self._chunker is None:
            tokenizer = self.embedder.tokenizer
            self._chunker = Chunker(
                lambda text: tokenizer.encode(text, add_special_tokens=False, verbose=False),
                chunk_tokens=self.settings.chunk_tokens,
                overlap=self.settings.chunk_overlap,
            )
        return self._chunker

    def recover(self) -> int:
        """Remove the chunks of articles an interrupted run left pending; returns how many."""
        pending = self.catalog.pending()
        for article_id in pending:
            self._remove(article_id)
        return len(pending)

    def _remove(self, article_id: str) -> None:
        self.catalog.set_pending(article_id)  # a crash from here on is recovered by the next run
        self.store.delete_article(article_id)
        self.catalog.forget(article_id)

    def delete(self, article_id: str) -> bool:
        """Remove one stored article: its chunks, its catalog row and the copies recorded of it, as
        ``prune`` does (crash-safe: marked pending first); the BM25 index is rebuilt to match. Returns
        False when no such article is stored."""
        if self.catalog.source_key_of(article_id) is None:
            return False
        generation = self.catalog.generation()
        try:
            self._remove(article_id)
        finally:
            if self.catalog.generation() != generation:  # keep the BM25 index in step, as ingest does
                LexicalIndex(self.settings.data_dir, self.store, self.catalog).rebuild()
        return True

    def prune(self) -> list[str]:
        """Remove articles (and copies) whose source files no longer exist; returns removed article ids."""
        removed = []
        for source_key, _, source_path in self.catalog.copy_rows():
            if not Path(source_path).exists():
                self.catalog.forget_copy(source_key)
        for row in self.catalog.rows():
            if Path(row.source_path).exists():
                continue
            surviving = self.catalog.copies_of(row.id)
            if surviving:  # another file still carries the story: it becomes the recorded source
                keys = [k for k, a, _ in self.catalog.copy_rows() if a == row.id]
                self.catalog.promote_copy(row.id, keys[0])
            else:
                self._remove(row.id)
                removed.append(row.id)
        return removed

    # --- the pipeline --------------------------------------------------------------------------------
    def ingest(
        self,
        paths: Iterable[str | Path],
        *,
        progress: bool = True,
        field_map: dict[str, str] | None = None,
        prune: bool = False,
    ) -> IngestReport:
        """Ingest files and folders; bad files are reported and skipped, good ones are stored."""
        generation = self.catalog.generation()
        try:
            return self._ingest(paths, progress=progress, field_map=field_map, prune=prune)
        finally:
            if self.catalog.generation() != generation:  # keep the BM25 index in step (also after errors)
                LexicalIndex(self.settings.data_dir, self.store, self.catalog).rebuild()

    def _ingest(
        self, paths: Iterable[str | Path], *, progress: bool, field_map: dict[str, str] | None, prune: bool
    ) -> IngestReport:
        report = IngestReport(recovered=self.recover())
        if self.catalog.get_meta(EMBED_BACKEND_KEY) is None or self.catalog.stats().articles == 0:
            self.catalog.set_meta(EMBED_BACKEND_KEY, self.embedder.backend)  # questions follow it (auto)
        if prune:
            report.pruned = self.prune()
        found = find_files(paths)
        report.failed += [(str(p), "no such file or folder") for p in found.missing]
        report.failed += [
            (str(p), f"unsupported file type '{p.suffix or '(none)'}' (supported: .txt .md .html .htm "
             ".json .jsonl .csv, optionally .gz)")
            for p in found.unsupported
        ]  # fmt: skip
        near = NearDuplicateIndex(self.settings.near_dup_threshold)
        for article_id, data in self.catalog.minhashes():
            near.add(article_id, from_bytes(data))

        files_bar = tqdm(total=len(found.files), desc="files", unit="file", disable=not progress, position=0)
        chunks_bar = tqdm(total=0, desc="chunks embedded", unit="chunk", disable=not progress, position=1)
        batch: list[_Parsed] = []
        batch_ids: set[str] = set()
        copies: list[Copy] = []
        try:
            for result, parsed in self._read(found.files, field_map):
                files_bar.update(1)
                report.warnings += [(str(result.path), w) for w in result.warnings]
                if result.error:
                    report.failed.append((str(result.path), result.error))
                    continue
                for item in parsed:
                    self._route(item, report, near, batch, batch_ids, copies)
                    if sum(len(p.chunks or []) for p in batch) >= self.settings.write_batch_chunks:
                        self._write_batch(batch, copies, report, chunks_bar)
                        batch, batch_ids, copies = [], set(), []
            self._write_batch(batch, copies, report, chunks_bar)
        finally:
            files_bar.close()
            chunks_bar.close()
        return report

    def _read(
        self, files: list[Path], field_map: dict[str, str] | None
    ) -> Iterator[tuple[LoadResult, list[_Parsed]]]:
        """Parse, sign and chunk files in a reader thread, yielding them in order."""
        reader_catalog = Catalog(self.catalog.path)  # its own connection (WAL allows concurrent reads)
        out: queue.Queue = queue.Queue(maxsize=_READ_AHEAD)
        stop = threading.Event()

        def work() -> None:
            try:
                for result in load_files(files, field_map):
                    parsed = [
                        _Parsed(
                            a,
                            to_bytes(signature(a.body)),
                            None if reader_catalog.is_done(a.id) else self.chunker.chunks(a),
                        )
                        for a in result.articles
                    ]
                    while not stop.is_set():
                        try:
                            out.put((result, parsed), timeout=0.5)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                out.put(None)
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                out.put(exc)

        _ = self.chunker  # load the tokenizer before the thread starts
        thread = threading.Thread(target=work, name="newsqa-reader", daemon=True)
        thread.start()
        try:
            while (item := out.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            thread.join(timeout=10)
            reader_catalog.close()

    def _route(
        self,
        item: _Parsed,
        report: IngestReport,
        near: NearDuplicateIndex,
        batch: list[_Parsed],
        batch_ids: set[str],
        copies: list[Copy],
    ) -> None:
        """Decide what one article is: unchanged, an exact or near copy, a replacement, or new."""
        article = item.article
        if article.id in batch_ids or self.catalog.is_done(article.id):
            report.unchanged.append(article)
            stored_key = next((p.article.source_key for p in batch if p.article.id == article.id), None)
            stored_key = stored_key or self.catalog.source_key_of(article.id)
            if article.source_key != stored_key and not self.catalog.has_copy(article.source_key):
                copy = Copy(article.id, "exact", article)
                copies.append(copy)
                report.folded.append(copy)
            return
        previous = self.catalog.by_source_key(article.source_key)
        if previous and previous != article.id:
            report.replaced.append(previous)
            near.remove(previous)
            self._remove(previous)
        minhash = from_bytes(item.signature_bytes)
        original = near.find(minhash)
        if original is not None:
            copy = Copy(original, "near", article)
            copies.append(copy)
            report.folded.append(copy)
            return
        near.add(article.id, minhash)
        if item.chunks is None:  # the reader saw it stored, but it has since been replaced
            item.chunks = self.chunker.chunks(article)
        batch.append(item)
        batch_ids.add(article.id)

    def _write_batch(self, batch: list[_Parsed], copies: list[Copy], report: IngestReport, bar: tqdm) -> None:
        """Embed and store a batch of whole articles, then commit them (with their copies) at once."""
        if not batch and not copies:
            return
        self.catalog.mark_pending((p.article, len(p.chunks or []), p.signature_bytes) for p in batch)
        texts = [chunk.embed_text for p in batch for chunk in p.chunks or []]
        bar.total += len(texts)
        vectors = self.embedder.embed(texts)
        self.store.add_many([(p.article, p.chunks or []) for p in batch], vectors)
        self.catalog.mark_done([p.article.id for p in batch], copies)
        for p in batch:
            report.added.append(p.article)
            report.chunks_added += len(p.chunks or [])
        bar.update(len(texts))
