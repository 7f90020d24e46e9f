"""Waiting for a deployment under faults, with a limit, and measuring how long it took."""

from __future__ import annotations

import asyncio
import contextlib
import time

import asyncpg
import httpx
import stripe

from kassa.db import asyncpg_dsn
from tests.cluster import WEBHOOK_SECRET


async def seconds_until_applied(url: str, count: int, limit: float) -> float:
    """Seconds until `count` events are applied; fails after `limit`."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        # The test's own reads fail while the database is down: that counts as 'not yet'.
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            conn = await asyncpg.connect(asyncpg_dsn(url), timeout=2)
            try:
                applied = await conn.fetchval(
                    "SELECT count(*) FROM stripe_events WHERE status = 'PROCESSED'"
                )
            finally:
                await conn.close()
            if applied >= count:
                return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {count} events applied within {limit} s")


async def deliver_until_accepted(base_url: str, payloads: list[str], limit: float) -> None:
    """Deliver each event as Stripe does: again after any answer but 2xx, until `limit`."""
    deadline = time.monotonic() + limit
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        for payload in payloads:
            while not await _accepted(client, payload):
                if time.monotonic() > deadline:
                    raise AssertionError(f"an event was not accepted within {limit} s")
                await asyncio.sleep(0.2)


async def _accepted(client: httpx.AsyncClient, payload: str) -> bool:
    try:
        response = await post_event(client, payload)
    except httpx.TransportError:
        return False
    return response.status_code == 200


async def post_event(client: httpx.AsyncClient, payload: str) -> httpx.Response:
    signature = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
    return await client.post(
        "/webhooks/stripe",
        content=payload.encode(),
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )
