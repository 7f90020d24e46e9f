"""Signed links to an invoice's PDF, for receipt mails: `/invoices/<id>.pdf?expires=…&signature=…`.

The signature is an HMAC-SHA256 over the purpose, the invoice and the expiry, with a key
derived for these links alone from KASSA_LINK_SECRET (else KASSA_JWT_SECRET): a link shows
that one invoice until it expires, and neither a pay link nor a token can be made of it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping
from datetime import timedelta
from urllib.parse import urlencode

from kassa.config import Settings
from kassa.ids import IdKind, encode

PURPOSE = b"kassa invoice link v1"


class InvalidLink(Exception):
    """Not a link kassa signed for this invoice: altered, truncated, or another key's."""


class ExpiredLink(Exception):
    """A link kassa signed, past its expiry."""


def signing_key(settings: Settings) -> bytes | None:
    secret = settings.link_secret or settings.jwt_secret
    if not secret:
        return None
    return hmac.new(secret.encode(), PURPOSE, hashlib.sha256).digest()


def path(invoice_id: uuid.UUID) -> str:
    """Where the PDF is, for a caller with a token or API key."""
    return f"/invoices/{encode(IdKind.INVOICE, invoice_id)}.pdf"


def signed_path(key: bytes, invoice_id: uuid.UUID, expires_at: int) -> str:
    query = urlencode({"expires": expires_at, "signature": _signature(key, invoice_id, expires_at)})
    return f"{path(invoice_id)}?{query}"


def check(key: bytes, invoice_id: uuid.UUID, expires: str, signature: str) -> None:
    """Raise unless `signature` is kassa's for this invoice and `expires` is not past."""
    try:
        expires_at = int(expires) if expires.isascii() and expires.isdigit() else None
    except ValueError:  # more digits than Python reads as a number
        expires_at = None
    if expires_at is None:
        raise InvalidLink("the link's expiry is not a time")
    expected = _signature(key, invoice_id, expires_at)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise InvalidLink("the link's signature does not match")
    if expires_at < time.time():
        raise ExpiredLink("the link has expired")


def _signature(key: bytes, invoice_id: uuid.UUID, expires_at: int) -> str:
    fields = f"{invoice_id.hex}.{expires_at}".encode()
    digest = hmac.new(key, PURPOSE + b"|" + fields, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def with_link(settings: Settings, context: Mapping[str, object]) -> dict[str, object]:
    """A mail's context with `invoice_url`, the signed link to the invoice it names (made
    when the mail is sent, so it lasts its full time from then); None in production
    without KASSA_PUBLIC_URL, or without a key to sign with."""
    shown = dict(context)
    invoice_id, key, base = (
        context.get("invoice_id"),
        signing_key(settings),
        settings.public_base_url,
    )
    if not isinstance(invoice_id, str) or key is None or base is None:
        shown["invoice_url"] = None
        return shown
    lifetime = timedelta(days=settings.invoice_link_days).total_seconds()
    signed = signed_path(key, uuid.UUID(invoice_id), int(time.time() + lifetime))
    shown["invoice_url"] = base + signed
    return shown
