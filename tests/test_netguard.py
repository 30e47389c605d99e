"""Only public addresses for URLs found on the web (index/netguard.py, index/guarded_transport.py).

Nothing here dials an address outside 127.0.0.0/8, even with the rule broken: the rule is tested as a
function; the end-to-end feed is served on 127.0.0.1 and its links point to other loopback addresses
(127.0.0.2 and 127.0.0.3, each with a server that counts what reaches it), to IPv4-mapped and decimal
spellings of 127.0.0.1, and to ``news.example``, which the test's resolver (the only one used: no system
look-up) maps to 127.0.0.1. The feed is the operator's (listed), so it and its links on its own site may
be loopback; the others are refused, each in one line, and the rest of the feed is ingested. The
end-to-end tests share one data folder and build on each other, in file order.
"""

from __future__ import annotations

import ipaddress
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpcore
import pytest

from index.feedlist import FeedList
from index.fetch import Fetcher, FetchError, FetchResult, links_operator_url
from index.guarded_transport import GuardedBackend
from index.ingest import Ingestor
from index.netguard import AddressRefused, AllowList, Policy, address_rule, parse_ip, same_site, site_of
from index.settings import Settings
from index.web import poll_feeds

WEB_RULE = "URLs found on the web are fetched only from public addresses (NEWSQA_FETCH_ALLOW widens this)"
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


# --- the rule as a function ---------------------------------------------------------------------------

RULES = {
    # IPv4
    "169.254.169.254": "link-local",  # cloud metadata
    "10.0.0.1": "private",
    "172.16.5.4": "private",
    "192.168.1.1": "private",
    "127.0.0.1": "loopback",
    "127.9.9.9": "loopback",
    "0.0.0.0": "unspecified",
    "224.0.0.1": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "100.64.0.1": "special-purpose",  # shared (carrier-grade NAT)
    "192.0.0.8": "special-purpose",
    # IPv6
    "::1": "loopback",
    "::": "unspecified",
    "fe80::1": "link-local",
    "fe80::1%eth0": "link-local",
    "fd12:3456::1": "private",
    "ff02::1": "multicast",
    "fec0::1": "site-local",
    "::127.0.0.1": "reserved",  # IPv4-compatible (deprecated)
    # IPv4 inside IPv6
    "::ffff:127.0.0.1": "loopback",
    "::ffff:169.254.169.254": "link-local",
    "::ffff:10.0.0.1": "private",
    "64:ff9b::a9fe:a9fe": "link-local",  # NAT64 of 169.254.169.254
    "2002:7f00:1::": "loopback",  # 6to4 of 127.0.0.1
    # odd spellings (inet_aton's)
    "2130706433": "loopback",
    "0177.0.0.1": "loopback",
    "0x7f.1": "loopback",
    "0x7f000001": "loopback",
    "127.1": "loopback",
    "017700000001": "loopback",
    "0251.0376.0251.0376": "link-local",
    "0xa9.0xfe.0xa9.0xfe": "link-local",
    "10.1": "private",
    "[::1]": "loopback",
    "127.0.0.1.": "loopback",
    # public
    "8.8.8.8": None,
    "93.184.216.34": None,
    "2606:4700:4700::1111": None,
    "::ffff:8.8.8.8": None,
    "64:ff9b::808:808": None,
    "2002:808:808::1": None,
    "134744072": None,  # 8.8.8.8 in decimal
}


@pytest.mark.parametrize(("address", "rule"), RULES.items())
def test_the_rule_names_what_each_address_is(address: str, rule: str | None) -> None:
    assert address_rule(address) == rule


def test_odd_spellings_are_read_as_the_addresses_they_are() -> None:
    v4 = ipaddress.IPv4Address
    assert parse_ip("2130706433") == parse_ip("0177.0.0.1") == parse_ip("0x7f.0.0.1") == v4("127.0.0.1")
    assert parse_ip("fe80::1%25eth0") == ipaddress.IPv6Address("fe80::1%eth0")  # a zone id as URLs write it
    for name in ("256.1.1.1", "1.2.3.4.5", "0x", "09.1.1.1", "4294967296", "example.org", "", "1e3"):
        assert parse_ip(name) is None, name  # not an address: a name, looked up (and its answer checked)
    with pytest.raises(ValueError, match="not an IP address"):
        address_rule("example.org")


def test_allow_list_sites_and_policy() -> None:
    allow = AllowList.parse("10.0.0.0/8, wiki.corp *.lan\n127.0.0.2")
    assert str(allow) == "*.lan, wiki.corp, 10.0.0.0/8, 127.0.0.2/32"
    ip = ipaddress.ip_address
    assert allow.covers("a", ip("10.2.3.4")) and allow.covers("a", ip("::ffff:10.2.3.4"))
    assert allow.covers("WIKI.corp.", ip("127.0.0.1")) and allow.covers("x.y.lan", ip("::1"))
    assert not allow.covers("lan", ip("192.168.0.1")) and not allow.covers("a", ip("127.0.0.3"))
    for bad, reason in [("10.0.0.0/33", "not a CIDR range"), ("bad!host", "neither a host name")]:
        with pytest.raises(ValueError, match=reason):
            AllowList.parse(bad)
    assert site_of("http://Example.org./x") == ("example.org", 80)
    assert site_of("https://[::1]:8443/") == ("::1", 8443) and site_of("http://h:99999/") is None
    assert same_site(("h", 80), ("h", 443)) and not same_site(("h", 80), ("h", 8000))
    policy = Policy(allow, trusted=("intranet", 80))
    assert policy.refusal("intranet", 443, ip("192.168.0.9")) is None  # its https side
    assert policy.refusal("intranet", 8000, ip("192.168.0.9")) == "private"  # another port: another service
    assert policy.refusal("elsewhere", 80, ip("169.254.169.254")) == "link-local"
    assert policy.refusal("elsewhere", 80, ip("8.8.8.8")) is None


def test_the_setting_reads_env_and_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "newsqa.toml").write_text('fetch_allow = ["10.0.0.0/8", "wiki.corp"]\n')
    assert Settings().fetch_allow == "10.0.0.0/8, wiki.corp"
    monkeypatch.setenv("NEWSQA_FETCH_ALLOW", "192.168.0.0/16 news.corp")
    assert Fetcher.from_settings(Settings()).allow == AllowList.parse("news.corp, 192.168.0.0/16")
    monkeypatch.setenv("NEWSQA_FETCH_ALLOW", "10.0.0.0/33")
    with pytest.raises(ValueError, match="NEWSQA_FETCH_ALLOW: '10.0.0.0/33' is not a CIDR range"):
        Settings()


class _Stream:
    """A connected stream as httpcore's backend returns it; ``peer`` is what getpeername() says."""

    def __init__(self, peer: str) -> None:
        self.peer, self.closed = peer, False

    def get_extra_info(self, info: str) -> object:
        return (self.peer, 80) if info == "server_addr" else None

    def close(self) -> None:
        self.closed = True


class _Dialler:
    """httpcore's backend stand-in: records what would be dialled, dials nothing."""

    def __init__(self, peer: str | None = None) -> None:
        self.dialled: list[str] = []
        self.peer = peer
        self.stream: _Stream | None = None

    def connect_tcp(self, host: str, port: int, *args: object) -> _Stream:
        self.dialled.append(host)
        self.stream = _Stream(self.peer or host)
        return self.stream


def test_every_address_is_checked_before_any_is_dialled_and_the_peer_after() -> None:
    dialler = _Dialler()
    backend = GuardedBackend(Policy(), lambda host, port: ["127.0.0.1", "10.0.0.1"], dialler)  # type: ignore[arg-type]
    with pytest.raises(AddressRefused) as refused:
        backend.connect_tcp("mixed.example", 80)
    assert (
        str(refused.value)
        == f"mixed.example resolves to 127.0.0.1, not a public address (loopback); {WEB_RULE}"
    )
    assert dialler.dialled == []
    # allowed by name, dialled at the resolved address (no second look-up), and its peer checked again
    calls: list[str] = []
    resolver = lambda host, port: calls.append(host) or ["127.0.0.1"]  # noqa: E731
    dialler = _Dialler()
    backend = GuardedBackend(Policy(AllowList.parse("intranet.example")), resolver, dialler)  # type: ignore[arg-type]
    backend.connect_tcp("intranet.example", 80)
    assert (calls, dialler.dialled) == (["intranet.example"], ["127.0.0.1"])
    # a socket whose peer is not the address checked (whatever the cause) is closed and refused
    dialler = _Dialler(peer="::ffff:169.254.169.254")
    backend = GuardedBackend(Policy(AllowList.parse("127.0.0.1")), inner=dialler)  # type: ignore[arg-type]
    with pytest.raises(
        AddressRefused,
        match=r"^127\.0\.0\.1 was reached at ::ffff:169\.254\.169\.254, not a public address \(link-local\)",
    ):
        backend.connect_tcp("127.0.0.1", 80)
    assert dialler.stream is not None and dialler.stream.closed


def test_only_a_feed_answered_from_a_private_address_vouches_for_its_site() -> None:
    feed = "http://news.example/rss.xml"
    assert links_operator_url(feed, FetchResult(feed, feed, 200, address="127.0.0.1")) == feed
    assert links_operator_url(feed, FetchResult(feed, feed, 200, address="10.1.2.3")) == feed
    # a public feed's own links must be public too: its owner could point its name at this machine
    assert links_operator_url(feed, FetchResult(feed, feed, 200, address="93.184.216.34")) is None
    assert links_operator_url(feed, FetchResult(feed, feed, 200)) is None


# --- end to end: a feed on 127.0.0.1 ------------------------------------------------------------------

ARTICLES = {
    "harbor": ("Harbor crane collapses in storm", "A crane at the container terminal fell onto an empty "
               "quay during the night storm, the port authority said. Nobody was hurt, and the terminal "
               "will reopen on Monday once engineers have checked the other cranes."),
    "second": ("Intranet memo on canteen hours", "The staff canteen on the second floor will open at "
               "seven from next week, the facilities team wrote, so that the early shift can have "
               "breakfast before the ferry arrives."),
    "named": ("Museum extends its winter exhibition", "The maritime museum keeps its exhibition of ship "
              "models open until the end of February, after twice as many visitors came in January as "
              "the curators had planned for."),
}  # fmt: skip


def _page(key: str) -> bytes:
    title, text = ARTICLES.get(key, (f"Page {key}", f"This page {key} should never have been fetched. " * 4))
    return (
        f'<html><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta property="article:published_time" content="2024-04-02T09:00:00Z"></head>'
        f"<body><article><h1>{title}</h1><p>{text}</p><p>{text}</p></article></body></html>"
    ).encode()


class Server:
    """An HTTP/1.1 (keep-alive) server on one loopback address: the feed, article pages, a redirect;
    counts the paths asked."""

    def __init__(self, address: str) -> None:
        self.counts: Counter[str] = Counter()
        self.feed = b""
        self.redirect = ""
        handler = type("Handler", (_Handler,), {"owner": self})
        self.httpd = ThreadingHTTPServer((address, 0), handler)  # a free port on that address
        self.port = self.httpd.server_address[1]
        self.base = f"http://{address}:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        """Quiet."""

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        """Count, then serve the feed, the redirect or a page."""
        path = urlsplit(self.path).path
        self.owner.counts[path] += 1
        if path == "/feed.xml":
            status, body, headers = 200, self.owner.feed, {"Content-Type": "application/rss+xml"}
        elif path == "/hop":
            status, body, headers = 302, b"", {"Location": self.owner.redirect}
        else:
            status, body, headers = 200, _page(Path(path).stem), {"Content-Type": "text/html; charset=utf-8"}
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@dataclass
class Net:
    """The three servers, the feed's entry URLs, and the resolver the fetches use."""

    main: Server  # 127.0.0.1: the feed
    second: Server  # 127.0.0.2
    third: Server  # 127.0.0.3: where /hop on the feed's host redirects
    links: dict[str, str]
    looked_up: list[str]

    def resolve(self, host: str, port: int) -> list[str]:
        """The test resolver: news.example is 127.0.0.1; any other name does not exist (no system look-up)."""
        self.looked_up.append(host)
        if host == "news.example":
            return ["127.0.0.1"]
        raise httpcore.ConnectError(f"test resolver: no such host {host}")


def _rss(links: dict[str, str]) -> bytes:
    items = "".join(
        f"<item><title>Entry {key}</title><link>{url}</link><description>Short teaser.</description>"
        f"<pubDate>Tue, 02 Apr 2024 09:00:00 GMT</pubDate></item>"
        for key, url in links.items()
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Loopback Ledger</title>{items}</channel></rss>'.encode()


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    """The servers and the feed, for this module."""
    main, second, third = Server("127.0.0.1"), Server("127.0.0.2"), Server("127.0.0.3")
    port = main.port
    links = {
        "harbor": f"{main.base}/articles/harbor.html",  # the feed's own site: allowed
        "second": f"{second.base}/articles/second.html",  # another loopback address
        "mapped": f"http://[::ffff:127.0.0.1]:{port}/articles/mapped.html",  # IPv4-mapped IPv6 loopback
        "named": f"http://news.example:{port}/articles/named.html",  # a public-looking name -> 127.0.0.1
        "decimal": f"http://2130706433:{port}/articles/decimal.html",  # 127.0.0.1 spelt in decimal
        "hop": f"{main.base}/hop",  # the feed's own site, redirecting to 127.0.0.3
    }
    main.feed = _rss(links)
    main.redirect = f"{third.base}/articles/third.html"
    with pytest.MonkeyPatch.context() as patch:
        for name in _PROXY_VARIABLES:
            patch.delenv(name, raising=False)
        patch.delenv("NEWSQA_FETCH_ALLOW", raising=False)
        yield Net(main, second, third, links, [])
    for server in (main, second, third):
        server.close()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, net: Net) -> Path:
    """One data folder for the module, the feed listed in it."""
    data = tmp_path_factory.mktemp("netguard") / "data"
    FeedList(data).add(f"{net.main.base}/feed.xml")
    return data


@pytest.fixture(scope="module")
def ingestor(data_dir: Path) -> Ingestor:
    """The module's ingestor (one embedding model load)."""
    return Ingestor(Settings(data_dir=data_dir))


def _poll(net: Net, data_dir: Path, ingestor: Ingestor) -> tuple[list[tuple[str, str]], int, str]:
    settings = Settings(data_dir=data_dir, fetch_delay=0, fetch_timeout=5)
    with Fetcher.from_settings(settings, resolver=net.resolve) as fetcher:
        report = poll_feeds(settings, ingestor=ingestor, fetcher=fetcher)
    return sorted(report.errors), report.added, report.summary()


def _refused(net: Net, *keys: str) -> list[tuple[str, str]]:
    third = net.third.base
    why = {
        "second": f"refused: 127.0.0.2 is not a public address (loopback); {WEB_RULE}",
        "mapped": f"refused: ::ffff:127.0.0.1 is not a public address (loopback); {WEB_RULE}",
        "named": f"refused: news.example resolves to 127.0.0.1, not a public address (loopback); {WEB_RULE}",
        "decimal": f"refused: 127.0.0.1 is not a public address (loopback); {WEB_RULE}",
        "hop": f"refused the redirect to {third}/articles/third.html: 127.0.0.3 is not a public address "
        f"(loopback); {WEB_RULE}",
    }
    return sorted((net.links[k], why[k]) for k in keys)


def test_links_to_internal_addresses_are_refused_one_line_each(
    net: Net, data_dir: Path, ingestor: Ingestor
) -> None:
    errors, added, summary = _poll(net, data_dir, ingestor)
    assert errors == _refused(net, "second", "mapped", "named", "decimal", "hop")
    for url, reason in errors:
        assert f"\n  failed: {url}: {reason}" in summary  # one line each
    assert added == 1  # the rest of the feed: its one entry on the feed's own site
    assert [r.title for r in ingestor.catalog.rows()] == ["Harbor crane collapses in storm"]
    # nothing but the feed's own site was reached: 127.0.0.1 saw only the feed, its page and the hop
    assert net.main.counts == Counter({"/feed.xml": 1, "/articles/harbor.html": 1, "/hop": 1})
    assert (net.second.counts, net.third.counts) == (Counter(), Counter())
    assert net.looked_up == ["news.example"]  # once; the addresses were refused before any dial
    (feed,) = FeedList(data_dir).feeds()
    assert feed.last_error == "5 article page(s) failed; retried at the next check"


def test_fetch_allow_lets_the_intranet_through(
    net: Net, data_dir: Path, ingestor: Ingestor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSQA_FETCH_ALLOW", "127.0.0.2/32, news.example")
    net.looked_up.clear()
    errors, added, _ = _poll(net, data_dir, ingestor)  # the feed is read whole again (its pages failed)
    assert errors == _refused(net, "mapped", "decimal", "hop")  # not in the allow list
    assert added == 2
    titles = {r.title for r in ingestor.catalog.rows()}
    assert titles == {"Harbor crane collapses in storm", "Intranet memo on canteen hours",
                      "Museum extends its winter exhibition"}  # fmt: skip
    assert net.second.counts == Counter({"/articles/second.html": 1})
    assert net.main.counts["/articles/named.html"] == 1  # news.example, dialled at the address resolved
    assert net.looked_up == ["news.example"] and net.third.counts == Counter()


def test_a_url_is_web_found_unless_the_caller_says_it_is_the_operators(net: Net) -> None:
    page = f"{net.main.base}/articles/harbor.html"
    other = f"{net.main.base}/articles/other.html"
    before = net.main.counts.copy()
    with Fetcher(delay=0, timeout=5, resolver=net.resolve) as fetcher:
        # the operator's URL: its own site may be loopback (a kept-alive connection is opened) ...
        assert fetcher.fetch(page, operator_url=page).address == "127.0.0.1"
        # ... and a URL found on the web on that same site never gets that connection: refused
        with pytest.raises(FetchError) as refused:
            fetcher.fetch(other)
        assert (
            str(refused.value)
            == f"{other}: refused: 127.0.0.1 is not a public address (loopback); {WEB_RULE}"
        )
        # a link found in the operator's feed on the feed's own site: allowed
        assert fetcher.fetch(other, operator_url=f"{net.main.base}/feed.xml").status == 200
    assert net.main.counts - before == Counter({"/articles/harbor.html": 1, "/articles/other.html": 1})
