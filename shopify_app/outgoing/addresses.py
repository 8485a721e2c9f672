"""Where an endpoint may point (SSRF): in production only `https://` URLs whose host resolves
to public addresses; never a private, loopback, link-local, multicast, reserved or
unspecified one (IPv4, IPv6, and IPv4 inside IPv6). Checked when the URL is registered and
again when delivering (resolved afresh for each batch of attempts), and the attempts connect
to the address that was checked, so a name that resolves to something else a moment later
(DNS rebinding) reaches nothing new.

Development and tests set `OUTGOING_WEBHOOKS_ALLOW_LOCAL` (docs/operations.md): `http://`
and local addresses are then allowed, so a receiver on 127.0.0.1 works.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048


class UnsafeURL(ValueError):
    """The URL may not be an endpoint; the message says why."""


@dataclass(frozen=True)
class Target:
    """A checked URL and the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    ip: str

    def connect_url(self) -> str:
        """The URL with the checked address in place of the host name."""
        parts = urlsplit(self.url)
        ip = f"[{self.ip}]" if ":" in self.ip else self.ip
        path = parts.path or "/"
        query = f"?{parts.query}" if parts.query else ""
        return f"{parts.scheme}://{ip}:{self.port}{path}{query}"

    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (a test may replace this function)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refusal(address: str) -> str | None:
    """Why a connection to `address` is refused (None: it is public)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        else:
            # 6to4 (2002::/16) and Teredo (2001::/32) carry an IPv4 address the packets may
            # reach where those tunnels route: it must be public too (Python calls the IPv6
            # forms global whatever they embed).
            for embedded in (ip.sixtofour, ip.teredo[1] if ip.teredo else None):
                if embedded is not None and (inner := refusal(str(embedded))) is not None:
                    return f"{address} embeds {inner}"
    for test, name in (
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
    ):
        if test:
            return f"{address} is a {name} address"
    if not ip.is_global:
        return f"{address} is not a public address"
    return None


def parse(url: str, *, allow_local: bool) -> tuple[str, str, int]:
    """(scheme, host, port) of a well-formed endpoint URL, or UnsafeURL."""
    url = (url or "").strip()
    if not url:
        raise UnsafeURL("enter the endpoint's URL")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise UnsafeURL("the URL contains spaces or control characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UnsafeURL("the URL must start with https://")
    if scheme == "http" and not allow_local:
        raise UnsafeURL("the URL must use https://")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("the URL may not carry a user name or password")
    if parts.fragment:
        raise UnsafeURL("the URL may not carry a #fragment")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeURL("the URL has no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeURL("the URL's port is not a number from 1 to 65535") from exc
    if not _is_ip(host):
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError as exc:
            raise UnsafeURL("the URL's host is not a valid name") from exc
    return scheme, host, port


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def check(url: str, *, allow_local: bool) -> Target:
    """The URL checked and resolved; UnsafeURL if it may not be called. Every address the
    name resolves to must be allowed (one private answer among public ones refuses it)."""
    scheme, host, port = parse(url, allow_local=allow_local)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise UnsafeURL(f"{host} does not resolve") from exc
    if not addresses:
        raise UnsafeURL(f"{host} does not resolve")
    if not allow_local:
        for address in addresses:
            why = refusal(address)
            if why is not None:
                raise UnsafeURL(f"{host} resolves to a non-public address ({why})")
    return Target(url=url.strip(), scheme=scheme, host=host, port=port, ip=addresses[0])
