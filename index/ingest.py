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
from index.corpus import Corpus
from index.dedupe import NearDuplicateIndex, from_bytes, signature, to_bytes
from index.embed import Embedder, make_embedder
from index.load import LoadResult, absolute_path, find_files, load_files
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
    removed: list[str] = field(default_factory=list)  # ids of articles taken out of re-read files
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
        if self.removed:
            lines.append(f"removed {len(self.removed)} article(s) no longer in their re-read files")
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
    """The ingest pipeline of one data folder; it writes through the folder's :class:`Corpus`."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        store: ChunkStore | None = None,
        catalog: Catalog | None = None,
        *,
        corpus: Corpus | None = None,
    ) -> None:
        self.settings = settings
        self.corpus = corpus or Corpus(settings, store, catalog)
        self.embedder = embedder or make_embedder(settings, self.catalog.get_meta(EMBED_BACKEND_KEY))
        self._chunker: Chunker | None = None

    @property
    def catalog(self) -> Catalog:
        """The corpus's catalog."""
        return self.corpus.catalog

    @property
    def store(self) -> ChunkStore:
        """The corpus's chunk store."""
        return self.corpus.store

    @property
    def chunker(self) -> Chunker:
        """Chunker sized with the embedding model's own tokenizer."""
        if self._chunker is None:
            tokenizer = self.embedder.counting_tokenizer  # not the embedding path's instance
            self._chunker = Chunker(
                lambda text: tokenizer.encode(text, add_special_tokens=False, verbose=False),
                chunk_tokens=self.settings.chunk_tokens,
                overlap=self.settings.chunk_overlap,
            )
        return self._chunker

    def recover(self) -> int:
        """Remove the chunks of articles an interrupted run left pending; returns how many."""
        return self.corpus.recover()

    def delete(self, article_id: str) -> bool:
        """Remove one stored article: its chunks, its catalog row and the copies recorded of it (crash-safe;
        the BM25 index follows). Returns False when no such article is stored."""
        return self.corpus.delete(article_id)

    def prune(self) -> list[str]:
        """Remove articles (and copies) whose source files no longer exist; returns removed article ids."""
        return self.corpus.prune()[0]

    # --- the pipeline --------------------------------------------------------------------------------
    def ingest(
        self,
        paths: Iterable[str | Path],
        *,
        progress: bool = True,
        field_map: dict[str, str] | None = None,
        prune: bool = False,
    ) -> IngestReport:
        """Ingest files and folders; bad files are reported and skipped, good ones are stored. The whole
        run holds the data folder's write lock; the BM25 index follows before the lock is let go."""
        with self.corpus.writing():
            return self._ingest(paths, progress=progress, field_map=field_map, prune=prune)

    def _absolutize(self, files: list[Path]) -> None:
        """Sources that older versions recorded relative to the working folder, and that name a file
        being ingested now, are recorded under that file's absolute path (the rest stay unchecked)."""
        relative = self.catalog.relative_paths()
        if not relative:
            return
        wanted = {str(f) for f in files}
        for old in relative:
            new = str(absolute_path(Path(old)))
            if new in wanted:
                self.catalog.absolutize(old, new)

    def _ingest(
        self, paths: Iterable[str | Path], *, progress: bool, field_map: dict[str, str] | None, prune: bool
    ) -> IngestReport:
        report = IngestReport(recovered=self.recover())
        if self.catalog.get_meta(EMBED_BACKEND_KEY) is None or self.catalog.stats().articles == 0:
            self.catalog.set_meta(EMBED_BACKEND_KEY, self.embedder.backend)  # questions follow it (auto)
        found = find_files(paths)
        self._absolutize(found.files)
        if prune:
            report.pruned, unchecked = self.corpus.prune()
            if unchecked:
                report.warnings.append(("--prune", f"{unchecked} source(s) recorded as relative paths by an "
                                        "older version were not checked (ingest them again to record them)"))  # fmt: skip
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
                self._reconcile(result, parsed, report, near)
            self._write_batch(batch, copies, report, chunks_bar)
        finally:
            files_bar.close()
            chunks_bar.close()
        return report

    def _reconcile(
        self, result: LoadResult, parsed: list[_Parsed], report: IngestReport, near: NearDuplicateIndex
    ) -> None:
        """After a file is read whole: what it no longer holds leaves the index (an edited JSONL or CSV
        loses the records taken out of it). Not when some of its records could not be read: those
        might be the missing ones, and nothing is dropped on bad input."""
        if result.skipped:
            return
        keys = {p.article.source_key for p in parsed}
        for article_id in self.corpus.reconcile(str(result.path), keys):
            near.remove(article_id)
            report.removed.append(article_id)

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
            self.corpus.remove(previous)
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
