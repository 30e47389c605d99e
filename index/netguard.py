"""Which network addresses a fetch may dial: the rule against server-side request forgery.

A URL found on the web (a feed entry, a sitemap, a redirect) is fetched only from **public** addresses:
not loopback, private, link-local, multicast, reserved, unspecified or otherwise special-purpose, in IPv4
and IPv6, with the IPv4 address inside an IPv4-mapped, NAT64 or 6to4 IPv6 address judged as IPv4, and a
host spelled as an address in any form ``inet_aton`` accepts (``2130706433``, ``0177.0.0.1``,
``0x7f.1``) read as that address. Two things widen it:

- the **site of a URL the operator gave** (host and port; ports 80 and 443 of one host count as one site),
  which may be on a private network, and so may the links on it (:class:`Policy`);
- ``NEWSQA_FETCH_ALLOW``: host names (``wiki.corp``, or ``*.corp`` for its subdomains) and CIDR ranges
  (``10.0.0.0/8``) any fetch may reach (:class:`AllowList`).

This module only decides; :mod:`index.guarded_transport` applies the decision to the address actually
dialled. Standard library only, and nothing happens on import.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Site = tuple[str, int]  # (host in lower case, port)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # NAT64's well-known prefix: IPv4 in the last 32 bits
_SPECIAL = tuple(  # not globally reachable (IANA), though this Python's tables may call them global
    ipaddress.ip_network(n) for n in ("192.0.0.0/24", "192.88.99.0/24", "64:ff9b:1::/48", "3fff::/20")
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_WEB_PORTS = frozenset(_DEFAULT_PORTS.values())
_PART = re.compile(r"^(?:0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*)$")  # one inet_aton part: hex, octal, decimal
_HOST_PATTERN = re.compile(r"^(?:\*\.)?[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?$")


class AddressRefused(Exception):
    """A host that resolves to an address the policy does not allow; ``str()`` is one line naming the
    address and the rule it breaks."""

    def __init__(self, host: str, address: IPAddress, rule: str, *, connected: bool = False) -> None:
        self.host, self.address, self.rule = host, address, rule
        shown = show_ip(address)
        if connected:  # the connected socket's peer
            where = f"{host} was reached at {shown},"
        elif parse_ip(host) is not None:
            where = f"{shown} is"
        else:
            where = f"{host} resolves to {shown},"
        super().__init__(
            f"{where} not a public address ({rule}); URLs found on the web are fetched only from public "
            "addresses (NEWSQA_FETCH_ALLOW widens this)"
        )


def _inet_aton(text: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address in any spelling ``inet_aton`` accepts (1 to 4 parts, each decimal, octal with a
    leading 0, or hex with 0x; the last part fills the remaining bytes), else None."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or not all(_PART.match(p) for p in parts):
        return None
    try:
        values = [int(p, 16) if p[:2].lower() == "0x" else int(p, 8) if p.startswith("0") else int(p)
                  for p in parts]  # fmt: skip
    except ValueError:  # a bare "0x"
        return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = last
    for i, value in enumerate(head):
        number += value << (8 * (3 - i))
    return ipaddress.IPv4Address(number)


def parse_ip(host: str) -> IPAddress | None:
    """The address a URL's host names when it is an address literal in any spelling (``[::1]``,
    ``fe80::1%eth0``, ``2130706433``, ``0177.0.0.1``, ``127.1``, a trailing dot), else None (a name)."""
    text = host.strip().strip("[]").removesuffix(".")
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text.replace("%25", "%", 1))  # a zone id, percent-encoded in URLs
        except ValueError:
            return None
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        return _inet_aton(text)


def show_ip(address: IPAddress) -> str:
    """An address as text, an IPv4-mapped one as ``::ffff:127.0.0.1`` (not ``::ffff:7f00:1``)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def _translated_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for: IPv4-mapped (``::ffff:a.b.c.d``) or NAT64
    (``64:ff9b::a.b.c.d``), whose packets go to that IPv4 address."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in _NAT64 else None


def _own_rule(ip: IPAddress) -> str | None:
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("site-local", isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("special-purpose", not ip.is_global or any(ip in n for n in _SPECIAL)),  # 100.64.0.0/10 ...
    )
    return next((name for name, broken in checks if broken), None)


def address_rule(address: IPAddress | str) -> str | None:
    """None when ``address`` is public; else the rule it breaks: ``loopback``, ``private``,
    ``link-local``, ``multicast``, ``reserved``, ``unspecified``, ``site-local`` or ``special-purpose``.
    A string is read with :func:`parse_ip` (ValueError when it is not an address)."""
    ip = parse_ip(address) if isinstance(address, str) else address
    if ip is None:
        raise ValueError(f"not an IP address: {address!r}")
    translated = _translated_ipv4(ip)
    if translated is not None:
        return _own_rule(translated)
    sixtofour = ip.sixtofour if isinstance(ip, ipaddress.IPv6Address) else None  # 2002:a.b.c.d::/48
    return (_own_rule(sixtofour) if sixtofour is not None else None) or _own_rule(ip)


def is_public(address: IPAddress | str) -> bool:
    """Whether a URL found on the web may be fetched from ``address`` (see :func:`address_rule`)."""
    return address_rule(address) is None


def _host(host: str) -> str:
    return host.strip().strip("[]").removesuffix(".").lower()


def site_of(url: str) -> Site | None:
    """A URL's site: its host (lower case) and port (80 / 443 when the URL names none); None if it has
    no host or an invalid port."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 0)
    except ValueError:
        return None
    return (_host(parts.hostname), port) if parts.hostname else None


def same_site(a: Site, b: Site) -> bool:
    """One host on one port, or on ports 80 and 443 (its http and https sides)."""
    return a[0] == b[0] and (a[1] == b[1] or {a[1], b[1]} <= _WEB_PORTS)


@dataclass(frozen=True)
class AllowList:
    """Hosts and networks any fetch may reach, public or not (``NEWSQA_FETCH_ALLOW``)."""

    hosts: frozenset[str] = frozenset()  # exact names, or "*.corp" for every name under corp
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, text: str) -> AllowList:
        """Read ``"10.0.0.0/8, 192.168.1.7 wiki.corp *.lan"`` (commas or blanks between entries); an
        address is its own /32 (/128) network. ValueError names an entry that is neither."""
        hosts, networks = set(), []
        for entry in re.split(r"[,\s]+", text.strip()):
            if not entry:
                continue
            address, _, bits = entry.partition("/")
            if parse_ip(address) is not None or bits:
                try:
                    networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                except ValueError as exc:
                    raise ValueError(f"NEWSQA_FETCH_ALLOW: {entry!r} is not a CIDR range ({exc})") from exc
            elif _HOST_PATTERN.match(_host(entry)):
                hosts.add(_host(entry))
            else:
                raise ValueError(f"NEWSQA_FETCH_ALLOW: {entry!r} is neither a host name nor a CIDR range")
        return cls(frozenset(hosts), tuple(networks))

    def __str__(self) -> str:
        return ", ".join([*sorted(self.hosts), *(str(n) for n in self.networks)])

    def covers(self, host: str, address: IPAddress) -> bool:
        """Whether the list allows ``host`` (by name) or ``address`` (by range; IPv4-mapped as IPv4)."""
        name = _host(host)
        if name in self.hosts or any(p.startswith("*.") and name.endswith(p[1:]) for p in self.hosts):
            return True
        inner = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        candidates = [a for a in (address, inner) if a is not None]
        return any(a in n for n in self.networks for a in candidates if a.version == n.version)


@dataclass(frozen=True)
class Policy:
    """What one fetch may dial: public addresses; any address on ``trusted`` (the site of the URL the
    operator gave, if the fetch was for one) and on the allow list."""

    allow: AllowList = AllowList()
    trusted: Site | None = None

    def refusal(self, host: str, port: int, address: IPAddress) -> str | None:
        """None when dialling ``address`` for ``host:port`` is allowed; else the rule it breaks."""
        rule = address_rule(address)
        if rule is None or self.allow.covers(host, address):
            return None
        if self.trusted is not None and same_site((_host(host), port), self.trusted):
            return None
        return rule

    def check(self, host: str, port: int, address: IPAddress, *, connected: bool = False) -> None:
        """Raise :class:`AddressRefused` unless dialling ``address`` for ``host:port`` is allowed
        (``connected``: ``address`` is the peer of a connected socket)."""
        rule = self.refusal(host, port, address)
        if rule is not None:
            raise AddressRefused(host, address, rule, connected=connected)
