"""``newsqa watch``: keep the index current with folders (watched with ``watchfiles``) and the feed list
(polled every ``watch_feed_minutes``), one log line per run.

Each run is an ordinary ingest, so it holds the data folder's write lock only while it runs, keeps the
kill -9 promise, and a chat or ``qa.ask`` in another process sees the new articles after its commit.
Changed and new files are ingested alone (not the whole folder again); a deleted file's articles are
retired exactly as ``--prune`` would retire them, and only that file's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.formats import is_supported
from index.load import absolute_path

if TYPE_CHECKING:
    from index.ingest import Ingestor, IngestReport

Echo = Callable[[str], None]


@dataclass
class WatchRun:
    """One pass of the watcher: what started it and what it changed."""

    trigger: str  # "start", "files" or "feeds"
    summary: str
    seconds: float
    ok: bool = True

    def line(self) -> str:
        """``2026-12-06 19:20:01 files: added 1 article(s) … (0.8 s)``."""
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        return f"{stamp} {self.trigger}: {self.summary} ({self.seconds:.1f} s)"


def _summary(report: IngestReport, removed: int = 0) -> str:
    first = report.summary().splitlines()[0]
    return first + (f", removed {removed} article(s) of deleted files" if removed else "")


class Watcher:
    """Folders and the feed list kept in the index of ``ingestor``'s data folder."""

    def __init__(
        self, ingestor: Ingestor, paths: Iterable[str | Path], *, feed_minutes: float, echo: Echo = print
    ) -> None:
        self.ingestor = ingestor
        self.roots = [absolute_path(Path(p)) for p in paths]
        self.feed_seconds = feed_minutes * 60
        self.echo = echo
        self.runs: list[WatchRun] = []

    def _log(self, run: WatchRun) -> WatchRun:
        self.runs.append(run)
        self.echo(run.line())
        return run

    def catch_up(self) -> WatchRun:
        """Ingest the watched paths once, as they are now."""
        started = time.perf_counter()
        report = self.ingestor.ingest(self.roots, progress=False)
        return self._log(WatchRun("start", _summary(report), time.perf_counter() - started, report.ok))

    def wanted(self, _change: Any, path: str) -> bool:
        """A supported article file, not hidden (``watchfiles`` filter)."""
        name = Path(path)
        return is_supported(name) and not any(part.startswith(".") for part in name.parts)

    def apply(self, changes: set[tuple[Any, str]]) -> WatchRun | None:
        """Ingest the files that were added or changed, retire the articles of deleted files."""
        started = time.perf_counter()
        paths = {absolute_path(Path(path)) for _, path in changes}
        present = sorted(p for p in paths if p.exists())
        removed = sum(len(self.ingestor.corpus.reconcile(str(p), [])) for p in sorted(paths - set(present)))
        if not present:
            summary = f"removed {removed} article(s) of deleted files"
            return self._log(WatchRun("files", summary, time.perf_counter() - started)) if removed else None
        report = self.ingestor.ingest(present, progress=False)
        return self._log(
            WatchRun("files", _summary(report, removed), time.perf_counter() - started, report.ok)
        )

    def poll_feeds(self) -> WatchRun | None:
        """Fetch the listed feeds once and ingest what is new or changed (nothing when none is listed)."""
        from index.feedlist import FeedList
        from index.web import poll_feeds

        settings = self.ingestor.settings
        if not FeedList(settings.data_dir, settings.write_wait).feeds():
            return None
        started = time.perf_counter()
        result = poll_feeds(settings, ingestor=self.ingestor)
        summary = result.summary().replace("\n", "; ", 1).replace("\n", "\n    ")  # failures: one line each
        return self._log(WatchRun("feeds", summary, time.perf_counter() - started, result.ok))

    def run(self, stop_event: threading.Event | None = None) -> None:
        """Catch up, then ingest file changes as they come and poll the feeds on schedule, until
        ``stop_event`` is set (or Ctrl-C). The catch-up runs once the watch has begun, so a file that
        arrives during it is not missed."""
        stop = stop_event or threading.Event()
        next_poll: float | None = None
        for changes in self._changes(stop):
            if next_poll is None:  # the first tick: the watch is on
                if self.roots:
                    self.catch_up()
                next_poll = time.monotonic()
            if changes:
                self.apply(changes)
            next_poll = self._poll_when_due(next_poll)

    def _changes(self, stop: threading.Event) -> Iterator[set[tuple[Any, str]]]:
        """File changes as they settle, and an empty set at least every second (the clock)."""
        tick = max(0.2, min(self.feed_seconds, 1.0))
        if not self.roots:  # feeds only
            yield set()
            while not stop.wait(tick):
                yield set()
            return
        import watchfiles

        yield from watchfiles.watch(*self.roots, watch_filter=self.wanted, stop_event=stop,
                                    rust_timeout=int(tick * 1000), yield_on_timeout=True)  # fmt: skip

    def _poll_when_due(self, next_poll: float) -> float:
        if time.monotonic() < next_poll:
            return next_poll
        self.poll_feeds()
        return time.monotonic() + self.feed_seconds
