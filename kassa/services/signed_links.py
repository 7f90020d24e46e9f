"""What kassa's signed links share: a key per purpose, derived from KASSA_LINK_SECRET (else
KASSA_JWT_SECRET), and an HMAC-SHA256 over the purpose and the link's fields. A key derived
for one purpose signs nothing another purpose accepts, and no link can be made into a bearer
token (the JWT secret itself never signs a link)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from kassa.config import Settings


class InvalidLink(Exception):
    """Not a link kassa signed: altered, truncated, or signed with another key."""


class ExpiredLink(Exception):
    """A link kassa signed, past its expiry."""


def signing_key(settings: Settings, purpose: bytes) -> bytes | None:
    """The key for `purpose`; None when neither KASSA_LINK_SECRET nor KASSA_JWT_SECRET is set."""
    secret = settings.link_secret or settings.jwt_secret
    if not secret:
        return None
    return hmac.new(secret.encode(), purpose, hashlib.sha256).digest()


def signature(key: bytes, purpose: bytes, fields: str) -> str:
    digest = hmac.new(key, purpose + b"|" + fields.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def check_signature(key: bytes, purpose: bytes, fields: str, signed: str) -> None:
    if not hmac.compare_digest(signed.encode(), signature(key, purpose, fields).encode()):
        raise InvalidLink("the link's signature does not match")


def check_expiry(expires_at: int, *, now: float | None = None) -> None:
    if expires_at < (now if now is not None else time.time()):
        raise ExpiredLink("the link has expired")
