"""Background jobs on PostgreSQL itself (pgqueuer): the queue every worker drains."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import asyncpg
from pgqueuer import Queries
from pgqueuer.domain.settings import db_settings
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


CLAIM_LEASE = (
    "INSERT INTO worker_leases (name, holder, expires_at) VALUES ($1, $2, now() + $3) "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
    "WHERE worker_leases.expires_at < now() RETURNING holder"
)


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
    async def exclusive(self, name: str, hold: timedelta) -> AsyncIterator[bool]:
        """True inside for exactly one process at a time across all machines.

        A lease row (`worker_leases`), claimed in one statement and given back after: no
        connection is held while the work runs (it calls Stripe), and a holder that dies
        leaves a lease that runs out after `hold`.
        """
        if self._pool is None:
            raise RuntimeError("the job queue is not open")
        holder = uuid.uuid4()
        mine = await self._pool.fetchval(CLAIM_LEASE, name, holder, hold)
        try:
            yield mine is not None
        finally:
            if mine is not None:
                await self._pool.execute(
                    "DELETE FROM worker_leases WHERE name = $1 AND holder = $2", name, holder
                )

    def open_connections(self) -> int:
        return self._pool.get_size() if self._pool else 0

    def idle_connections(self) -> int:
        return self._pool.get_idle_size() if self._pool else 0

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


async def release_picked(conn: asyncpg.Connection, managers: list[uuid.UUID]) -> int:
    """Queue again the jobs that `managers` picked and never finished: they ran in this
    process on a connection that is gone, so nothing runs them now. Without this they wait
    until their heartbeat is stale and a dequeue happens to look (up to a minute)."""
    if not managers:
        return 0
    tables = db_settings().qualified
    released = await conn.fetchval(
        f"""WITH released AS (
            UPDATE {tables.queue_table}
            SET status = 'queued', execute_after = NOW(), updated = NOW(),
                queue_manager_id = NULL
            WHERE status = 'picked' AND queue_manager_id = ANY($1::uuid[])
            RETURNING id, entrypoint, priority
        ), logged AS (
            INSERT INTO {tables.queue_table_log} (job_id, status, entrypoint, priority)
            SELECT id, 'queued', entrypoint, priority FROM released
        )
        SELECT count(*) FROM released""",
        managers,
    )
    return int(released)
