"""News sitemaps and sitemap indexes (``newsqa ingest URL``, ``newsqa feeds add / poll``) against a local
HTTP server on 127.0.0.1: the news title, publication and date kept; a later poll fetches only pages dated
after the last one; an index listing itself, a 10,000-entry sitemap and a gzip bomb each one line."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from doc_fixtures import FERRY, Site, article_html, local_site, news_sitemap, sitemap_index

from index.feedlist import FeedList
from index.ingest import Ingestor
from index.parse import ParseError
from index.settings import Settings
from index.sitemap import looks_like_sitemap, newer_than, read_sitemap
from index.web import ingest_urls, poll_feeds

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    """The local server, for this module, with no proxy in the way."""
    with local_site() as served, pytest.MonkeyPatch.context() as patch:
        for name in _PROXY_VARIABLES:
            patch.delenv(name, raising=False)
        yield served


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", fetch_delay=0, fetch_timeout=10, **extra)


def test_a_news_sitemap_is_read_and_a_later_poll_fetches_only_newer_pages(site: Site, tmp_path: Path) -> None:
    site.serve("/ferry", FERRY)
    site.serve(
        "/old",
        article_html(
            "Harbour crane repainted",
            "2024-05-01",
            "Island Gazette",
            ["The old crane was repainted blue by volunteers over the weekend."],
        ),
    )
    pages = [
        ("/ferry", "Holm ferry leaves at 7:15 from June", "2024-05-20T09:00:00Z"),
        ("/old", "Harbour crane repainted", "2024-05-01"),
    ]
    url = site.serve("/news-sitemap.xml", lambda base: news_sitemap(base, pages), "application/xml")
    settings = _settings(tmp_path)
    FeedList(settings.data_dir).add(url)
    ingestor = Ingestor(settings)
    first = poll_feeds(settings, ingestor=ingestor)
    assert (first.errors, first.feeds_checked, first.pages_fetched, first.added) == ([], 1, 2, 2)
    rows = {r.title: (r.published, r.outlet, r.url) for r in ingestor.catalog.rows()}
    assert rows["Holm ferry leaves at 7:15 from June"] == ("2024-05-20", "Island Gazette", site.url("/ferry"))
    (listed,) = FeedList(settings.data_dir).feeds()
    assert (listed.title, listed.last_added, listed.last_error) == ("Island Gazette", 2, None)
    # a new page after the poll: only it is fetched (the others are dated before the last check)
    fresh = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    site.serve(
        "/bridge",
        article_html(
            "Holm bridge survey starts",
            "2024-06-01",
            "Island Gazette",
            ["Engineers began a survey of the Holm bridge on Monday."],
        ),
    )
    pages.append(("/bridge", "Holm bridge survey starts", fresh))
    site.routes["/news-sitemap.xml"] = (lambda base: news_sitemap(base, pages), "application/xml")
    before = site.counts.copy()
    second = poll_feeds(settings, ingestor=ingestor)
    assert site.counts - before == {"/news-sitemap.xml": 1, "/bridge": 1}
    assert (second.pages_fetched, second.pages_older, second.added, second.errors) == (1, 2, 1, [])
    assert "2 older than the last check (not fetched)" in second.fetch_line()


def test_an_index_that_lists_itself_a_huge_sitemap_and_a_bomb_are_one_line_each(
    site: Site, tmp_path: Path
) -> None:
    site.serve("/ferry", FERRY)
    many = [(f"/story/{i}", f"Story {i}", f"2024-05-{1 + i % 28:02d}") for i in range(10_000)]
    many[0] = ("/ferry", "Holm ferry leaves at 7:15 from June", "2024-06-30T09:00:00Z")  # the newest
    site.serve("/many.xml", lambda base: news_sitemap(base, many), "application/xml")
    index = site.serve(
        "/index.xml", lambda base: sitemap_index(base, ["/index.xml", "/many.xml"]), "application/xml"
    )
    bomb = site.serve("/bomb.xml.gz", gzip.compress(b"<urlset>" + b" " * 60_000_000, 9), "application/gzip")
    settings = _settings(tmp_path, sitemap_max_pages=1, fetch_max_mb=5)
    started = time.perf_counter()
    web, report = ingest_urls(settings, [index, bomb], Ingestor(settings), progress=False)
    assert time.perf_counter() - started < 30
    assert web.notes == [
        (index, f"the sitemap index lists itself ({index}); not read again"),
        (
            index,
            "the sitemap lists 10,000 pages to read: the newest 1 are fetched (NEWSQA_SITEMAP_MAX_PAGES)",
        ),
    ]
    assert web.errors == [(bomb, "gzipped sitemap expands past 50 MB (a decompression bomb?)")]
    assert [a.title for a in report.added] == ["Holm ferry leaves at 7:15 from June"]
    assert site.counts["/index.xml"] == 1 and site.counts["/story/1"] == 0


def test_sitemap_parsing() -> None:
    text = news_sitemap("https://isle.example", [("/a", "A &amp; B", "2024-05-20T09:00:00+02:00")])
    assert (
        looks_like_sitemap(text)
        and looks_like_sitemap(gzip.compress(text))
        and not looks_like_sitemap(b"<rss>")
    )
    (page,) = read_sitemap(gzip.compress(text), "https://isle.example/s.xml").pages
    assert (page.entry.link, page.entry.title, page.entry.published, page.entry.outlet) == (
        "https://isle.example/a",
        "A & B",
        "2024-05-20",
        "Island Gazette",
    )
    assert newer_than(page.stamp, "2024-05-20T06:59:00+00:00") and not newer_than(
        page.stamp, "2024-05-20T07:00:00+00:00"
    )
    assert newer_than("2024-05-20", "2024-05-20T23:00:00+00:00") and not newer_than(
        "2024-05-19", "2024-05-20T00:00:00+00:00"
    )
    entity = b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/passwd">]><urlset><url><loc>&x;</loc></url></urlset>'
    assert read_sitemap(entity, "https://isle.example/s.xml").pages == []  # no entity is resolved
    with pytest.raises(ParseError, match="not a sitemap"):
        read_sitemap(b"<rss><channel/></rss>", "https://isle.example/s.xml")
