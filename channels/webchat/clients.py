"""Who is on the other end of a chat request: the client address the rate limits count,
and whether the page that opened the socket may use it.

Decisions (the issue leaves them open):
- The client address is ``request.remote`` (the TCP peer). ``X-Forwarded-For`` is
  believed only when the peer is a trusted proxy (``SWITCHBOARD_TRUSTED_PROXIES``,
  addresses or networks); the header is then read from the right, skipping trusted hops,
  so a client cannot pick its own address by sending the header itself.
- An IPv6 client is counted by its /64: one subscriber usually holds a whole /64 and could
  otherwise rotate through addresses.
- ``Origin``: a browser always sends it on a WebSocket handshake, and only a browser
  carries a customer's cookie, so a handshake without ``Origin`` (a non-browser client,
  which has nothing to hijack) is allowed. With ``Origin``, the socket is accepted from the
  page's own host, the public URL, and the sites listed in
  ``SWITCHBOARD_WEBCHAT_ALLOWED_ORIGINS`` (``*`` allows any site); anything else, including
  ``null``, is refused with 403 before the upgrade.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """``10.0.0.1``, ``10.0.0.0/8``, ``::1``; raises ValueError on a bad entry."""
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` in lower case, or None for something that is not a URL."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


class ClientPolicy:
    def __init__(
        self,
        *,
        trusted_proxies: Iterable[Network] = (),
        allowed_origins: Iterable[str] = (),
        public_url: str | None = None,
    ) -> None:
        self.trusted_proxies = tuple(trusted_proxies)
        self.any_origin = False
        origins: set[str] = set()
        for value in allowed_origins:
            if value.strip() == "*":
                self.any_origin = True
            elif (origin := origin_of(value)) is not None:
                origins.add(origin)
        self.embedders = frozenset(origins)
        if public_url and (origin := origin_of(public_url)) is not None:
            origins.add(origin)
        self.allowed_origins = frozenset(origins)

    def address(self, request: web.BaseRequest) -> str:
        """The rate-limit key of the client: its address, or its /64 for IPv6."""
        peer = request.remote or "unknown"
        if self.trusted_proxies and self._trusted(peer):
            hops = [
                hop.strip()
                for header in request.headers.getall("X-Forwarded-For", ())
                for hop in header.split(",")
                if hop.strip()
            ]
            while hops and self._trusted(peer):
                peer = hops.pop()
        return _bucket(peer)

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.trusted_proxies)

    def origin_allowed(self, request: web.BaseRequest) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        if self.any_origin and origin != "null":
            return True
        normalized = origin_of(origin)
        if normalized is None:
            return False
        if normalized in self.allowed_origins:
            return True
        return urlsplit(normalized).netloc == request.host.lower()

    def frame_ancestors(self) -> str:
        """The CSP ``frame-ancestors`` of the chat page: where the widget may be embedded
        (any site until the allowed sites are configured)."""
        if self.any_origin or not self.embedders:
            return "*"
        return " ".join(["'self'", *sorted(self.embedders)])


def _bucket(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if isinstance(ip, ipaddress.IPv6Address) else str(ip)
