"""The event lane: claims stored Stripe events in batches straight from the inbox.

Woken by NOTIFY when the webhook stores an event (and every `poll_seconds` for retries that
come due), a lane applies batches until none is left. No job row per event: the inbox row
is the job, claimed with `SKIP LOCKED`, so any number of workers drain it side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Coroutine

import asyncpg

from kassa.db import asyncpg_dsn, unavailable
from kassa.services import ledger, stripe_events
from kassa.services.runtime import Runtime
from kassa.worker import tasks

log = logging.getLogger(__name__)

RECONNECT_FIRST_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 5.0


class EventLane:
    def __init__(self, runtime: Runtime, database_url: str) -> None:
        self.runtime = runtime
        self.dsn = asyncpg_dsn(database_url)
        self.woken = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until `stop`; a batch in flight finishes first. Lives through the database
        going away: listens again once it is back."""
        # This lane's share of the system ledger accounts, for as long as it runs: two
        # lanes rarely wait for each other's batch on one clearing row.
        ledger.use_system_shard(random.randrange(ledger.SYSTEM_SHARDS))
        delay = RECONNECT_FIRST_SECONDS
        while not stop.is_set():
            try:
                await self._listen_and_drain(stop)
                delay = RECONNECT_FIRST_SECONDS
            except Exception as exc:
                if unavailable(exc) or unavailable(exc.__cause__):
                    log.warning(
                        "event lane: database unavailable (%s: %s); again in %.1f s",
                        type(exc).__name__,
                        exc,
                        delay,
                    )
                else:
                    log.exception("event lane failed; starting again in %.1f s", delay)
                await _wait(stop, delay)
                delay = min(2 * delay, RECONNECT_MAX_SECONDS)

    async def _listen_and_drain(self, stop: asyncio.Event) -> None:
        connection = await asyncpg.connect(self.dsn, timeout=CONNECT_TIMEOUT_SECONDS)
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _: lost.set())
            await connection.add_listener(stripe_events.EVENTS_CHANNEL, lambda *_: self.woken.set())
            poll = self.runtime.settings.sweep_interval_seconds
            while not stop.is_set():
                self.woken.clear()
                await self.drain(stop)
                await _first(stop, self.woken, lost, seconds=poll)
                if lost.is_set():
                    raise ConnectionResetError("the event lane's LISTEN connection was lost")
        finally:
            connection.terminate()

    async def drain(self, stop: asyncio.Event | None = None) -> int:
        """Apply batches until no event is due (or `stop`); how many events were handled."""
        settings = self.runtime.settings
        handled = 0
        while True:
            batch = await _in_own_task(
                stripe_events.apply_batch(settings.event_batch_size, settings.event_max_attempts)
            )
            if batch.card_reads:
                await self._read_cards_then_apply(batch)
            await self._ask_stripe_about_unknown_intents(batch)
            handled += len(batch.processed)
            if batch.empty or (stop is not None and stop.is_set()):
                return handled

    async def _read_cards_then_apply(self, batch: stripe_events.Batch) -> None:
        """Events whose card is read first, outside any transaction, bounded in time."""
        settings = self.runtime.settings
        gateway, within = self.runtime.gateway, settings.event_card_read_seconds
        await asyncio.gather(
            *(
                stripe_events.read_card_first(event_id, gateway, within)
                for event_id in batch.card_reads
            )
        )
        applied = await _in_own_task(
            stripe_events.apply_batch(
                len(batch.card_reads),
                settings.event_max_attempts,
                batch.card_reads,
                cards_read=True,
            )
        )
        batch.processed.update(applied.processed)

    async def _ask_stripe_about_unknown_intents(self, batch: stripe_events.Batch) -> None:
        for event_id, processed in batch.processed.items():
            if processed.unknown_intent and processed.attempts >= tasks.ASK_STRIPE_AFTER_ATTEMPTS:
                await tasks.resolve_with_stripe(self.runtime, event_id, processed.unknown_intent)


async def _in_own_task(
    batch: Coroutine[object, object, stripe_events.Batch],
) -> stripe_events.Batch:
    """Run a batch in a task of its own, as a job would: a transaction cut off by the
    database going away can leave tortoise's transaction context set in the task that ran
    it, and the lane's next batch would then find itself inside a dead transaction."""
    return await asyncio.create_task(batch)


async def _first(*events: asyncio.Event, seconds: float) -> None:
    """Wait until one of `events` is set, or `seconds`."""
    waits = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
