"""Addresses clients give kassa: mail addresses (receipts, order mail), web addresses
(where to notify, where Stripe sends a buyer back); and which network addresses are inside
the network."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from kassa.services.errors import DomainError, ErrorCode

# Loose on purpose (mail servers decide), but storable and one line: no control characters.
_MAILBOX_PART = r"[^@\s\x00-\x1f\x7f]"
EMAIL = re.compile(rf"{_MAILBOX_PART}{{1,64}}@{_MAILBOX_PART}{{1,255}}\.{_MAILBOX_PART}{{1,63}}")
MAX_EMAIL_LENGTH = 320


def is_email(value: str) -> bool:
    return len(value) <= MAX_EMAIL_LENGTH and EMAIL.fullmatch(value) is not None


def check_email(value: str | None, field: str) -> None:
    if value is not None and not is_email(value):
        raise DomainError(ErrorCode.INVALID_INPUT, "not an email address", field)


def is_usable_url(url: str) -> bool:
    """Whether `url` could ever reach a web server: http(s), a valid host and port, no
    whitespace or control characters, at most 2000 characters."""
    if len(url) > 2000 or not url.isprintable() or any(char.isspace() for char in url):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port  # reading it checks it: a ValueError beyond 65535
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        return False
    return _is_host(parts.hostname)


HOST_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


def _is_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        name = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return False
    labels = name.removesuffix(".").split(".")
    if labels[-1].isdigit():
        return False  # a dotted number that is no IPv4 address (999.1.1.1)
    return len(name) <= 253 and all(HOST_LABEL.fullmatch(label) for label in labels)


def is_internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Loopback, private, link-local and other non-global addresses, also when an IPv6
    address carries one of them inside (the network may translate it back to IPv4)."""
    if isinstance(address, ipaddress.IPv4Address):
        return not address.is_global
    if not address.is_global or address in NAT64_LOCAL:  # local-use NAT64: inside by design
        return True
    embedded = _embedded_ipv4(address)
    return embedded is not None and not embedded.is_global


NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in NAT64 or address in IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.teredo is not None:
        return address.teredo[1]  # the client's own address
    return address.ipv4_mapped or address.sixtofour
