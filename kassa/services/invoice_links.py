"""Signed links to an invoice's PDF, for receipt mails: `/invoices/<id>.pdf?expires=…&signature=…`.

The signature is an HMAC-SHA256 over the purpose, the invoice and the expiry, with a key
derived for these links alone from KASSA_LINK_SECRET (else KASSA_JWT_SECRET): a link shows
that one invoice until it expires, and neither a pay link nor a token can be made of it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from datetime import timedelta
from urllib.parse import urlencode

from kassa.config import Settings
from kassa.ids import IdKind, encode
from kassa.services import signed_links
from kassa.services.signed_links import InvalidLink

PURPOSE = b"kassa invoice link v1"


def signing_key(settings: Settings) -> bytes | None:
    return signed_links.signing_key(settings, PURPOSE)


def path(invoice_id: uuid.UUID) -> str:
    """Where the PDF is, for a caller with a token or API key."""
    return f"/invoices/{encode(IdKind.INVOICE, invoice_id)}.pdf"


def signed_path(key: bytes, invoice_id: uuid.UUID, expires_at: int) -> str:
    signature = signed_links.signature(key, PURPOSE, _fields(invoice_id, expires_at))
    query = urlencode({"expires": expires_at, "signature": signature})
    return f"{path(invoice_id)}?{query}"


def check(key: bytes, invoice_id: uuid.UUID, expires: str, signature: str) -> None:
    """Raise unless `signature` is kassa's for this invoice and `expires` is not past."""
    try:
        expires_at = int(expires) if expires.isascii() and expires.isdigit() else None
    except ValueError:  # more digits than Python reads as a number
        expires_at = None
    if expires_at is None:
        raise InvalidLink("the link's expiry is not a time")
    signed_links.check_signature(key, PURPOSE, _fields(invoice_id, expires_at), signature)
    signed_links.check_expiry(expires_at)


def _fields(invoice_id: uuid.UUID, expires_at: int) -> str:
    return f"{invoice_id.hex}.{expires_at}"


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
