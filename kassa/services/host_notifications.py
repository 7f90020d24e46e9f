"""Signed notifications to the host app: payment and order changes, through the outbox.

Each POST carries `Kassa-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">` made
with the organization's signing secret (README shows the five lines that verify it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx
from tortoise.backends.base.client import BaseDBAsyncClient

from kassa.models import Organization
from kassa.services import organizations, outbox
from kassa.services.errors import DomainError, ErrorCode
from kassa.services.identity import Caller

HOST_NOTIFICATION = "host_notification"
TIMEOUT_SECONDS = 10


async def configure(caller: Caller, organization_id: uuid.UUID | None, url: str) -> Organization:
    """Set where notifications go; the signing secret is made on first use and kept."""
    organization = await organizations.require_visible(caller, organization_id)
    if not organizations.can_manage(caller, organization):
        raise DomainError(ErrorCode.FORBIDDEN, "only owners and admins configure this", "url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise DomainError(ErrorCode.INVALID_INPUT, "url is an http(s) URL", "url")
    organization.notify_url = url
    organization.notify_secret = organization.notify_secret or "kassa_whsec_" + secrets.token_hex(
        24
    )
    await organization.save(update_fields=["notify_url", "notify_secret"])
    return organization


async def queue(
    conn: BaseDBAsyncClient,
    organization_id: uuid.UUID,
    event_type: str,
    about: str,
    data: Mapping[str, object],
) -> None:
    """Tell the host app once per (what changed, its new state), if it asked to be told."""
    wanted = (
        await Organization.filter(id=organization_id, notify_url__isnull=False)
        .using_db(conn)
        .exists()
    )
    if wanted:
        payload = {"organization": str(organization_id), "type": event_type, "data": dict(data)}
        await outbox.add(conn, HOST_NOTIFICATION, f"notify:{about}", payload)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


async def send(payload: Mapping[str, object]) -> None:
    organization = await Organization.get(id=str(payload["organization"]))
    if not organization.notify_url or not organization.notify_secret:
        return  # the host app stopped listening
    timestamp = int(time.time())
    body = json.dumps(
        {"type": payload["type"], "created": timestamp, "data": payload["data"]},
        separators=(",", ":"),
    ).encode()
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
        response = await client.post(
            organization.notify_url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "Kassa-Signature": signature(organization.notify_secret, timestamp, body),
            },
        )
    response.raise_for_status()
