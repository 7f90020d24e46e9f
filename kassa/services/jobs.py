"""Background jobs on PostgreSQL itself (pgqueuer): the queue every worker drains."""

from __future__ import annotations

import logging
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from pgqueuer import Queries
from pgqueuer.errors import DuplicateJobError

from kassa.db import asyncpg_dsn

log = logging.getLogger(__name__)

# Each entrypoint is a lane with slots of its own (kassa/worker/runner.py): applying an event
# touches only the database; outbox messages call Stripe, or an SMTP server or host app.
STRIPE_EVENT = "stripe_event"
OUTBOX_STRIPE = "outbox_stripe"
OUTBOX_MESSAGE = "outbox_message"
# Outbox kinds that call Stripe are named stripe.* (the follow-ups of events).
STRIPE_KIND_PREFIX = "stripe."


def outbox_entrypoint(kind: str) -> str:
    """The lane an outbox message of `kind` waits in: slow Stripe never holds up mail."""
    return OUTBOX_STRIPE if kind.startswith(STRIPE_KIND_PREFIX) else OUTBOX_MESSAGE


class JobQueue:
    """Enqueues jobs over a small connection pool of its own."""

    def __init__(self, database_url: str) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._pool: asyncpg.Pool | None = None
        self._queries: Queries | None = None

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=4)
        self._queries = Queries.from_asyncpg_pool(self._pool)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        """True inside for exactly one process at a time across all machines (advisory lock)."""
        if self._pool is None:
            raise RuntimeError("the job queue is not open")
        key = zlib.crc32(name.encode())
        async with self._pool.acquire() as conn:
            mine = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", key))
            try:
                yield mine
            finally:
                if mine:
                    await conn.execute("SELECT pg_advisory_unlock($1)", key)

    async def enqueue(self, entrypoint: str, key: str) -> bool:
        """Queue `key` for `entrypoint` unless a job for it is already queued or running."""
        if self._queries is None:
            raise RuntimeError("the job queue is not open")
        try:
            await self._queries.enqueue(
                entrypoint, key.encode(), 0, dedupe_key=f"{entrypoint}:{key}"
            )
        except DuplicateJobError:
            return False
        return True
