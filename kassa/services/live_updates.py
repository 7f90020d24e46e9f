"""Live payment updates across processes: PostgreSQL NOTIFY on change, LISTEN per process.

A change is announced inside the transaction that makes it, so subscribers hear of it only
once it is committed, whichever process (server or worker) committed it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from tortoise.backends.base.client import BaseDBAsyncClient

from kassa.db import asyncpg_dsn

PAYMENT_UPDATED = "kassa_payment_updated"
FIRST_RETRY_SECONDS = 0.5
LONGEST_RETRY_SECONDS = 5.0


async def announce_payment_updated(conn: BaseDBAsyncClient, payment_id: uuid.UUID) -> None:
    await conn.execute_query_dict("SELECT pg_notify($1, $2)", [PAYMENT_UPDATED, str(payment_id)])


class PaymentUpdates:
    """This process's one LISTEN connection, fanned out to its subscribers."""

    def __init__(self, database_url: str) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._connection: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._subscribers: dict[str, set[asyncio.Queue[None]]] = defaultdict(set)
        self._relistening: asyncio.Task[None] | None = None
        self._closing = False

    @asynccontextmanager
    async def changes(self, payment_id: uuid.UUID) -> AsyncIterator[asyncio.Queue[None]]:
        """A queue that receives an item whenever the payment changes (bursts coalesce)."""
        await self._listen()
        queue: asyncio.Queue[None] = asyncio.Queue(maxsize=1)
        self._subscribers[str(payment_id)].add(queue)
        try:
            yield queue
        finally:
            self._subscribers[str(payment_id)].discard(queue)
            if not self._subscribers[str(payment_id)]:
                del self._subscribers[str(payment_id)]

    async def _listen(self) -> None:
        async with self._lock:
            if self._connection is None or self._connection.is_closed():
                self._connection = await asyncpg.connect(self._dsn)
                await self._connection.add_listener(PAYMENT_UPDATED, self._notified)
                self._connection.add_termination_listener(self._lost)

    def _lost(self, connection: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy) -> None:
        # PostgreSQL restarted (or the connection broke): open subscriptions would hear of
        # nothing again. Listen anew in the background, then wake every subscriber to read
        # its payment once, in case it changed while nobody was listening.
        if not self._closing and (self._relistening is None or self._relistening.done()):
            self._relistening = asyncio.get_running_loop().create_task(self._relisten())

    async def _relisten(self) -> None:
        pause = FIRST_RETRY_SECONDS
        while self._subscribers:
            try:
                await self._listen()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await asyncio.sleep(pause)
                pause = min(pause * 2, LONGEST_RETRY_SECONDS)
                continue
            for queues in list(self._subscribers.values()):
                for queue in queues:
                    if queue.empty():
                        queue.put_nowait(None)
            return

    def _notified(
        self,
        connection: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy,
        pid: int,
        channel: str,
        payload: object,
    ) -> None:
        for queue in self._subscribers.get(str(payload), ()):
            if queue.empty():
                queue.put_nowait(None)

    async def close(self) -> None:
        self._closing = True
        if self._relistening is not None:
            self._relistening.cancel()
        if self._connection is not None:
            await self._connection.close()
