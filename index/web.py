"""Feeds and pages into the index: ``newsqa ingest URL`` and ``newsqa feeds poll``.

A URL is fetched (:mod:`index.fetch`); a feed (:mod:`index.feeds`) has the pages of its new and changed
entries fetched in turn, a page is read as one article. Each article is kept as a record file in the data
folder (:mod:`index.pages`), and those files are ingested the normal way (:class:`index.ingest.Ingestor`),
so de-duplication, skip-unchanged, replace-on-change and crash safety are the file ingest's own, and the
index can be rebuilt without the network.

What is fetched again, and what is not:

- A listed feed is asked conditionally (its stored ``ETag`` / ``Last-Modified``); ``304`` ends its check.
- An entry whose link, title, dates and text are what the feed said last time is not fetched (its stored
  record is handed to the ingest, which finds it unchanged). A new or changed entry's page is fetched,
  conditionally when a record of it exists.
- A page that cannot be fetched or holds no article text is an error for its URL, unless the entry
  carries a whole article itself (``FEED_TEXT_MIN_WORDS`` words): that text is kept, with a note. A feed
  with such an error is recorded without validators, so the next check reads it whole and retries them.

Nothing is fetched unless a URL is given or a feed is listed and polled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.feedlist import FeedList, FeedState, now_iso
from index.feeds import Feed, FeedEntry, looks_like_feed, read_feed
from index.fetch import Fetcher, FetchError, FetchResult, Request
from index.load import absolute_path
from index.pages import (
    META,
    build_record,
    entry_page,
    page_fields,
    read_record,
    record_path,
    stored_page,
    write_record,
)
from index.parse import ParseError
from index.settings import Settings

if TYPE_CHECKING:
    from index.catalog import Catalog
    from index.ingest import Ingestor, IngestReport


@dataclass
class PollReport:
    """What one fetch of feeds and pages did: per URL errors, and (after the ingest) article counts."""

    feeds_checked: int = 0
    feeds_unchanged: int = 0  # answered 304 Not Modified: nothing more was fetched for them
    pages_fetched: int = 0
    pages_unchanged: int = 0  # not downloaded: the entry had not changed, or the page answered 304
    added: int = 0  # new articles
    replaced: int = 0  # articles whose page changed
    unchanged: int = 0
    folded: int = 0  # stored once already (the same story from another feed or outlet)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (url, what was done instead)
    files: list[Path] = field(default_factory=list)  # record files to ingest
    feed_added: dict[str, int] = field(default_factory=dict)  # feed url -> articles it added
    # bookkeeping for the ingest and the feed list
    feed_of: dict[str, str] = field(default_factory=dict, repr=False)  # record file -> feed url
    url_of: dict[str, str] = field(default_factory=dict, repr=False)  # record file -> article url
    checked_feeds: dict[str, FeedState] = field(default_factory=dict, repr=False)  # listed feeds checked
    failed_pages: Counter[str] = field(default_factory=Counter, repr=False)  # feed url -> pages failed

    @property
    def ok(self) -> bool:
        """True when no URL failed."""
        return not self.errors

    def fetch_line(self) -> str:
        """What was fetched, in one line."""
        return (
            f"web: {self.feeds_checked} feed(s) checked ({self.feeds_unchanged} not modified), "
            f"{self.pages_fetched} page(s) fetched, {self.pages_unchanged} unchanged (not downloaded), "
            f"{len(self.errors)} URL(s) failed"
        )

    def summary(self) -> str:
        """What was fetched and ingested, then one line per note and per failed URL with its reason."""
        lines = [
            self.fetch_line(),
            f"added {self.added} article(s), replaced {self.replaced}, unchanged {self.unchanged}, "
            f"folded {self.folded} duplicate(s)",
        ]
        lines += [f"  note: {url}: {message}" for url, message in self.notes]
        lines += [f"  failed: {url}: {reason}" for url, reason in self.errors]
        return "\n".join(lines)

    def keep(self, path: Path, record: dict[str, Any], feed: str | None) -> None:
        """Hand a record file to the ingest."""
        key = str(absolute_path(path))
        if key not in self.url_of:
            self.files.append(Path(key))
        self.url_of[key] = record["url"]
        if feed:
            self.feed_of[key] = feed

    def fail(self, url: str, reason: str, feed: str | None = None) -> None:
        """Record a URL that failed (a page of ``feed``, if given), its reason in one line."""
        self.errors.append((url, " ".join(reason.split())))
        if feed:
            self.failed_pages[feed] += 1

    def stored_ids(self, catalog: Catalog) -> set[str]:
        """Ids of the articles stored now under the urls about to be ingested (to tell replacements)."""
        return {i for i in (catalog.by_source_key(url) for url in self.url_of.values()) if i}

    def count(self, ingest: IngestReport, stored_before: set[str]) -> None:
        """Take the article counts of the record files from the ingest that read them."""
        mine = {str(p) for p in self.files}
        added = [a for a in ingest.added if a.source_path in mine]
        self.replaced = sum(old in stored_before for old in ingest.replaced)
        self.added = max(0, len(added) - self.replaced)
        self.unchanged = sum(a.source_path in mine for a in ingest.unchanged)
        self.folded = sum(c.article.source_path in mine for c in ingest.folded)
        self.feed_added = dict(Counter(f for a in added if (f := self.feed_of.get(a.source_path))))

    def checked(self) -> list[FeedState]:
        """The listed feeds checked, as the feed list should now record them. A feed with pages that
        failed is recorded without validators, so that the next check reads it whole and retries them."""
        states = []
        for url, state in self.checked_feeds.items():
            state = replace(state, last_added=self.feed_added.get(url, 0))
            failed = self.failed_pages.get(url)
            if failed:  # no validators: the next check reads the feed whole
                message = f"{failed} article page(s) failed; retried at the next check"
                state = replace(state, etag=None, last_modified=None, last_error=message)
            states.append(state)
        return states


@dataclass
class _PageJob:
    """An article page to fetch: the URL asked, its feed entry (if any) and its stored record."""

    url: str
    path: Path
    old: dict[str, Any] | None
    entry: FeedEntry | None = None
    feed: str | None = None

    def request(self) -> Request:
        """The request for this page: conditional when a record of it is stored."""
        meta = self.old[META] if self.old else {}
        return Request(self.url, meta.get("etag"), meta.get("last_modified"))


def _first_request(data_dir: Path, listed: dict[str, FeedState], url: str) -> Request:
    """A URL given or listed, with the validators stored for it (as a listed feed, or as a page)."""
    state = listed.get(url)
    if state is not None:
        return Request(url, state.etag, state.last_modified)
    return _PageJob(url, record_path(data_dir, url), read_record(record_path(data_dir, url))).request()


def _save(report: PollReport, job: _PageJob, record: dict[str, Any]) -> None:
    write_record(job.path, record)
    report.keep(job.path, record, job.feed)


def _fallback(report: PollReport, job: _PageJob, reason: str) -> None:
    """A page that could not be used: the entry's own whole text if it has one (and no page text is
    stored for it), else an error for the page's URL."""
    entry = job.entry
    usable = entry is not None and entry.has_full_text
    if usable and (job.old is None or job.old[META].get("text_from") == "feed"):
        record = build_record(
            entry_page(entry), entry, asked=job.url, fetched=None, feed=job.feed, text_from="feed"
        )
        note = f"{' '.join(reason.split())}; the feed's own text of the article was kept instead"
        report.notes.append((job.url, note))
        _save(report, job, record)
        return
    report.fail(job.url, reason, job.feed)


def _page_answer(report: PollReport, job: _PageJob, answer: FetchResult | FetchError) -> None:
    """Turn one page's answer into its record (or an error)."""
    if isinstance(answer, FetchError):
        _fallback(report, job, answer.reason)
        return
    if answer.not_modified:
        if job.old is None:
            _fallback(report, job, "answered 304 Not Modified to a request that was not conditional")
            return
        report.pages_unchanged += 1
        meta = job.old[META]
        kept = replace(
            answer,
            etag=answer.etag or meta.get("etag"),
            last_modified=answer.last_modified or meta.get("last_modified"),
        )
        text_from = meta.get("text_from", "page")
        record = build_record(
            stored_page(job.old), job.entry, asked=job.url, fetched=kept, feed=job.feed, text_from=text_from
        )
        _save(report, job, record)
        return
    report.pages_fetched += 1
    try:
        page = page_fields(answer)
    except ParseError as exc:
        _fallback(report, job, str(exc))
        return
    except Exception as exc:  # noqa: BLE001 - an extractor failure on one odd page stops nothing else
        _fallback(report, job, f"cannot read the page ({type(exc).__name__}: {exc})")
        return
    _save(
        report,
        job,
        build_record(page, job.entry, asked=job.url, fetched=answer, feed=job.feed, text_from="page"),
    )


def _entry_jobs(data_dir: Path, report: PollReport, feed: Feed, feed_url: str) -> list[_PageJob]:
    """The pages of a feed's new and changed entries; an unchanged entry's record goes to the ingest."""
    jobs = []
    for entry in feed.entries:
        path = record_path(data_dir, entry.key)
        job = _PageJob(entry.link or entry.key, path, read_record(path), entry, feed_url)
        if job.old is not None and job.old[META].get("entry") == entry.fingerprint:
            report.pages_unchanged += 1
            report.keep(path, job.old, feed_url)
        elif entry.link is None:
            _fallback(report, job, "the feed entry has no link")
        else:
            jobs.append(job)
    return jobs


def _url_failed(report: PollReport, state: FeedState | None, url: str, reason: str) -> list[_PageJob]:
    report.fail(url, reason)
    if state is not None:
        report.checked_feeds[url] = replace(state, last_checked=now_iso(), last_error=reason)
    return []


def _first_answer(
    data_dir: Path, report: PollReport, state: FeedState | None, url: str, answer: FetchResult | FetchError
) -> list[_PageJob]:
    """Handle the answer for a URL given or listed (``state``: a listed feed's): a feed (whose entries'
    pages are returned, to fetch), a page (stored now) or an error."""
    if isinstance(answer, FetchError):
        return _url_failed(report, state, url, answer.reason)
    if state is not None and answer.not_modified:
        report.feeds_checked += 1
        report.feeds_unchanged += 1
        report.checked_feeds[url] = replace(state, last_checked=now_iso(), last_error=None)
        return []
    if answer.not_modified or not looks_like_feed(answer.content, answer.content_type):
        if state is not None:
            return _url_failed(report, state, url, "not an RSS or Atom feed (a page; ingest it instead)")
        page = _PageJob(url, record_path(data_dir, url), read_record(record_path(data_dir, url)))
        _page_answer(report, page, answer)
        return []
    try:
        feed = read_feed(answer.content, answer.final_url, answer.content_type)
    except ParseError as exc:
        return _url_failed(report, state, url, str(exc))
    report.feeds_checked += 1
    if state is not None:
        report.checked_feeds[url] = replace(
            state,
            title=feed.title,
            last_checked=now_iso(),
            etag=answer.etag,
            last_modified=answer.last_modified,
            last_error=None,
        )
    return _entry_jobs(data_dir, report, feed, url)


def fetch_articles(
    settings: Settings,
    urls: Iterable[str],
    *,
    feed_list: FeedList | None = None,
    fetcher: Fetcher | None = None,
) -> PollReport:
    """Fetch feeds and pages (no ingest): a listed feed conditionally, then the pages of new and changed
    entries; each article is written as a record file (``report.files``); each URL that fails is in
    ``report.errors`` and the others go on."""
    report = PollReport()
    feeds = feed_list or FeedList(settings.data_dir, settings.write_wait)
    listed = {f.url: f for f in feeds.feeds()}
    own = fetcher is None
    fetcher = fetcher or Fetcher.from_settings(settings)
    try:
        asked = list(dict.fromkeys(url.strip() for url in urls))
        requests = [_first_request(settings.data_dir, listed, url) for url in asked]
        jobs: list[_PageJob] = []
        for url, answer in zip(asked, fetcher.fetch_all(requests), strict=True):
            jobs += _first_answer(settings.data_dir, report, listed.get(url), url, answer)
        unique: dict[Path, _PageJob] = {}
        for job in jobs:  # an entry in two feeds: fetched once
            unique.setdefault(job.path, job)
        pages = list(unique.values())
        for job, answer in zip(pages, fetcher.fetch_all([j.request() for j in pages]), strict=True):
            _page_answer(report, job, answer)
    finally:
        if own:
            fetcher.close()
    return report


def ingest_urls(
    settings: Settings,
    urls: Sequence[str],
    ingestor: Ingestor,
    *,
    paths: Sequence[str | Path] = (),
    fetcher: Fetcher | None = None,
    **options: Any,
) -> tuple[PollReport, IngestReport]:
    """Fetch ``urls`` (feeds or pages), then ingest what they hold together with the files ``paths``, in
    one run (``options`` go to :meth:`Ingestor.ingest`). Each failed URL is in both reports' failures."""
    feeds = FeedList(settings.data_dir, settings.write_wait)
    web = fetch_articles(settings, urls, feed_list=feeds, fetcher=fetcher)
    before = web.stored_ids(ingestor.catalog)
    ingest = ingestor.ingest([*paths, *web.files], **options)
    web.count(ingest, before)
    feeds.record(web.checked())
    ingest.failed += web.errors
    ingest.warnings += web.notes
    return web, ingest


def poll_feeds(
    settings: Settings,
    *,
    ingestor: Ingestor | None = None,
    fetcher: Fetcher | None = None,
    progress: bool = False,
) -> PollReport:
    """Check every listed feed once and ingest what is new or changed; record each feed's check in the
    feed list (after the ingest, so a run killed before it is simply done again). Returns the report;
    nothing raises for a feed or page that fails (see ``report.errors``)."""
    feeds = FeedList(settings.data_dir, settings.write_wait)
    web = fetch_articles(settings, [f.url for f in feeds.feeds()], feed_list=feeds, fetcher=fetcher)
    if web.files:
        if ingestor is None:
            from index.ingest import Ingestor

            ingestor = Ingestor(settings)
        before = web.stored_ids(ingestor.catalog)
        web.count(ingestor.ingest(web.files, progress=progress), before)
    feeds.record(web.checked())
    return web
