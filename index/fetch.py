"""Polite HTTP fetching of feeds and pages (httpx).

- Only ``http`` and ``https`` URLs, before and after every redirect; anything else is refused by name.
- Only public addresses for URLs found on the web (:mod:`index.netguard`, applied where each connection
  is made by :mod:`index.guarded_transport`): a feed entry, a sitemap's URL, any redirect hop to another
  site. A URL the operator gave (``newsqa ingest URL``, a listed feed) is fetched with its
  ``operator_url`` set to itself: its own site (host and port) may then be private, as may links on that
  site when the caller passes the operator's URL along (see :class:`Request`). ``NEWSQA_FETCH_ALLOW``
  hosts and CIDR ranges may always be reached. A refusal is a FetchError naming the address and the rule.
- One request at a time per host in this process, and ``fetch_delay`` seconds between the end of one
  request to a host and the start of the next; different hosts are fetched in parallel (a few at once).
- ``fetch_timeout`` seconds for connecting, for each read, and for the whole body; ``fetch_max_mb`` at
  most (the body is streamed, and the download stops at the limit).
- Redirects are followed by hand, at most ``MAX_REDIRECTS``; a URL that redirects back to one already
  visited is a loop.
- Conditional requests: the caller's stored ``ETag`` / ``Last-Modified`` are sent as ``If-None-Match`` /
  ``If-Modified-Since``; a ``304 Not Modified`` answer is a :class:`FetchResult` with no content.

Every problem is a :class:`FetchError` whose message is one line naming the URL; :meth:`Fetcher.fetch_all`
returns it in place of that URL's result and goes on with the others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import httpx

from index.guarded_transport import GuardedTransport, Resolver, system_resolver
from index.netguard import AddressRefused, AllowList, Policy, Site, is_public, site_of
from index.settings import Settings

MAX_REDIRECTS = 5
HOSTS_AT_ONCE = 4  # hosts fetched in parallel by ``fetch_all`` (each host's URLs one after the other)
_REDIRECT_CODES = {301, 302, 303, 307, 308}
_SCHEMES = ("http", "https")


class FetchError(Exception):
    """A URL that could not be fetched; ``str()`` is ``"<url>: <reason>"`` in one line."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = " ".join(reason.split())
        super().__init__(f"{url}: {self.reason}")


@dataclass(frozen=True)
class Request:
    """A URL to fetch, with the validators stored from its last fetch (if any).

    ``operator_url``: the URL the operator gave that this one comes from: the URL itself when the
    operator typed or listed it, the feed's (or sitemap's) URL for a link found in it. Addresses that are
    not public may then be dialled on that URL's site (host and port; 80 and 443 are one site). None, the
    default, is a URL found on the web: public addresses only (and ``NEWSQA_FETCH_ALLOW``)."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    operator_url: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """One fetched URL: its body, or (status 304) word that it has not changed since the validators sent."""

    url: str  # as asked
    final_url: str  # after redirects
    status: int
    content: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    address: str | None = None  # the address the final answer came from (the connected socket's peer)

    @property
    def not_modified(self) -> bool:
        """True for a ``304 Not Modified`` answer: nothing was downloaded."""
        return self.status == 304


def links_operator_url(given_url: str, answer: FetchResult) -> str | None:
    """The ``operator_url`` to fetch the links found in ``answer`` with, ``given_url`` being a URL the
    operator gave (a feed, a sitemap): ``given_url`` when it answered from an address that is not public
    (an intranet feed, whose links on its own site may then be private too), else None (public addresses
    only). A public feed's links are held to public addresses, so that its owner cannot point its name at
    this machine's services (DNS rebinding) and have them read."""
    return given_url if answer.address is not None and not is_public(answer.address) else None


def user_agent() -> str:
    """The User-Agent newsqa sends: ``newsqa/<version> (+local)``."""
    try:
        own = version("newsqa")
    except PackageNotFoundError:
        own = "0"
    return f"newsqa/{own} (+local)"


def is_url(text: str) -> bool:
    """Whether a command-line argument is meant as a URL (``scheme://...``), not a file path."""
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme[:1].isalpha() and all(c.isalnum() or c in "+.-" for c in scheme)


def check_url(url: str) -> str:
    """``url`` without surrounding blanks, if it is an http(s) URL with a host; else a FetchError."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # a malformed host or port raises here, not later
    except ValueError as exc:
        raise FetchError(url, f"not a valid URL ({exc})") from exc
    if parts.scheme.lower() not in _SCHEMES:
        what = f"'{parts.scheme}:' URLs" if parts.scheme else "a URL without http:// or https://"
        raise FetchError(url, f"only http:// and https:// URLs are fetched, not {what}")
    if not host:
        raise FetchError(url, "no host in the URL")
    return url


def host_key(url: str) -> str:
    """What "the same host" means for politeness: host name and port."""
    parts = urlsplit(url)
    return f"{(parts.hostname or '').lower()}:{parts.port or parts.scheme}"


class _Host:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last = float("-inf")  # time.monotonic() when the last request to it ended


_HOSTS: dict[str, _Host] = {}
_HOSTS_LOCK = threading.Lock()


@contextmanager
def _turn(host: str, delay: float) -> Iterator[None]:
    """Wait for this host's turn (in this process): the request before it ended ``delay`` seconds ago."""
    with _HOSTS_LOCK:
        state = _HOSTS.setdefault(host, _Host())
    with state.lock:
        wait = state.last + delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            yield
        finally:
            state.last = time.monotonic()


def _describe(exc: Exception, timeout: float) -> str:
    """A one-line reason for an httpx failure."""
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {timeout:g} s"
    detail = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({detail})"
    return f"{type(exc).__name__}: {detail}"


def _peer(response: httpx.Response) -> str | None:
    """The address a response came from (its connection's peer), when httpcore tells it."""
    stream = response.extensions.get("network_stream")
    try:
        peer = stream.get_extra_info("server_addr") if stream is not None else None
    except OSError:  # the connection is already gone
        return None
    return str(peer[0]) if peer else None


class Fetcher:
    """Fetches URLs politely (see the module's description); use as a context manager, or ``close()``."""

    def __init__(
        self,
        *,
        timeout: float = 20.0,
        max_bytes: int = 10_000_000,
        delay: float = 1.0,
        max_redirects: int = MAX_REDIRECTS,
        allow: AllowList | str = "",
        resolver: Resolver = system_resolver,
    ) -> None:
        """``allow``: hosts and CIDR ranges any URL may reach (``NEWSQA_FETCH_ALLOW``); ``resolver``: how
        a host name becomes addresses (tests give their own; the default asks the system once)."""
        self.timeout, self.max_bytes, self.delay, self.max_redirects = (
            timeout,
            max_bytes,
            delay,
            max_redirects,
        )
        self.allow = AllowList.parse(allow) if isinstance(allow, str) else allow
        self.resolver = resolver
        self._clients: dict[Site | None, httpx.Client] = {}  # one connection pool per policy
        self._clients_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, resolver: Resolver = system_resolver) -> Fetcher:
        """A fetcher with the timeout, size limit, per-host delay and allow list of ``settings``."""
        return cls(
            timeout=settings.fetch_timeout,
            max_bytes=int(settings.fetch_max_mb * 1_000_000),
            delay=settings.fetch_delay,
            allow=settings.fetch_allow,
            resolver=resolver,
        )

    def _client(self, operator_url: str | None) -> httpx.Client:
        """The client whose connections dial under the policy for ``operator_url``'s site. Requests under
        different policies never share a pool, so a connection opened for a trusted site is never reused
        by a web-found URL on that site."""
        trusted = site_of(operator_url) if operator_url else None
        with self._clients_lock:
            client = self._clients.get(trusted)
            if client is None:
                transport = GuardedTransport(Policy(self.allow, trusted), self.resolver)
                client = httpx.Client(
                    timeout=self.timeout,
                    follow_redirects=False,
                    headers={"User-Agent": user_agent()},
                    transport=transport,
                )
                self._clients[trusted] = client
            return client

    def close(self) -> None:
        """Close the connections."""
        with self._clients_lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def fetch(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        *,
        operator_url: str | None = None,
    ) -> FetchResult:
        """GET one URL (following redirects), conditionally when validators are given; FetchError if not.
        ``operator_url`` as in :class:`Request`: None (a URL found on the web) dials public addresses only."""
        current = check_url(url)
        client = self._client(operator_url)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        visited = [current]
        while True:
            result, location = self._get(client, url, current, headers, hop=len(visited) > 1)
            if result is not None:
                return result
            target = urljoin(current, location or "")
            if urlsplit(target).scheme.lower() not in _SCHEMES:
                raise FetchError(url, f"redirected to {target}, which is not an http(s) URL")
            if target in visited:
                raise FetchError(url, f"redirect loop ({' -> '.join([*visited[-2:], target])})")
            if len(visited) > self.max_redirects:
                raise FetchError(url, f"more than {self.max_redirects} redirects")
            visited.append(target)
            current = target

    def _get(
        self, client: httpx.Client, url: str, current: str, headers: dict[str, str], *, hop: bool
    ) -> tuple[FetchResult | None, str | None]:
        """One request (``hop``: to where ``url`` redirected): (the result, None), or (None, the Location
        of a redirect)."""
        with _turn(host_key(current), self.delay):
            started = time.monotonic()
            try:
                with client.stream("GET", current, headers=headers) as response:
                    return self._read(url, current, response, started)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise FetchError(url, _describe(exc, self.timeout)) from exc
            except AddressRefused as exc:
                where = f" the redirect to {current}" if hop else ""
                raise FetchError(url, f"refused{where}: {exc}") from exc

    def _read(
        self, url: str, current: str, response: httpx.Response, started: float
    ) -> tuple[FetchResult | None, str | None]:
        status = response.status_code
        if status in _REDIRECT_CODES:
            location = response.headers.get("location")
            if not location:
                raise FetchError(url, f"HTTP {status} redirect without a Location header")
            return None, location
        etag, modified = response.headers.get("etag"), response.headers.get("last-modified")
        address = _peer(response)
        if status == 304:
            return FetchResult(url, current, status, etag=etag, last_modified=modified, address=address), None
        if not 200 <= status < 300:
            raise FetchError(url, f"HTTP {status} {response.reason_phrase}".strip())
        limit = f"larger than the {self.max_bytes / 1e6:g} MB limit (NEWSQA_FETCH_MAX_MB)"
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(url, limit)
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > self.max_bytes:
                raise FetchError(url, limit)
            if time.monotonic() - started > self.timeout:
                raise FetchError(url, f"took longer than {self.timeout:g} s to download")
        content_type = response.headers.get("content-type", "")
        return FetchResult(url, current, status, bytes(body), content_type, etag, modified, address), None

    def fetch_all(self, requests: Sequence[Request]) -> list[FetchResult | FetchError]:
        """Fetch every request: each host's URLs one after the other, up to ``HOSTS_AT_ONCE`` hosts at a
        time. Returns, in the order asked, each URL's result or its FetchError."""
        results: list[FetchResult | FetchError | None] = [None] * len(requests)
        by_host: dict[str, list[int]] = {}
        for i, request in enumerate(requests):
            try:
                by_host.setdefault(host_key(check_url(request.url)), []).append(i)
            except FetchError as exc:
                results[i] = exc

        def run(indexes: list[int]) -> None:
            for i in indexes:
                request = requests[i]
                try:
                    results[i] = self.fetch(
                        request.url, request.etag, request.last_modified, operator_url=request.operator_url
                    )
                except FetchError as exc:
                    results[i] = exc

        if by_host:
            workers = min(HOSTS_AT_ONCE, len(by_host))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="newsqa-fetch") as pool:
                list(pool.map(run, by_host.values()))
        return [
            r if r is not None else FetchError(requests[i].url, "not fetched") for i, r in enumerate(results)
        ]
