"""Background jobs on PostgreSQL itself (pgqueuer): the queue every worker drains."""

from __future__ import annotations

import logging

import asyncpg
from pgqueuer import Queries
from pgqueuer.errors import DuplicateJobError

from kassa.db import asyncpg_dsn

log = logging.getLogger(__name__)

STRIPE_EVENT = "stripe_event"
OUTBOX_MESSAGE = "outbox_message"


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
