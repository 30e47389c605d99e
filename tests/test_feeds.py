"""Feeds and pages in (``newsqa ingest URL``, ``newsqa feeds``), against a local HTTP server.

The server (127.0.0.1, a free port, started here) serves an RSS 2.0 feed, an Atom feed and article pages
from ``tests/fixtures/feeds/``, honours ``If-None-Match`` (RSS, pages) and ``If-Modified-Since`` (Atom)
with 304, counts requests per path, and has bad paths: ``/500/...`` answers 500, ``/big`` sends a body
over the test's 0.05 MB limit (with no Content-Length), ``/loop`` redirects to itself. One data folder
and one ingestor serve the whole module; the tests build on each other, in file order.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from index.feedlist import FeedList
from index.feeds import looks_like_feed, read_feed
from index.fetch import Fetcher, FetchError, check_url
from index.ingest import Ingestor
from index.settings import Settings
from index.web import PollReport, ingest_urls, poll_feeds
from qa.cli import cli

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "feeds"
ATOM_MODIFIED = "Wed, 06 Mar 2024 12:00:00 GMT"
LIMIT_MB = 0.05
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


class Site:
    """What the test server serves (fixture files by path, swappable) and what it saw."""

    def __init__(self) -> None:
        self.routes = {
            "/rss.xml": "rss.xml",
            "/atom.xml": "atom.xml",
            "/articles/port-strike.html": "port-strike.html",
            "/articles/bridge-budget.html": "bridge-budget.html",
            "/articles/ferry.html": "ferry.html",
            "/articles/wind-farm.html": "wind-farm.html",
            "/articles/extra.html": "extra.html",
        }
        self.base = ""
        self.counts: Counter[str] = Counter()  # requests per path
        self.not_modified: Counter[str] = Counter()  # 304 answers per path
        self.agents: set[str] = set()
        self.lock = threading.Lock()
        self.inflight = 0
        self.most_at_once = 0

    def url(self, path: str) -> str:
        """The absolute URL of a path on this server."""
        return self.base + path

    def seen(self) -> Counter[str]:
        """A copy of the request counts."""
        with self.lock:
            return Counter(self.counts)


class Handler(BaseHTTPRequestHandler):
    """Serves ``Site`` (the server's ``site`` attribute)."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        """Quiet."""

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        """Count the request, then serve it."""
        site: Site = self.server.site  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        with site.lock:
            site.counts[path] += 1
            site.agents.add(self.headers.get("User-Agent", ""))
            site.inflight += 1
            site.most_at_once = max(site.most_at_once, site.inflight)
        try:
            self._serve(site, path)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading (the size limit)
        finally:
            with site.lock:
                site.inflight -= 1

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _serve(self, site: Site, path: str) -> None:
        if path.startswith("/500"):
            return self._send(500, b"server error", {"Content-Type": "text/plain"})
        if path == "/loop":
            return self._send(302, headers={"Location": "/loop"})
        if path == "/big":  # no Content-Length: the client must stop reading at its limit
            return self._send(
                200, b"<html><body><p>" + b"filler words " * 20_000, {"Content-Type": "text/html"}
            )
        name = site.routes.get(path)
        if name is None:
            return self._send(404, b"not found", {"Content-Type": "text/plain"})
        body = (FIXTURES / name).read_bytes().replace(b"{{BASE}}", site.base.encode())
        kind = {"rss.xml": "application/rss+xml", "atom.xml": "application/atom+xml"}.get(
            path.lstrip("/"), "text/html; charset=utf-8"
        )
        if path == "/atom.xml":  # validated by date only
            validator = {"Last-Modified": ATOM_MODIFIED}
            unchanged = self.headers.get("If-Modified-Since") == ATOM_MODIFIED
        else:
            validator = {"ETag": f'"{hashlib.sha1(body).hexdigest()[:16]}"'}
            unchanged = self.headers.get("If-None-Match") == validator["ETag"]
        if unchanged:
            with site.lock:
                site.not_modified[path] += 1
            return self._send(304, headers=validator)
        return self._send(200, body, {"Content-Type": kind, "Content-Length": str(len(body)), **validator})


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    """The local server, for this module."""
    from conftest import free_port

    served = Site()
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    server.site = served  # type: ignore[attr-defined]
    served.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with pytest.MonkeyPatch.context() as patch:
        for name in _PROXY_VARIABLES:  # the requests go straight to 127.0.0.1
            patch.delenv(name, raising=False)
        yield served
    server.shutdown()
    server.server_close()


@dataclass
class Web:
    """The module's data folder, its ingestor, and the first poll of the two feeds."""

    settings: Settings
    ingestor: Ingestor
    first: PollReport

    def rows(self) -> dict[str, tuple[str | None, str | None, str | None]]:
        """Stored articles: title -> (date, outlet, url)."""
        return {r.title: (r.published, r.outlet, r.url) for r in self.ingestor.catalog.rows()}


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, site: Site) -> Web:
    """Two feeds listed in a fresh data folder, polled once."""
    data = tmp_path_factory.mktemp("feeds") / "data"
    settings = Settings(data_dir=data, fetch_delay=0, fetch_timeout=10, fetch_max_mb=LIMIT_MB)
    feeds = FeedList(data)
    feeds.add(site.url("/rss.xml"))
    feeds.add(site.url("/atom.xml"))
    ingestor = Ingestor(settings)
    return Web(settings, ingestor, poll_feeds(settings, ingestor=ingestor))


def test_poll_reads_titles_dates_and_outlets(web: Web, site: Site) -> None:
    report = web.first
    gone = site.url("/articles/gone.html")
    assert report.errors == []
    assert report.notes == [(gone, "HTTP 404 Not Found; the feed's own text of the article was kept instead")]
    assert (report.feeds_checked, report.pages_fetched, report.added, report.replaced) == (2, 4, 5, 0)
    assert web.rows() == {
        # the page's own title, date and site name win over the entry's (dated 2024-03-05)
        "Port strike ends after nine days": (
            "2024-03-04",
            "The Harbor Gazette",
            site.url("/articles/port-strike.html"),
        ),
        # a page with no title, date or site name: the entry's, and the feed's title as the outlet
        "Council approves new bridge budget": (
            "2024-03-02",
            "Harbor Gazette",
            site.url("/articles/bridge-budget.html"),
        ),
        "Ferry service to resume in April": (
            "2024-03-06",
            "The Harbor Gazette",
            site.url("/articles/ferry.html"),
        ),
        "Wind farm approved off the northern coast": (
            "2024-03-06",
            "Northern Ledger",
            site.url("/articles/wind-farm.html"),
        ),
        # its page is gone, but the Atom entry carries the whole article
        "Mountain road reopens after rockfall": ("2024-03-05", "Northern Ledger", gone),
    }
    bridge = next(r for r in web.ingestor.catalog.rows() if r.title.startswith("Council"))
    assert Path(bridge.source_path).is_relative_to(web.settings.data_dir.resolve() / "web")
    listed = {f.url: f for f in FeedList(web.settings.data_dir).feeds()}
    rss, atom = listed[site.url("/rss.xml")], listed[site.url("/atom.xml")]
    assert (rss.title, rss.last_added, rss.last_error, atom.title, atom.last_added) == (
        "Harbor Gazette",
        3,
        None,
        "Northern Ledger",
        2,
    )
    assert rss.etag and rss.last_modified is None and atom.last_modified == ATOM_MODIFIED and not atom.etag
    assert site.most_at_once == 1  # one request at a time to the one host
    assert all(agent.startswith("newsqa/") and agent.endswith("(+local)") for agent in site.agents)


def test_second_poll_with_unchanged_validators_fetches_nothing(web: Web, site: Site) -> None:
    before = site.seen()
    report = poll_feeds(web.settings, ingestor=web.ingestor)
    assert site.seen() - before == Counter({"/rss.xml": 1, "/atom.xml": 1})  # no page requested
    assert site.not_modified == Counter({"/rss.xml": 1, "/atom.xml": 1})
    assert (report.feeds_checked, report.feeds_unchanged, report.pages_fetched, report.files) == (2, 2, 0, [])
    assert (report.added, report.replaced, report.errors) == (0, 0, [])
    assert "2 feed(s) checked (2 not modified), 0 page(s) fetched" in report.summary()
    assert len(web.rows()) == 5


def test_a_changed_entry_is_replaced(web: Web, site: Site) -> None:
    site.routes["/rss.xml"] = "rss-v2.xml"  # the ferry entry changed, and so did its page
    site.routes["/articles/ferry.html"] = "ferry-v2.html"
    before = site.seen()
    report = poll_feeds(web.settings, ingestor=web.ingestor)
    # only the changed entry's page is fetched (conditionally: its ETag changed, so 200)
    assert site.seen() - before == Counter({"/rss.xml": 1, "/atom.xml": 1, "/articles/ferry.html": 1})
    assert (report.feeds_unchanged, report.pages_fetched, report.pages_unchanged) == (1, 1, 2)
    assert (report.added, report.replaced, report.unchanged, report.errors) == (0, 1, 2, [])
    rows = web.rows()
    assert "Ferry service to resume in April" not in rows and len(rows) == 5
    assert rows["Ferry service delayed until May after new pier damage"] == (
        "2024-03-07",
        "The Harbor Gazette",
        site.url("/articles/ferry.html"),
    )
    chunk_ids, _, _ = web.ingestor.store.all_chunks()
    per_article = Counter(chunk_id.split(":")[0] for chunk_id in chunk_ids)
    assert per_article == {r.id: r.n_chunks for r in web.ingestor.catalog.rows()}  # no stale chunk
    assert FeedList(web.settings.data_dir).get(site.url("/rss.xml")).last_added == 1


def test_bad_urls_each_get_a_clear_error_and_the_rest_is_ingested(web: Web, site: Site) -> None:
    page = site.url("/articles/extra.html")
    args = [site.url("/500/feed.xml"), site.url("/big"), "ftp://127.0.0.1/feed.xml", site.url("/loop")]
    args += ["file:///etc/hostname", page]
    env = {"NEWSQA_FETCH_MAX_MB": str(LIMIT_MB), "NEWSQA_FETCH_DELAY": "0"}
    result = CliRunner().invoke(
        cli, ["--data-dir", str(web.settings.data_dir), "ingest", "--quiet", *args], env=env
    )
    assert result.exit_code == 1, result.output
    failed = sorted(line.strip() for line in result.output.splitlines() if line.strip().startswith("failed:"))
    assert failed == sorted(
        [
            f"failed: {site.url('/500/feed.xml')}: HTTP 500 Internal Server Error",
            f"failed: {site.url('/big')}: larger than the 0.05 MB limit (NEWSQA_FETCH_MAX_MB)",
            "failed: ftp://127.0.0.1/feed.xml: only http:// and https:// URLs are fetched, not 'ftp:' URLs",
            f"failed: {site.url('/loop')}: redirect loop ({site.url('/loop')} -> {site.url('/loop')})",
            "failed: file:///etc/hostname: only http:// and https:// URLs are fetched, not 'file:' URLs",
        ]
    )
    assert "web: 0 feed(s) checked (0 not modified), 1 page(s) fetched" in result.output
    assert "added 1 article(s)" in result.output
    # a page with no site name and no feed: the outlet is the URL's host
    assert web.rows()["Library opens late on weeknights"] == ("2024-03-08", "127.0.0.1", page)


def test_a_page_given_again_is_asked_conditionally(web: Web, site: Site) -> None:
    path = "/articles/extra.html"
    before = site.not_modified[path]
    fetched, ingest = ingest_urls(web.settings, [site.url(path)], web.ingestor, progress=False)
    assert site.not_modified[path] == before + 1  # 304: not downloaded again
    assert (fetched.pages_fetched, fetched.pages_unchanged, fetched.errors) == (0, 1, [])
    assert (len(ingest.added), len(ingest.unchanged), ingest.ok) == (0, 1, True)


def test_a_failing_listed_feed_is_reported_and_the_others_polled(web: Web, site: Site) -> None:
    broken = site.url("/500/listed.xml")
    FeedList(web.settings.data_dir).add(broken)
    report = poll_feeds(web.settings, ingestor=web.ingestor)
    assert report.errors == [(broken, "HTTP 500 Internal Server Error")]
    assert (report.feeds_checked, report.feeds_unchanged) == (2, 2)
    result = CliRunner().invoke(cli, ["--data-dir", str(web.settings.data_dir), "feeds", "list"])
    assert result.exit_code == 0, result.output
    assert f"{broken}\n    last checked " in result.output
    assert "error: HTTP 500 Internal Server Error" in result.output
    assert f"{site.url('/rss.xml')}  (Harbor Gazette)" in result.output
    FeedList(web.settings.data_dir).remove(broken)


def test_prune_of_a_user_folder_keeps_web_articles(web: Web, tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "note.txt").write_text(
        "Tram line extended\nMarch 9, 2024\nThe tram line now reaches the port.\n"
    )
    assert len(web.ingestor.ingest([folder], progress=False).added) == 1
    (folder / "note.txt").unlink()
    report = web.ingestor.ingest([folder], progress=False, prune=True)
    assert len(report.pruned) == 1
    assert "Tram line extended" not in web.rows() and len(web.rows()) == 6  # the web articles stay


def test_feeds_commands_keep_the_list(tmp_path: Path) -> None:
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli, ["--data-dir", str(tmp_path / "data"), "feeds", *args])
        return result.exit_code, result.output

    assert run("list") == (0, "no feeds listed (add one with: newsqa feeds add URL)\n")
    code, output = run("add", "ftp://news.example/feed.xml")
    assert code == 1 and "only http:// and https:// URLs are fetched, not 'ftp:' URLs" in output
    assert run("add", "https://news.example/feed.xml") == (0, "added: https://news.example/feed.xml\n")
    assert run("add", "https://news.example/feed.xml") == (
        0,
        "already listed: https://news.example/feed.xml\n",
    )
    code, output = run("list")
    assert output == "https://news.example/feed.xml\n    last checked never · added -\n"  # nothing fetched
    assert run("remove", "https://news.example/feed.xml") == (0, "removed: https://news.example/feed.xml\n")
    code, output = run("remove", "https://news.example/feed.xml")
    assert code == 1 and "not listed: https://news.example/feed.xml" in output
    assert run("list")[1].startswith("no feeds listed")


def test_feed_detection_and_url_checks() -> None:
    rss = (FIXTURES / "rss.xml").read_bytes()
    assert looks_like_feed(rss) and looks_like_feed(b"{}", "application/atom+xml; charset=utf-8")
    assert not looks_like_feed((FIXTURES / "ferry.html").read_bytes(), "text/html")
    feed = read_feed(rss, "http://127.0.0.1/rss.xml")
    assert (feed.version, feed.title, len(feed.entries)) == ("rss20", "Harbor Gazette", 3)
    with pytest.raises(TypeError):
        read_feed("http://127.0.0.1/rss.xml", "http://127.0.0.1/rss.xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not an RSS or Atom feed"):
        read_feed(b"<html><body>no feed</body></html>", "http://127.0.0.1/x")
    for bad, reason in [("gopher://x.example/", "not 'gopher:' URLs"), ("http://", "no host")]:
        with pytest.raises(FetchError, match=reason):
            check_url(bad)


def test_nothing_is_fetched_without_a_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("newsqa fetched something it was not given")

    monkeypatch.setattr(Fetcher, "fetch", refuse)
    (tmp_path / "tram.txt").write_text(
        "Tram line extended\nMarch 9, 2024\nThe tram line now reaches the port.\n"
    )
    data = tmp_path / "data"
    for args in (
        ["feeds", "add", "https://news.example/feed.xml"],  # listing a feed fetches nothing
        ["feeds", "list"],
        ["ingest", "--quiet", str(tmp_path / "tram.txt")],  # nor does ingesting files with a feed listed
    ):
        result = CliRunner().invoke(cli, ["--data-dir", str(data), *args])
        assert result.exit_code == 0, result.output
    assert not (data / "web").exists()


def test_watch_polls_the_feed_list_on_its_clock(site: Site, tmp_path: Path) -> None:
    from index.watch import Watcher
    from qa.ui.library import feeds_markdown

    settings = Settings(data_dir=tmp_path / "data", fetch_delay=0, fetch_timeout=10, fetch_max_mb=LIMIT_MB)
    FeedList(settings.data_dir).add(site.url("/rss.xml"))
    lines: list[str] = []
    watcher = Watcher(Ingestor(settings), [], feed_minutes=0.01, echo=lines.append)  # every 0.6 s
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while len([line for line in lines if " feeds: " in line]) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=30)
    polls = [line for line in lines if " feeds: " in line]
    assert len(polls) >= 2 and not thread.is_alive(), lines
    assert "added 3 article(s)" in polls[0] and "added 0 article(s)" in polls[1], polls
    assert "1 feed(s) checked (1 not modified)" in polls[1]  # the second check: a 304, nothing more
    (feed,) = FeedList(settings.data_dir).feeds()
    assert feed.last_checked and feed.last_added == 0
    assert "Harbor Gazette" in feeds_markdown([feed], settings.watch_feed_minutes)
