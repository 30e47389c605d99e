"""The feed list ``newsqa feeds`` keeps in the data folder (``<data>/feeds.json``), with what the last
check of each feed learnt: when, its validators (``ETag`` / ``Last-Modified``), the articles it added and
its error, if any.

The file is replaced atomically (:mod:`index.atomic`) under its own lock,
``<data>/feeds.lock``: not the corpus's write lock, so adding or listing a feed never waits for a long
ingest. Adding a feed fetches nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from index.atomic import write_text_atomic
from index.fetch import check_url

FEEDS_FILE = "feeds.json"
FEEDS_LOCK = "feeds.lock"


class FeedListError(Exception):
    """The feed list cannot be read or written (a one-line reason)."""


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class FeedState:
    """One listed feed and what its last check learnt."""

    url: str
    added: str  # when it was listed (UTC, ISO 8601)
    title: str | None = None
    last_checked: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_added: int | None = None  # articles the last check added (new or changed)
    last_error: str | None = None


class FeedList:
    """The feeds listed in one data folder."""

    def __init__(self, data_dir: Path, wait: float = 600) -> None:
        self.path = Path(data_dir) / FEEDS_FILE
        self.wait = wait

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.path.with_name(FEEDS_LOCK))
        try:
            lock.acquire(timeout=self.wait)
        except Timeout as exc:
            raise FeedListError(
                f"{self.path} stayed locked by another process for {self.wait:.0f} s"
            ) from exc
        try:
            yield
        finally:
            lock.release()

    def _read(self) -> list[FeedState]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise FeedListError(f"cannot read the feed list {self.path}: {exc}") from exc
        known = {f.name for f in fields(FeedState)}
        try:
            return [FeedState(**{k: v for k, v in item.items() if k in known}) for item in data["feeds"]]
        except (KeyError, TypeError, AttributeError) as exc:
            raise FeedListError(f"the feed list {self.path} is not in newsqa's format ({exc})") from exc

    def _write(self, feeds: list[FeedState]) -> None:
        text = json.dumps({"feeds": [asdict(f) for f in feeds]}, indent=2, ensure_ascii=False) + "\n"
        write_text_atomic(self.path, text)

    def feeds(self) -> list[FeedState]:
        """The listed feeds, in the order they were added."""
        return self._read()

    def get(self, url: str) -> FeedState | None:
        """The listed feed with this URL, if any."""
        return next((f for f in self._read() if f.url == url.strip()), None)

    def add(self, url: str) -> tuple[FeedState, bool]:
        """List a feed (an http(s) URL, else FetchError); returns it and whether it is new to the list."""
        url = check_url(url)
        with self._locked():
            feeds = self._read()
            existing = next((f for f in feeds if f.url == url), None)
            if existing is not None:
                return existing, False
            state = FeedState(url=url, added=now_iso())
            self._write([*feeds, state])
            return state, True

    def remove(self, url: str) -> bool:
        """Take a feed off the list (its articles stay in the index); False when it was not listed."""
        with self._locked():
            feeds = self._read()
            kept = [f for f in feeds if f.url != url.strip()]
            if len(kept) == len(feeds):
                return False
            self._write(kept)
            return True

    def record(self, checked: Iterable[FeedState]) -> None:
        """Save what a check learnt about feeds that are still listed (a feed removed meanwhile stays
        removed; the ``added`` date is kept)."""
        news = {f.url: f for f in checked}
        if not news:
            return
        with self._locked():
            feeds = self._read()
            merged = [replace(news[f.url], added=f.added) if f.url in news else f for f in feeds]
            self._write(merged)
