"""Signed notifications to the host app: payment and order changes, through the outbox.

Each POST carries `Kassa-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">` made
with the organization's signing secret (README shows the five lines that verify it).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
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
from kassa.services.addresses import is_internal, is_usable_url
from kassa.services.errors import DomainError, ErrorCode
from kassa.services.identity import Caller

HOST_NOTIFICATION = "host_notification"
TIMEOUT_SECONDS = 10


async def configure(caller: Caller, organization_id: uuid.UUID | None, url: str) -> Organization:
    """Set where notifications go; the signing secret is made on first use and kept."""
    organization = await organizations.require_visible(caller, organization_id)
    if not organizations.can_manage(caller, organization):
        raise DomainError(ErrorCode.FORBIDDEN, "only owners and admins configure this", "url")
    if not is_usable_url(url):
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "url is an http(s) URL of at most 2000 characters, with a valid host and port",
            "url",
        )
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
    # Asked once per applied event: plain SQL, no query built each time.
    wanted = await conn.execute_query_dict(
        "SELECT 1 FROM organizations WHERE id = $1 AND notify_url IS NOT NULL", [organization_id]
    )
    if wanted:
        payload = {"organization": str(organization_id), "type": event_type, "data": dict(data)}
        await outbox.add(conn, HOST_NOTIFICATION, f"notify:{about}", payload)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


class HostNotifier:
    """Sends the outbox's host notifications.

    Outside development it refuses addresses inside the network (loopback, private,
    link-local, metadata services): an organization's admin chooses the URL, and kassa must
    not become their probe into it. (A name that resolves differently between the check and
    the connection is not caught; an egress proxy is the complete answer.)
    """

    def __init__(self, allow_private_addresses: bool) -> None:
        self._allow_private = allow_private_addresses

    async def send(self, payload: Mapping[str, object]) -> None:
        organization = await Organization.get(id=str(payload["organization"]))
        if not organization.notify_url or not organization.notify_secret:
            return  # the host app stopped listening
        await self._check(organization.notify_url)
        timestamp = int(time.time())
        body = json.dumps(
            {"type": payload["type"], "created": timestamp, "data": payload["data"]},
            separators=(",", ":"),
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Kassa-Signature": signature(organization.notify_secret, timestamp, body),
        }
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
            response = await client.post(organization.notify_url, content=body, headers=headers)
        response.raise_for_status()

    async def _check(self, url: str) -> None:
        if self._allow_private:
            return
        parts = urlsplit(url)
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, parts.port or 443)
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if is_internal(address):
                raise PermissionError(f"{parts.hostname} resolves to {address}, inside the network")
