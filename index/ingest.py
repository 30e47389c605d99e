"""Ingestion: files → articles → (exact / near-duplicate check) → chunks → embeddings → Chroma + catalog.

- Incremental: an article whose normalized text is stored already is skipped; one whose url or path is
  stored with other text replaces it; ``prune`` removes articles whose source files are gone.
- Duplicates: exact copies and near-duplicates (MinHash/LSH) are stored once; every other outlet, url and
  date that carried the story is remembered in the catalog.
- Crash safety: an article is marked ``pending`` in the catalog before its chunks are written and
  ``done`` after, in one transaction with its copies; chunk ids are deterministic; an article being
  replaced or pruned is marked ``pending`` before its chunks are deleted. A run killed at any moment leaves
  only pending rows, whose chunks the next run deletes first, so it converges to the clean-run state.
- Speed: a reader thread parses and chunks files (32 articles at a time, so a big file starts embedding at
  once); chunks are embedded in batches of whole articles, each batch in a worker thread while the main
  thread writes the batch before it to Chroma and commits it (the model's forward pass releases the GIL).
  Where the time went is in ``IngestReport.stages``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from index.catalog import Catalog, Copy
from index.chunk import Chunker
from index.corpus import Corpus
from index.dedupe import NearDuplicateIndex, from_bytes, signature, to_bytes
from index.embed import Embedder, make_embedder
from index.formats import supported_types, type_label
from index.load import LoadResult, absolute_path, find_files, load_files
from index.models import Article, Chunk
from index.settings import Settings
from index.store import ChunkStore

_READ_AHEAD = 64  # groups of articles parsed ahead of the embedder
_GROUP = 32  # articles per group handed from the reader thread
# Where an ingest spends its time. "read" (load, parse, sign, chunk) runs in the reader thread, overlapped
# with the rest; "wait" is the main thread idle for the reader; "bm25" is the lexical index brought up to
# date at the end of the run.
STAGES = ("read", "wait", "embed", "store", "commit", "bm25")


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
    notes: list[tuple[str, str]] = field(default_factory=list)  # (path, what was passed over on purpose)
    skipped: Counter[str] = field(default_factory=Counter)  # files in folders not read, per type
    chunks_added: int = 0
    recovered: int = 0  # interrupted articles cleaned up from an earlier run
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage (see ``STAGES``)

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Add the time spent in the block to ``stages[stage]``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stages[stage] = self.stages.get(stage, 0.0) + time.perf_counter() - started

    def stages_line(self) -> str:
        """The stage times in one line, in pipeline order: ``read 3.1 s · embed 40.2 s · ...``."""
        return " · ".join(f"{name} {self.stages[name]:.1f} s" for name in STAGES if name in self.stages)

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.failed

    def skipped_line(self) -> str:
        """``skipped 5 files: 3 .pptx, 1 .png, 1 .zip`` (files of types newsqa does not read), or ``""``."""
        total = sum(self.skipped.values())
        if not total:
            return ""
        kinds = ", ".join(
            f"{n} {kind}" for kind, n in sorted(self.skipped.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        return f"skipped {total} file{'' if total == 1 else 's'}: {kinds}"

    def summary(self) -> str:
        """A human summary: counts (and files skipped, by type), then the notes, warnings and the reason
        for each failed file."""
        near = sum(c.kind == "near" for c in self.folded)
        skipped = self.skipped_line()
        lines = [
            f"added {len(self.added)} article(s) ({self.chunks_added} chunks), "
            f"unchanged {len(self.unchanged)}, replaced {len(self.replaced)}, "
            f"folded {len(self.folded)} duplicate(s) ({near} near), failed {len(self.failed)}"
            + (f"; {skipped} (types newsqa does not read)" if skipped else "")
        ]
        if self.pruned:
            lines.append(f"pruned {len(self.pruned)} article(s) whose source files are gone")
        if self.removed:
            lines.append(f"removed {len(self.removed)} article(s) no longer in their re-read files")
        if self.recovered:
            lines.append(f"cleaned up {self.recovered} article(s) left half-written by an interrupted run")
        lines += [f"  note: {path}: {message}" for path, message in self.notes]
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
        report = IngestReport()
        with self.corpus.writing():
            self._ingest(report, paths, progress=progress, field_map=field_map, prune=prune)
            bm25_started = time.perf_counter()
        report.stages["bm25"] = time.perf_counter() - bm25_started  # the lock's exit updates BM25
        return report

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
        self,
        report: IngestReport,
        paths: Iterable[str | Path],
        *,
        progress: bool,
        field_map: dict[str, str] | None,
        prune: bool,
    ) -> None:
        report.recovered = self.recover()
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
            (str(p), f"unsupported file type '{type_label(p)}' (supported: {supported_types()})")
            for p in found.unsupported
        ]
        report.skipped.update(type_label(p) for p in found.skipped)
        near = NearDuplicateIndex(self.settings.near_dup_threshold)
        for article_id, data in self.catalog.minhashes():
            near.add(article_id, from_bytes(data))

        files_bar = tqdm(total=len(found.files), desc="files", unit="file", disable=not progress, position=0)
        chunks_bar = tqdm(total=0, desc="chunks embedded", unit="chunk", disable=not progress, position=1)
        batch: list[_Parsed] = []
        batch_ids: set[str] = set()
        copies: list[Copy] = []
        pipeline = _Pipeline(self, report, chunks_bar)
        try:
            keys: set[str] = set()  # source keys of the file being read, for reconcile
            for result, parsed, last in self._read(found.files, field_map, report):
                for item in parsed:
                    if pipeline.holds(item.article):
                        pipeline.finish()  # route it against the committed state
                    self._route(item, report, near, batch, batch_ids, copies)
                    if sum(len(p.chunks or []) for p in batch) >= self.settings.write_batch_chunks:
                        pipeline.submit(batch, copies)
                        batch, batch_ids, copies = [], set(), []
                keys.update(p.article.source_key for p in parsed)
                if last:
                    files_bar.update(1)
                    report.warnings += [(str(result.path), w) for w in result.warnings]
                    report.notes += [(str(result.path), n) for n in result.notes]
                    if result.error:
                        report.failed.append((str(result.path), result.error))
                    else:
                        self._reconcile(result, keys, report, near)
                    keys = set()
            pipeline.submit(batch, copies)
            pipeline.finish()
        finally:
            pipeline.close()
            files_bar.close()
            chunks_bar.close()

    def _reconcile(
        self, result: LoadResult, keys: set[str], report: IngestReport, near: NearDuplicateIndex
    ) -> None:
        """After a file is read whole: what it no longer holds leaves the index (an edited JSONL or CSV
        loses the records taken out of it). Not when some of its records could not be read: those
        might be the missing ones, and nothing is dropped on bad input."""
        if result.skipped:
            return
        for article_id in self.corpus.reconcile(str(result.path), keys):
            near.remove(article_id)
            report.removed.append(article_id)

    def _read(
        self, files: list[Path], field_map: dict[str, str] | None, report: IngestReport
    ) -> Iterator[tuple[LoadResult, list[_Parsed], bool]]:
        """Parse, sign and chunk files in a reader thread, yielding them in order, a group of articles at a
        time (``True`` with a file's last group), so a big JSONL or CSV file is embedded while the rest
        of it is still being chunked."""
        reader_catalog = Catalog(self.catalog.path)  # its own connection (WAL allows concurrent reads)
        out: queue.Queue = queue.Queue(maxsize=_READ_AHEAD)
        stop = threading.Event()
        busy = [0.0]  # the reader thread's own time (it adds to this list only)

        def put(item: tuple[LoadResult, list[_Parsed], bool]) -> bool:
            while not stop.is_set():
                try:
                    out.put(item, timeout=0.5)
                    return True
                except queue.Full:
                    continue
            return False

        def work() -> None:
            try:
                files_read = iter(load_files(files, field_map))
                while True:
                    started = time.perf_counter()
                    result = next(files_read, None)
                    busy[0] += time.perf_counter() - started
                    if result is None:
                        break
                    articles = result.articles
                    for start in range(0, max(len(articles), 1), _GROUP):
                        started = time.perf_counter()
                        parsed = [
                            _Parsed(
                                a,
                                to_bytes(signature(a.body)),
                                None if reader_catalog.is_done(a.id) else self.chunker.chunks(a),
                            )
                            for a in articles[start : start + _GROUP]
                        ]
                        busy[0] += time.perf_counter() - started
                        if not put((result, parsed, start + _GROUP >= len(articles))):
                            return
                out.put(None)
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                out.put(exc)

        _ = self.chunker  # load the tokenizer before the thread starts
        thread = threading.Thread(target=work, name="newsqa-reader", daemon=True)
        thread.start()
        try:
            while True:
                with report.timed("wait"):
                    item = out.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            thread.join(timeout=10)
            reader_catalog.close()
            report.stages["read"] = busy[0]

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


class _Pipeline:
    """Batches of whole articles through the model and into the store, one batch ahead: the next batch is
    embedded in a worker thread while the main thread stores and commits the one before it.

    Every catalog and store operation stays on the main thread, in batch order, with the same crash
    protocol as a batch at a time (pending before the chunks are written, done after, with the copies in
    one transaction). ``holds`` tells when an article touches the batch in flight (same id or source, or a
    copy of it); the caller then ``finish``es that batch first, so routing sees exactly the catalog a
    batch-at-a-time run would."""

    def __init__(self, ingestor: Ingestor, report: IngestReport, bar: tqdm) -> None:
        self._ingestor, self._report, self._bar = ingestor, report, bar
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsqa-embed")
        self._inflight: tuple[list[_Parsed], list[Copy], Future] | None = None
        self._ids: set[str] = set()
        self._keys: set[str] = set()

    def holds(self, article: Article) -> bool:
        """True when ``article`` shares an id or a source with the batch in flight."""
        return article.id in self._ids or article.source_key in self._keys

    def submit(self, batch: list[_Parsed], copies: list[Copy]) -> None:
        """Mark ``batch`` pending and start embedding it; store and commit the batch before it meanwhile."""
        if not batch and not copies:
            return
        with self._report.timed("commit"):
            self._ingestor.catalog.mark_pending((p.article, len(p.chunks or []), p.signature_bytes) for p in batch)  # fmt: skip
        texts = [chunk.embed_text for p in batch for chunk in p.chunks or []]
        self._bar.total += len(texts)
        future = self._executor.submit(self._embed, texts)
        self.finish()
        self._inflight = (batch, copies, future)
        self._ids = {p.article.id for p in batch} | {c.article_id for c in copies}
        self._keys = {p.article.source_key for p in batch} | {c.article.source_key for c in copies}

    def _embed(self, texts: list[str]) -> tuple[object, float]:
        started = time.perf_counter()
        return self._ingestor.embedder.embed(texts), time.perf_counter() - started

    def finish(self) -> None:
        """Wait for the batch in flight, then store its chunks and commit it with its copies."""
        if self._inflight is None:
            return
        batch, copies, future = self._inflight
        self._inflight, self._ids, self._keys = None, set(), set()
        vectors, seconds = future.result()
        self._report.stages["embed"] = self._report.stages.get("embed", 0.0) + seconds
        with self._report.timed("store"):
            self._ingestor.store.add_many([(p.article, p.chunks or []) for p in batch], vectors)
        with self._report.timed("commit"):
            self._ingestor.catalog.mark_done([p.article.id for p in batch], copies)
        for p in batch:
            self._report.added.append(p.article)
            self._report.chunks_added += len(p.chunks or [])
        self._bar.update(sum(len(p.chunks or []) for p in batch))

    def close(self) -> None:
        """Stop the worker; a batch still in flight is abandoned (pending: the next run cleans it up)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
