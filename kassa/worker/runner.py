"""A worker: drains pgqueuer jobs and, on a timer, queues what is due and reconciles."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
from pgqueuer import Queries, QueueManager
from pgqueuer.models import Job

from kassa.config import Settings
from kassa.db import asyncpg_dsn, unavailable
from kassa.services import (
    clock,
    credits,
    host_notifications,
    jobs,
    mail,
    outbox,
    rate_limits,
    reconciliation,
    recovery,
    refunds,
)
from kassa.services.recovery_mail import RecoveryMailer
from kassa.services.runtime import Runtime
from kassa.worker import tasks
from kassa.worker.events import EventLane

log = logging.getLogger(__name__)

SWEEP_BATCH = 500
# Longer than a run of the work takes; a worker that died mid-run is replaced after it.
LEASE = timedelta(minutes=30)
FIRST_RECONCILIATION = timedelta(hours=24)
# Each run looks a little further back than the last one started, so nothing falls between.
RECONCILIATION_OVERLAP = timedelta(minutes=5)
# While the database is away, the queue's connection is tried again after 0.5 s, then
# doubling up to every 5 s: soon back after a restart, never a storm of connection attempts.
RECONNECT_FIRST_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 5.0


class Worker:
    def __init__(self, runtime: Runtime, database_url: str) -> None:
        self.runtime = runtime
        self.database_url = database_url
        outbox.register_sender(mail.MAIL, runtime.mailer.send)
        outbox.register_sender(mail.ADMIN_ALERT, runtime.mailer.send_admin_alert)
        retry_mails = RecoveryMailer(runtime.settings, runtime.mailer)
        outbox.register_sender(recovery.RECOVERY_MAIL, retry_mails.send)
        tasks.register_follow_ups(runtime)
        outbox.register_sender(host_notifications.HOST_NOTIFICATION, runtime.host_notifier.send)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; jobs in flight finish first. When the database goes
        away, the queue is drained again once it is back; the timers keep ticking."""
        settings = self.runtime.settings
        events = asyncio.create_task(EventLane(self.runtime, self.database_url).run(stop))
        timers = [
            asyncio.create_task(_every(settings.sweep_interval_seconds, self.sweep, stop)),
            asyncio.create_task(
                _every(settings.sweep_interval_seconds, self.resend_unsent_refunds, stop)
            ),
            asyncio.create_task(
                _every(settings.reconcile_interval_seconds, self.reconcile_if_due, stop)
            ),
            asyncio.create_task(
                _every(settings.credit_expiry_interval_seconds, self.expire_credits, stop)
            ),
        ]
        try:
            await self._drain_reconnecting(stop)
        finally:
            for timer in timers:
                timer.cancel()
            if not stop.is_set():
                events.cancel()
            # Once `stop` is set, the event lane ends by itself after its batch in flight.
            await asyncio.gather(events, *timers, return_exceptions=True)

    async def _drain_reconnecting(self, stop: asyncio.Event) -> None:
        delay = RECONNECT_FIRST_SECONDS
        # Queue managers whose connection was lost: what they picked runs nowhere now.
        orphaning: list[uuid.UUID] = []
        while not stop.is_set():
            try:
                connection = await asyncpg.connect(
                    asyncpg_dsn(self.database_url), timeout=CONNECT_TIMEOUT_SECONDS
                )
                delay = RECONNECT_FIRST_SECONDS
                if await jobs.release_picked(connection, orphaning):
                    log.info("queued again the jobs left unfinished when the database went away")
                orphaning.clear()
                await self._drain(connection, stop, orphaning)
            except Exception as exc:
                # Whatever broke the queue's connection (an outage, or asyncpg left in an
                # undefined state by one: "another operation is in progress"), a worker that
                # dies applies nothing more; it starts a new connection. Only an error that is
                # not a known outage is logged with its traceback.
                log.warning(
                    "job queue unavailable (%s: %s); connecting again in %.1f s",
                    type(exc).__name__,
                    exc,
                    delay,
                    exc_info=None if unavailable(exc) else exc,
                )
                await _wait(stop, delay)
                delay = min(2 * delay, RECONNECT_MAX_SECONDS)

    async def _drain(
        self, connection: asyncpg.Connection, stop: asyncio.Event, orphaning: list[uuid.UUID]
    ) -> None:
        """Drain the queue over `connection` until `stop`; raise when the connection is lost."""
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        manager = self._queue_manager(connection)
        settings = self.runtime.settings
        slots = _job_slots(settings)
        draining = asyncio.create_task(
            manager.run(
                batch_size=max(1, slots // 2),
                max_concurrent_tasks=slots,
                heartbeat_timeout=timedelta(seconds=settings.worker_heartbeat_seconds),
            )
        )
        try:
            await _first_of(
                draining, asyncio.create_task(stop.wait()), asyncio.create_task(lost.wait())
            )
        finally:
            manager.shutdown.set()
            await asyncio.gather(draining, return_exceptions=True)
            orphaning.append(manager.queue_manager_id)
            connection.terminate()
        if lost.is_set() and not stop.is_set():
            raise QueueConnectionLost("its connection was closed")

    def _queue_manager(self, connection: asyncpg.Connection) -> QueueManager:
        manager = QueueManager(Queries.from_asyncpg_connection(connection))
        runtime = self.runtime
        settings = runtime.settings

        # Events are claimed from the inbox by the event lane (kassa/worker/events.py); this
        # lane applies the jobs of replays and of an older kassa still in the queue.
        @manager.entrypoint(jobs.STRIPE_EVENT, accepts_context=False)
        async def stripe_event(job: Job) -> None:
            await tasks.apply_stripe_event(runtime, _key(job))

        # pgqueuer counts these limits over all workers, in the database; each worker's
        # slots cover them and the events' share on top (_job_slots).
        @manager.entrypoint(
            jobs.OUTBOX_STRIPE,
            concurrency_limit=settings.stripe_follow_up_concurrency,
            accepts_context=False,
        )
        async def outbox_stripe(job: Job) -> None:
            await outbox.send(_key(job))

        @manager.entrypoint(
            jobs.OUTBOX_MESSAGE,
            concurrency_limit=settings.message_concurrency,
            accepts_context=False,
        )
        async def outbox_message(job: Job) -> None:
            await outbox.send(_key(job))

        return manager

    async def sweep(self) -> None:
        """Queue outbox messages due (queued or running ones are skipped). Stripe events
        need no sweep: the event lane claims whatever is due each time it looks."""
        for message_id, kind in await outbox.due(SWEEP_BATCH):
            await self.runtime.jobs.enqueue(jobs.outbox_entrypoint(kind), message_id)
        if self.runtime.settings.rate_limit_backend == "postgres":
            await rate_limits.forget_old_windows()

    async def resend_unsent_refunds(self) -> None:
        """Apart from the sweep: it calls Stripe, and the sweep queues events' retries."""
        async with self.runtime.jobs.exclusive("kassa:unsent_refunds", LEASE) as mine:
            if mine:
                # Longer than any request waits: the one that reserved the refund is over.
                each = self.runtime.settings.request_deadline_seconds
                await refunds.resend_unsent(self.runtime.gateway, timedelta(seconds=3 * each), each)

    async def reconcile_if_due(self) -> None:
        """Reconcile with Stripe once per interval, by whichever worker gets there first."""
        async with self.runtime.jobs.exclusive("kassa:reconcile", LEASE) as mine:
            if not mine:
                return
            now = datetime.now(UTC)
            last = await reconciliation.last_started()
            interval = timedelta(seconds=self.runtime.settings.reconcile_interval_seconds)
            if last is not None and now - last < interval:
                return
            since = (last or now - FIRST_RECONCILIATION) - RECONCILIATION_OVERLAP
            run = await reconciliation.reconcile(self.runtime.gateway, since)
            log.info("reconciliation checked %d Stripe objects, fixed %d", run.checked, run.fixed)

    async def expire_credits(self) -> None:
        """Expire credit lots that are due (several workers at once only take turns)."""
        expired = await credits.expire_due(clock.now())
        if expired:
            log.info("expired %d credits", expired)


def _job_slots(settings: Settings) -> int:
    """Jobs one worker runs at once: however many call out, events keep their own share."""
    return (
        settings.worker_concurrency
        + settings.stripe_follow_up_concurrency
        + settings.message_concurrency
    )


class QueueConnectionLost(ConnectionError):
    pass


def _key(job: Job) -> str:
    return (job.payload or b"").decode()


async def _every(
    seconds: float, action: Callable[[], Awaitable[None]], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            await action()
        except Exception as exc:
            if unavailable(exc):
                log.warning(
                    "periodic %s: database unavailable (%s: %s)",
                    action.__name__,
                    type(exc).__name__,
                    exc,
                )
            else:
                log.exception("periodic %s failed; trying again next time", action.__name__)
        await _wait(stop, seconds)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less when `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _first_of(*tasks_: asyncio.Task[object]) -> None:
    done, pending = await asyncio.wait(tasks_, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        if task is not tasks_[0]:
            task.cancel()
    for task in done:
        if task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
