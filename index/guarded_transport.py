"""An httpx transport that dials only the addresses a :class:`~index.netguard.Policy` allows.

The check happens where the connection is made, in httpcore's network backend: the host is resolved
once (an address literal in any spelling is read, not looked up), **every** address it resolves to is
checked before any is dialled, the connection is made to those very addresses (so no second look-up can
answer differently: DNS rebinding), and the peer of the connected socket (``getpeername()``) is checked
again. Each redirect is a new request, so each hop's connection goes through the same check; a pooled
connection is reused only by requests of the same transport, i.e. under the same policy.

A refusal raises :class:`~index.netguard.AddressRefused` out of the request (httpx passes exceptions that
are not httpcore's through unchanged). TLS still verifies the certificate against the URL's host name.
Connections are direct: proxies from the environment are not used, since through a proxy the address
dialled would be the proxy's and the target's could not be checked.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Sequence

import httpcore
import httpx

from index.netguard import IPAddress, Policy, parse_ip

Resolver = Callable[[str, int], Sequence[str]]  # (host, port) -> addresses, as strings


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``getaddrinfo`` gives for ``host`` (one look-up), in its order, without repeats."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's synchronous backend with the policy applied to every TCP connection."""

    def __init__(
        self,
        policy: Policy,
        resolver: Resolver = system_resolver,
        inner: httpcore.NetworkBackend | None = None,
    ) -> None:
        """``inner``: what makes the connections to the checked addresses (httpcore's own backend)."""
        self.policy = policy
        self.resolver = resolver
        self._inner = inner or httpcore.SyncBackend()

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """Where ``host`` is: the address it spells, or what one look-up answers; each one allowed by the
        policy (else :class:`~index.netguard.AddressRefused` for the first that is not)."""
        literal = parse_ip(host)
        found = [literal] if literal is not None else [parse_ip(a) for a in self.resolver(host, port)]
        addresses = [a for a in found if a is not None]
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            self.policy.check(host, port, address)
        return addresses

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Connect to the first of the host's (checked) addresses that answers; check the peer."""
        error: Exception | None = None
        for address in self.addresses(host, port):
            try:
                stream = self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                continue
            self.check_peer(stream, host, port)
            return stream
        assert error is not None  # addresses() returned at least one
        raise error

    def check_peer(self, stream: httpcore.NetworkStream, host: str, port: int) -> None:
        """Check the address the socket is connected to; close it and refuse when it is not allowed."""
        peer = stream.get_extra_info("server_addr")
        address = parse_ip(str(peer[0])) if peer else None
        try:
            if address is None:
                raise httpcore.ConnectError(f"cannot tell which address {host} was reached at")
            self.policy.check(host, port, address, connected=True)
        except Exception:
            stream.close()
            raise

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Not used: fetches go over TCP only."""
        raise httpcore.ConnectError("newsqa fetches over TCP only, not Unix sockets")

    def sleep(self, seconds: float) -> None:
        """As httpcore's own backend."""
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own HTTP transport, its connection pool dialling through :class:`GuardedBackend`."""

    def __init__(
        self, policy: Policy, resolver: Resolver = system_resolver, limits: httpx.Limits | None = None
    ) -> None:
        super().__init__(trust_env=True)
        limits = limits or httpx.Limits()
        self.backend = GuardedBackend(policy, resolver)
        # httpx offers no hook for the network backend: its pool is replaced by the same httpcore pool
        # (as HTTPTransport builds it) with ours; tests/test_netguard.py fails if this stops applying.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=True),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=self.backend,
        )
