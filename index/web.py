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

A sitemap or sitemap index (:mod:`index.sitemap`, with Google's ``news:`` extension) is read like a feed:
its pages are the entries (the news title, publication name and date filling what a page lacks), the
newest ``sitemap_max_pages`` fetched; an index's sitemaps are fetched in turn (one level, never the index
itself again). A listed sitemap whose last check went cleanly has only its pages dated after that check
fetched.

Nothing is fetched unless a URL is given or a feed is listed and polled.

Whose addresses may be reached (:mod:`index.netguard`): a URL given or listed is the operator's, and may
be on a private network (so may its redirects on its own site). An entry's page is a URL found on the
web: public addresses only, unless it is on the site of its feed and that feed itself answered from an
address that is not public (an intranet feed); ``NEWSQA_FETCH_ALLOW`` widens both. A refused page is one
error line naming its URL, the address and the rule; the feed's other entries go on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.feedlist import FeedList, FeedState, now_iso
from index.feeds import Feed, FeedEntry, looks_like_feed, read_feed
from index.fetch import Fetcher, FetchError, FetchResult, Request, links_operator_url
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
from index.sitemap import Sitemap, SitemapPage, looks_like_sitemap, newer_than, read_sitemap

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
    pages_older: int = 0  # a listed sitemap's pages dated before its last check: not fetched
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
        older = f", {self.pages_older} older than the last check (not fetched)" if self.pages_older else ""
        return (
            f"web: {self.feeds_checked} feed(s) checked ({self.feeds_unchanged} not modified), "
            f"{self.pages_fetched} page(s) fetched, {self.pages_unchanged} unchanged (not downloaded){older}, "
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
    operator_url: str | None = None  # the operator's URL whose site this page may share privately

    def request(self) -> Request:
        """The request for this page: conditional when a record of it is stored."""
        meta = self.old[META] if self.old else {}
        return Request(self.url, meta.get("etag"), meta.get("last_modified"), self.operator_url)


def _first_request(data_dir: Path, listed: dict[str, FeedState], url: str) -> Request:
    """A URL given or listed (the operator's), with the validators stored for it (as a listed feed, or
    as a page)."""
    state = listed.get(url)
    if state is not None:
        return Request(url, state.etag, state.last_modified, operator_url=url)
    path = record_path(data_dir, url)
    return _PageJob(url, path, read_record(path), operator_url=url).request()


def _links_trusted(url: str, answer: FetchResult) -> str | None:
    """The ``operator_url`` for the links in the answer of the operator's ``url`` (a feed or sitemap):
    :func:`index.fetch.links_operator_url`."""
    return links_operator_url(url, answer)


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


def _entry_jobs(
    data_dir: Path, report: PollReport, feed: Feed, feed_url: str, trusted: str | None
) -> list[_PageJob]:
    """The pages of a feed's new and changed entries (``trusted``: see :func:`_links_trusted`); an
    unchanged entry's record goes to the ingest."""
    jobs = []
    for entry in feed.entries:
        path = record_path(data_dir, entry.key)
        job = _PageJob(entry.link or entry.key, path, read_record(path), entry, feed_url, trusted)
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
            return _url_failed(
                report, state, url, "not an RSS or Atom feed or a sitemap (a page; ingest it instead)"
            )
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
    return _entry_jobs(data_dir, report, feed, url, _links_trusted(url, answer))


MAX_CHILD_SITEMAPS = 50  # sitemaps of one index read per check (the most recently modified first)


def _index_pages(
    fetcher: Fetcher, report: PollReport, index: Sitemap, url: str, since: str | None, trusted: str | None
) -> list[SitemapPage]:
    """The pages of the sitemaps a sitemap index lists (modified since ``since``, if given; ``trusted``:
    see :func:`_links_trusted`): the index itself and nested indexes are not followed; each sitemap that
    fails is a failed URL."""
    children: dict[str, str | None] = {}
    for child, lastmod in index.children:
        if child in (url, index.url):
            report.notes.append((url, f"the sitemap index lists itself ({child}); not read again"))
        elif newer_than(lastmod, since):
            children.setdefault(child, lastmod)
    ordered = sorted(children, key=lambda c: children[c] or "", reverse=True)
    if len(ordered) > MAX_CHILD_SITEMAPS:
        report.notes.append(
            (
                url,
                f"the index lists {len(ordered)} sitemaps: the {MAX_CHILD_SITEMAPS} most recently modified are read",
            )
        )
        ordered = ordered[:MAX_CHILD_SITEMAPS]
    pages: list[SitemapPage] = []
    for child, answer in zip(
        ordered, fetcher.fetch_all([Request(c, operator_url=trusted) for c in ordered]), strict=True
    ):
        if isinstance(answer, FetchError):
            report.fail(child, answer.reason, url)
            continue
        try:
            sitemap = read_sitemap(answer.content, answer.final_url)
        except ParseError as exc:
            report.fail(child, str(exc), url)
            continue
        if sitemap.is_index:
            report.notes.append((child, "a sitemap index listed in a sitemap index is not followed"))
        pages += sitemap.pages
    return pages


def _sitemap_jobs(
    settings: Settings,
    fetcher: Fetcher,
    report: PollReport,
    state: FeedState | None,
    url: str,
    answer: FetchResult,
) -> list[_PageJob]:
    """The pages to fetch for a sitemap or sitemap index given or listed (``state``: a listed one's):
    new and changed pages, dated after the last clean check of a listed one, the newest first, at most
    ``settings.sitemap_max_pages``."""
    try:
        sitemap = read_sitemap(answer.content, answer.final_url)
    except ParseError as exc:
        return _url_failed(report, state, url, str(exc))
    since = state.last_checked if state is not None and state.last_error is None else None
    trusted = _links_trusted(url, answer)
    found = _index_pages(fetcher, report, sitemap, url, since, trusted) if sitemap.is_index else sitemap.pages
    pages: dict[str, SitemapPage] = {}
    for page in found:
        if page.entry.key in (url, answer.final_url):
            report.notes.append((url, "the sitemap lists itself as a page; not read again"))
        else:
            pages.setdefault(page.entry.key, page)
    fresh = [p for p in pages.values() if newer_than(p.stamp, since)]
    report.pages_older += len(pages) - len(fresh)
    fresh.sort(key=lambda p: p.entry.published or "", reverse=True)
    limit = settings.sitemap_max_pages
    if len(fresh) > limit:
        note = f"the sitemap lists {len(fresh):,} pages to read: the newest {limit:,} are fetched (NEWSQA_SITEMAP_MAX_PAGES)"
        report.notes.append((url, note))
        fresh = fresh[:limit]
    title = next((p.entry.outlet for p in found if p.entry.outlet), None)
    report.feeds_checked += 1
    if state is not None:
        report.checked_feeds[url] = replace(state, title=title or state.title, last_checked=now_iso(),
                                            etag=answer.etag, last_modified=answer.last_modified, last_error=None)  # fmt: skip
    feed = Feed(url, title, "sitemap", [p.entry for p in fresh])
    return _entry_jobs(settings.data_dir, report, feed, url, trusted)


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
            if (
                isinstance(answer, FetchResult)
                and not answer.not_modified
                and looks_like_sitemap(answer.content)
            ):
                jobs += _sitemap_jobs(settings, fetcher, report, listed.get(url), url, answer)
            else:
                jobs += _first_answer(settings.data_dir, report, listed.get(url), url, answer)
        unique: dict[Path, _PageJob] = {}
        for job in jobs:  # an entry in two feeds: fetched once (as a link of a trusted feed, if one is)
            if job.path not in unique or (job.operator_url and not unique[job.path].operator_url):
                unique[job.path] = job
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
