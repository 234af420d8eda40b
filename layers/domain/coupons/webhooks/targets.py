"""Where a webhook may go (DESIGN 2.9): https to public addresses only. Checked when the URL is
set and again at send time, on the addresses its name resolves to then, and the request goes to
the address that was checked (a name that resolves elsewhere a moment later is not followed).
The local-development exception (http to 127.0.0.1) exists only when the stack says so."""

import ipaddress
import socket
from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import urlsplit

type Resolver = Callable[[str, int], list[str]]

MAX_URL_LENGTH = 2048
# Cloud metadata endpoints that are not in a private or link-local range everywhere.
METADATA = frozenset(
    {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}
)


class UnsafeTarget(Exception):
    """The URL is not one a webhook may be sent to; `reason` says why (a Reason's name)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Target(NamedTuple):
    scheme: str
    host: str
    port: int
    path: str  # with the query
    address: str  # the checked address to connect to


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to now."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeTarget("NOT_RESOLVED") from None
    return sorted({str(info[4][0]) for info in found})


# IPv6 ranges that carry an IPv4 address in their last 32 bits (IPv4-compatible, NAT64 and
# its local-use prefix, IPv4-translated): the embedded address must be public too.
EMBEDDING = tuple(
    ipaddress.ip_network(net)
    for net in ("::/96", "64:ff9b::/96", "64:ff9b:1::/48", "::ffff:0:0:0/96")
)


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif any(ip in net for net in EMBEDDING):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
            if not is_public(str(embedded)):
                return False
    return ip.is_global and not ip.is_multicast and ip not in METADATA


def checked(url: str, *, allow_local: bool = False, resolver: Resolver = resolve) -> Target:
    """The target of `url`, if a webhook may go there: https, no credentials, a name (or
    address) whose every address is public. With `allow_local` (the dev stack only), also
    http or https to 127.0.0.1 / localhost."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeTarget("TOO_LONG")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeTarget("NOT_A_URL") from None
    host = (parts.hostname or "").rstrip(".")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("CREDENTIALS")
    local = allow_local and host in ("127.0.0.1", "localhost")
    if parts.scheme != "https" and not (local and parts.scheme == "http"):
        raise UnsafeTarget("NOT_HTTPS")
    if not host:
        raise UnsafeTarget("NOT_A_URL")
    port = port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if local:
        return Target(parts.scheme, host, port, path, "127.0.0.1")
    # IPv4 first: a function outside a VPC has no IPv6 route out.
    addresses = sorted(resolver(host, port), key=lambda address: (":" in address, address))
    if not addresses or not all(is_public(address) for address in addresses):
        raise UnsafeTarget("NOT_PUBLIC")
    return Target(parts.scheme, host, port, path, addresses[0])
