"""The inbox of Stripe events: stored once by event id, applied exactly once.

Processing locks the event row, applies the effect and marks the event handled in one
transaction: concurrent or repeated deliveries of the same event serialize on that lock
and find it already handled. Workers claim due events in batches straight from the inbox
(`FOR NO KEY UPDATE SKIP LOCKED`, woken by NOTIFY on `EVENTS_CHANNEL`) and apply a batch in
one transaction with a savepoint per event: one bad event is rolled back and recorded as
failed alone, the others commit with it, and each event's effect still commits together
with its PROCESSED mark.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asyncpg import DeadlockDetectedError, LockNotAvailableError
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from kassa.models import StripeEvent, StripeEventStatus
from kassa.services import (
    checkout,
    disputes,
    invoices,
    ledger,
    outbox,
    payments,
    refunds,
    saved_cards,
    subscription_billing,
)
from kassa.services.errors import StripeMismatch, check_storable, not_found
from kassa.services.pagination import Page, paginate
from kassa.services.stripe_gateway import (
    API_VERSION,
    StripeGateway,
    VerifiedEvent,
    checkout_snapshot,
    dispute_snapshot,
    invoice_snapshot,
    payment_intent_snapshot,
    payment_method_snapshot,
    refund_snapshot,
    refunds_of_charge,
    subscription_snapshot,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InboxEvent:
    """What a handler reads of a stored event (a row, not an ORM object: the hot path)."""

    id: str
    type: str
    stripe_created: datetime
    payload: str
    api_version: str | None = None


Handler = Callable[[BaseDBAsyncClient, InboxEvent, Mapping[str, object]], Awaitable["Outcome"]]
# Workers LISTEN here (WorkerWakeUp NOTIFYs), and look every sweep interval anyway.
EVENTS_CHANNEL = "kassa_stripe_events"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an applied event touched."""

    payment_id: uuid.UUID | None = None


# Work an event leaves that needs Stripe: written to the outbox in the event's own
# transaction, so it is retried until done, never lost between the event and the call.
READ_CARD_DETAILS = "stripe.card_details"
READ_CHARGE_REFUNDS = "stripe.charge_refunds"
READ_SAVED_CARD = "stripe.saved_card"


@dataclass(frozen=True, slots=True)
class Expectations:
    """Which Stripe mode and account this kassa accepts events from."""

    livemode: bool
    account: str | None = None

    def mismatch(self, event: VerifiedEvent) -> str | None:
        if event.livemode != self.livemode:
            return f"livemode={event.livemode} event, kassa runs livemode={self.livemode}"
        if self.account and event.account and event.account != self.account:
            return f"event for account {event.account}, kassa serves {self.account}"
        return None


async def receive(
    event: VerifiedEvent, payload: str, headers: dict[str, str], expected: Expectations
) -> StripeEventStatus:
    """Store a verified event (first delivery wins); the stored event's status."""
    status, reason = _first_status(event, expected)
    conn = connections.get("default")
    rows = await conn.execute_query_dict(
        STORE,
        [
            event.id,
            event.type,
            event.livemode,
            event.account,
            event.api_version,
            datetime.fromtimestamp(event.created, UTC),
            event.object_id,
            payload,
            json.dumps(headers),
            status.value,
            reason,
        ],
    )
    if not rows:
        # A repeated delivery. Read in a statement of its own: the INSERT's snapshot was
        # taken before a concurrent first delivery committed, so it cannot see that row.
        rows = await conn.execute_query_dict(
            "SELECT status FROM stripe_events WHERE id = $1", [event.id]
        )
    return StripeEventStatus(rows[0]["status"])


STORE = (
    "INSERT INTO stripe_events (id, type, livemode, account, api_version, stripe_created, "
    "object_id, payload, headers, status, attempts, last_error, received_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, now()) "
    "ON CONFLICT (id) DO NOTHING RETURNING status"
)


class WorkerWakeUp:
    """Tells the workers that events were stored: after the fact, coalesced, one NOTIFY in
    a transaction of its own for every event stored since the last one.

    A transaction that NOTIFYs holds a database-wide lock from its commit until its WAL is
    flushed; a NOTIFY inside each webhook's INSERT made every acknowledgement commit one
    at a time. Sent after the INSERT committed, the wake-up never reaches a worker before
    the event can be seen; if it is lost (a crash in between), the workers' poll finds it.
    """

    def __init__(self) -> None:
        self._due = False
        self._sending: asyncio.Task[None] | None = None

    def stored(self) -> None:
        self._due = True
        # A task suspended in its NOTIFY sees `_due` when it resumes; a finished one does not.
        if self._sending is None or self._sending.done():
            self._sending = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        while self._due:
            self._due = False
            try:
                await wake_workers()
            except Exception as exc:
                log.info("could not wake the workers (they look anyway): %s", exc)
                return

    async def close(self) -> None:
        if self._sending is not None:
            self._sending.cancel()
            await asyncio.gather(self._sending, return_exceptions=True)


async def wake_workers() -> None:
    """Tell the workers that events wait (after replaying some, say)."""
    await connections.get("default").execute_query_dict(
        "SELECT pg_notify($1, '')", [EVENTS_CHANNEL]
    )


def _first_status(
    event: VerifiedEvent, expected: Expectations
) -> tuple[StripeEventStatus, str | None]:
    """How a new event is stored: to be applied, ignored (another mode or account), or dead
    (kept for an operator to see; a 2xx all the same, or Stripe would retry it for days)."""
    if event.nul_escaped:
        log.warning("Stripe event %s holds a NUL character; stored dead", event.id)
        return StripeEventStatus.DEAD, NUL_ESCAPED
    mismatch = expected.mismatch(event)
    if mismatch:
        log.warning("ignoring Stripe event %s: %s", event.id, mismatch)
        return StripeEventStatus.IGNORED, mismatch
    if other_api_version(event.api_version):
        reason = _other_version_reason(event.api_version)
        log.warning("Stripe event %s stored dead: %s", event.id, reason)
        return StripeEventStatus.DEAD, reason
    return StripeEventStatus.PENDING, None


# An event's shape follows the API version it is written in (the endpoint's). kassa reads
# the version it pins; another one's fields may be moved or renamed, so such an event is
# kept for an operator and never applied by guesswork.
OTHER_API_VERSION = "other API version: "


class OtherApiVersion(ValueError):
    """An event written for another Stripe API version than kassa reads."""


def other_api_version(api_version: str | None) -> bool:
    return bool(api_version) and api_version != API_VERSION


def _other_version_reason(api_version: str | None) -> str:
    return (
        f"{OTHER_API_VERSION}{api_version}, kassa reads {API_VERSION}; recreate the webhook "
        "endpoint with `kassa stripe setup --url …` (it pins kassa's version)"
    )


NUL_ESCAPED = "the event's id, type, account or object id holds a NUL (stored as \\u0000)"


@dataclass(frozen=True, slots=True)
class Processed:
    """An event's state after a processing attempt, and what the worker may do next."""

    status: StripeEventStatus
    attempts: int = 0
    unknown_intent: str | None = None


UNHANDLED = (StripeEventStatus.PENDING, StripeEventStatus.FAILED)
# How an event that disagrees with kassa's record (amount, currency, what is left) starts
# its last_error; retried in case an earlier event is still on its way, then dead.
REFUSED = "refused: "
BACKOFF_CAP = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    """1 s, 2 s, 4 s, ... capped at an hour: a dozen attempts span about four hours."""
    return min(BACKOFF_CAP, timedelta(seconds=2 ** max(attempts - 1, 0)))


async def process(event_id: str, max_attempts: int) -> Processed:
    """Apply one stored event if it is not handled yet: effect and mark in one transaction."""
    try:
        async with in_transaction() as conn:
            event = await StripeEvent.select_for_update(no_key=True).using_db(conn).get(id=event_id)
            if event.status not in UNHANDLED:
                return Processed(event.status, event.attempts)
            stored = InboxEvent(
                event.id, event.type, event.stripe_created, event.payload, event.api_version
            )
            outcome = await _apply(conn, stored)
            event.status = StripeEventStatus.PROCESSED if outcome else StripeEventStatus.IGNORED
            event.processed_at = datetime.now(UTC)
            event.attempts += 1
            event.last_error = event.next_attempt_at = None
            await event.save(using_db=conn)
    except Exception as exc:
        return await _record_failure(event_id, exc, max_attempts)
    return Processed(event.status, event.attempts)


@dataclass(frozen=True, slots=True)
class Failure:
    """How a failed attempt is recorded: retried after a backoff, or dead."""

    status: StripeEventStatus
    attempts: int
    next_attempt_at: datetime | None
    error: str
    unknown_intent: str | None


def _failure(event_id: str, exc: Exception, attempts_before: int, max_attempts: int) -> Failure:
    refused = isinstance(exc, StripeMismatch)
    # A refusal is kassa working as meant: one line, no traceback, and a reason that says so.
    expected = refused or isinstance(exc, OtherApiVersion)
    log.warning("Stripe event %s failed: %s", event_id, exc, exc_info=None if expected else exc)
    reason = f"{REFUSED}{type(exc).__name__}: {exc}" if refused else f"{type(exc).__name__}: {exc}"
    # PostgreSQL text cannot hold NUL; an error quoting client bytes must still be recorded.
    error = reason.replace("\x00", "\\0")[:2000]
    # A payload that cannot be read fails the same way every time: no point retrying it.
    malformed = isinstance(exc, (KeyError, TypeError, ValueError))
    attempts = attempts_before + 1
    dead = malformed or attempts >= max_attempts
    return Failure(
        StripeEventStatus.DEAD if dead else StripeEventStatus.FAILED,
        attempts,
        None if dead else datetime.now(UTC) + backoff(attempts),
        error,
        exc.intent_id if isinstance(exc, payments.UnknownPaymentIntent) else None,
    )


async def _record_failure(event_id: str, exc: Exception, max_attempts: int) -> Processed:
    async with in_transaction() as conn:
        event = await StripeEvent.select_for_update(no_key=True).using_db(conn).get(id=event_id)
        failure = _failure(event_id, exc, event.attempts, max_attempts)
        if event.status in UNHANDLED:
            event.attempts = failure.attempts
            event.status = failure.status
            event.next_attempt_at = failure.next_attempt_at
            event.last_error = failure.error
            await event.save(using_db=conn)
    return Processed(event.status, event.attempts, unknown_intent=failure.unknown_intent)


@dataclass(frozen=True, slots=True)
class Batch:
    """What one claimed batch did: each applied or failed event's state, and the events
    left unclaimed because their card must be read from Stripe first (outside any
    transaction)."""

    processed: dict[str, Processed]
    card_reads: list[str]

    @property
    def empty(self) -> bool:
        return not self.processed and not self.card_reads


CLAIM = (
    "SELECT id, type, stripe_created, payload, api_version, attempts FROM stripe_events "
    "WHERE (status = 'PENDING' OR (status = 'FAILED' AND next_attempt_at <= now())) "
    "AND ($2::text[] IS NULL OR id = ANY($2::text[])) "
    "ORDER BY received_at LIMIT $1 FOR NO KEY UPDATE SKIP LOCKED"
)
# One statement marks the whole batch.
MARK = (
    "UPDATE stripe_events e SET status = m.status, attempts = m.attempts, "
    "last_error = m.error, next_attempt_at = m.next_at, "
    "processed_at = CASE WHEN m.status IN ('PROCESSED', 'IGNORED') THEN now() "
    "ELSE e.processed_at END "
    "FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::timestamptz[]) "
    "AS m(id, status, attempts, error, next_at) WHERE e.id = m.id"
)
# Waiting on another batch's row in the wrong order: not the event's fault. It is left
# as it was, for the next batch, without counting an attempt.
LOCK_CONFLICTS = (DeadlockDetectedError, LockNotAvailableError)


async def apply_batch(
    limit: int,
    max_attempts: int,
    only: Sequence[str] | None = None,
    cards_read: bool = False,
) -> Batch:
    """Claim up to `limit` due events no other worker holds (`only` these, if given) and
    apply them in one transaction, each under its own savepoint. Unless `cards_read`, an
    event whose card must first be read from Stripe is not applied here but returned."""
    batch = Batch({}, [])
    marks: list[Mark] = []
    with ledger.deferring_balances() as deferred, invoices.deferring_numbers() as numbers:
        async with in_transaction() as conn:
            rows = await conn.execute_query_dict(CLAIM, [limit, list(only) if only else None])
            savepoint = "SAVEPOINT event"
            for row in rows:
                event = InboxEvent(
                    row["id"],
                    row["type"],
                    row["stripe_created"],
                    row["payload"],
                    row["api_version"],
                )
                if not cards_read and await _card_to_read(conn, event):
                    batch.card_reads.append(event.id)
                    continue
                await conn.execute_script(savepoint)
                savepoint = "RELEASE SAVEPOINT event; SAVEPOINT event"
                mark = await _apply_in_savepoint(
                    conn, deferred, event, int(row["attempts"]), max_attempts
                )
                if mark is not None:
                    marks.append(mark)
                    batch.processed[event.id] = mark.processed
            await deferred.apply(conn)
            await numbers.apply(conn)
            if marks:
                await conn.execute_query(
                    MARK, [list(column) for column in zip(*(m.row for m in marks), strict=True)]
                )
    return batch


@dataclass(frozen=True, slots=True)
class Mark:
    """How one event of a batch is marked, and what the worker learns of it."""

    event_id: str
    processed: Processed
    error: str | None = None
    next_attempt_at: datetime | None = None

    @property
    def row(self) -> tuple[str, str, int, str | None, datetime | None]:
        status, attempts = self.processed.status, self.processed.attempts
        return (self.event_id, status, attempts, self.error, self.next_attempt_at)


async def _apply_in_savepoint(
    conn: BaseDBAsyncClient,
    deferred: ledger.DeferredBalances,
    event: InboxEvent,
    attempts_before: int,
    max_attempts: int,
) -> Mark | None:
    """Apply `event` after its savepoint; on failure roll back to it and say how to mark
    the event (None: leave it as it was for the next batch)."""
    moves = deferred.mark()
    try:
        outcome = await _apply(conn, event)
    except Exception as exc:
        await conn.execute_script("ROLLBACK TO SAVEPOINT event")
        deferred.roll_back_to(moves)
        if isinstance(exc, LOCK_CONFLICTS) or isinstance(exc.__cause__, LOCK_CONFLICTS):
            log.info("Stripe event %s waits for the next batch: %s", event.id, exc)
            return None
        failure = _failure(event.id, exc, attempts_before, max_attempts)
        processed = Processed(failure.status, failure.attempts, failure.unknown_intent)
        return Mark(event.id, processed, failure.error, failure.next_attempt_at)
    status = StripeEventStatus.PROCESSED if outcome else StripeEventStatus.IGNORED
    return Mark(event.id, Processed(status, attempts_before + 1))


async def _card_to_read(conn: BaseDBAsyncClient, event: InboxEvent) -> bool:
    """Whether `event` is about a PaymentIntent whose card kassa should read first."""
    if HANDLERS.get(event.type) is not _payment_intent_changed:
        return False
    try:
        intent = payment_intent_snapshot(json.loads(event.payload)["data"]["object"])
    except (KeyError, TypeError, ValueError):
        return False  # unreadable: applying the event records why
    if intent.card is not None or not intent.payment_method_id:
        return False
    rows = await conn.execute_query_dict(
        "SELECT card_last4 FROM payments WHERE stripe_payment_intent_id = $1", [intent.id]
    )
    return bool(rows) and rows[0]["card_last4"] is None


async def mark_ignored(event_id: str, reason: str) -> None:
    await StripeEvent.filter(id=event_id, status__in=UNHANDLED).update(
        status=StripeEventStatus.IGNORED, last_error=reason[:2000], next_attempt_at=None
    )


async def replay(event_ids: list[str]) -> list[str]:
    """Put failed and dead events back in line; handled events stay exactly as they are."""
    for event_id in event_ids:
        check_storable(event_id, "eventId")
    await StripeEvent.filter(
        id__in=event_ids, status__in=(StripeEventStatus.FAILED, StripeEventStatus.DEAD)
    ).update(status=StripeEventStatus.PENDING, attempts=0, next_attempt_at=None)
    return [
        str(row)
        for row in await StripeEvent.filter(
            id__in=event_ids, status=StripeEventStatus.PENDING
        ).values_list("id", flat=True)
    ]


async def find(event_id: str) -> StripeEvent:
    event = await StripeEvent.get_or_none(id=event_id)
    if event is None:
        raise not_found("Stripe event", "eventId")
    return event


async def ids_matching(
    status: StripeEventStatus | None = None, since: datetime | None = None
) -> list[str]:
    query = StripeEvent.all()
    if status is not None:
        query = query.filter(status=status)
    if since is not None:
        query = query.filter(received_at__gte=since)
    return [str(row) for row in await query.values_list("id", flat=True)]


async def events_page(
    status: StripeEventStatus | None, first: int | None, after: str | None
) -> Page[StripeEvent]:
    query = StripeEvent.all()
    if status is not None:
        query = query.filter(status=status)
    return await paginate(query, first, after, "received_at")


async def _apply(conn: BaseDBAsyncClient, event: InboxEvent) -> Outcome | None:
    if other_api_version(event.api_version):
        raise OtherApiVersion(_other_version_reason(event.api_version))  # a replay, say
    handler = HANDLERS.get(event.type)
    if handler is None:
        return None
    data_object = json.loads(event.payload)["data"]["object"]
    return await handler(conn, event, data_object)


async def read_card_first(event_id: str, gateway: StripeGateway, within: float) -> None:
    """Before a PaymentIntent event is applied, outside its transaction: read the card it
    does not carry (Stripe's events name the payment method, not the card), waiting at most
    `within` seconds."""
    event = await StripeEvent.get_or_none(id=event_id)
    if event is None or event.status not in UNHANDLED or not _is_about_an_intent(event):
        return
    try:
        intent = payment_intent_snapshot(json.loads(event.payload)["data"]["object"])
    except (KeyError, TypeError, ValueError):
        return  # unreadable: applying the event records why
    if intent.card is None and intent.payment_method_id:
        await payments.read_card_before_event(intent.id, intent.payment_method_id, gateway, within)


def _is_about_an_intent(event: StripeEvent) -> bool:
    return HANDLERS.get(event.type) is _payment_intent_changed


async def _payment_intent_changed(
    conn: BaseDBAsyncClient, event: InboxEvent, data_object: Mapping[str, object]
) -> Outcome:
    intent = payment_intent_snapshot(data_object)
    try:
        payment = await payments.payment_for_intent(conn, intent.id)
    except payments.UnknownPaymentIntent:
        if isinstance(data_object.get("invoice"), str):
            # An invoice's intent: the invoice's own events make and book its payment.
            return Outcome()
        raise
    await payments.apply_payment_intent(conn, payment, intent, event.stripe_created)
    if payment.card_last4 is None and payment.stripe_payment_method_id:
        # Neither the event nor the read before it gave the card: read it later.
        await outbox.add(
            conn,
            READ_CARD_DETAILS,
            f"{READ_CARD_DETAILS}:{payment.id}",
            {"payment": str(payment.id)},
        )
    return Outcome(payment.id)


async def _refund_changed(
    conn: BaseDBAsyncClient, event: InboxEvent, data_object: Mapping[str, object]
) -> Outcome:
    refund = await refunds.apply_refund(conn, refund_snapshot(data_object), event.stripe_created)
    return Outcome(refund.payment_id)  # type: ignore[attr-defined]


async def _charge_refunded(
    conn: BaseDBAsyncClient, event: InboxEvent, data_object: Mapping[str, object]
) -> Outcome:
    listed = refunds_of_charge(data_object)
    if listed is None:
        charge = str(data_object["id"])
        await outbox.add(
            conn, READ_CHARGE_REFUNDS, f"{READ_CHARGE_REFUNDS}:{event.id}", {"charge": charge}
        )
        return Outcome()
    for snapshot in listed:
        await refunds.apply_refund(conn, snapshot, event.stripe_created)
    return Outcome()


async def _setup_intent_succeeded(
    conn: BaseDBAsyncClient, event: InboxEvent, data_object: Mapping[str, object]
) -> Outcome:
    method = data_object.get("payment_method")
    method_id = method.get("id") if isinstance(method, Mapping) else method
    customer = data_object.get("customer")
    if not isinstance(method_id, str) or not isinstance(customer, str):
        # A card set up for no customer pays one payment and is nobody's saved card.
        return Outcome()
    await outbox.add(
        conn,
        READ_SAVED_CARD,
        f"{READ_SAVED_CARD}:{method_id}",
        {"payment_method": method_id, "customer": customer},
    )
    return Outcome()


async def _payment_method_attached(
    conn: BaseDBAsyncClient, event: InboxEvent, data_object: Mapping[str, object]
) -> Outcome:
    await saved_cards.save(conn, payment_method_snapshot(data_object))
    return Outcome()


async def _payment_method_detached(
    conn: BaseDBAsyncClient, event: InboxEvent, data_object: Mapping[str, object]
) -> Outcome:
    await saved_cards.mark_detached(payment_method_snapshot(data_object).id)
    return Outcome()


async def _checkout_session_changed(
    conn: BaseDBAsyncClient, event: InboxEvent, data_object: Mapping[str, object]
) -> Outcome:
    session = checkout_snapshot(data_object)
    payment = await checkout.apply_checkout_session(conn, session, event.type, event.stripe_created)
    return Outcome(payment.id)


async def _dispute_created(
    conn: BaseDBAsyncClient, event: InboxEvent, data_object: Mapping[str, object]
) -> Outcome:
    payment = await disputes.record_dispute(conn, dispute_snapshot(data_object))
    return Outcome(payment.id)


async def _subscription_changed(
    conn: BaseDBAsyncClient, event: InboxEvent, data_object: Mapping[str, object]
) -> Outcome:
    snapshot = subscription_snapshot(data_object)
    await subscription_billing.apply_subscription_event(conn, snapshot, event.stripe_created)
    return Outcome()


async def _invoice_changed(
    conn: BaseDBAsyncClient, event: InboxEvent, data_object: Mapping[str, object]
) -> Outcome:
    invoice = invoice_snapshot(data_object)
    payment = await subscription_billing.apply_invoice_event(
        conn, invoice, event.type, event.stripe_created
    )
    return Outcome(payment.id if payment is not None else None)


HANDLERS: dict[str, Handler] = {
    "customer.subscription.created": _subscription_changed,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
    "invoice.finalized": _invoice_changed,
    "invoice.paid": _invoice_changed,
    "invoice.payment_succeeded": _invoice_changed,
    "invoice.payment_failed": _invoice_changed,
    "charge.dispute.created": _dispute_created,
    "checkout.session.completed": _checkout_session_changed,
    "checkout.session.async_payment_succeeded": _checkout_session_changed,
    "checkout.session.async_payment_failed": _checkout_session_changed,
    "checkout.session.expired": _checkout_session_changed,
    "setup_intent.succeeded": _setup_intent_succeeded,
    "payment_method.attached": _payment_method_attached,
    "payment_method.detached": _payment_method_detached,
    "refund.created": _refund_changed,
    "refund.updated": _refund_changed,
    "refund.failed": _refund_changed,
    "charge.refunded": _charge_refunded,
    "payment_intent.succeeded": _payment_intent_changed,
    "payment_intent.payment_failed": _payment_intent_changed,
    "payment_intent.canceled": _payment_intent_changed,
    "payment_intent.processing": _payment_intent_changed,
    "payment_intent.requires_action": _payment_intent_changed,
}


@dataclass(frozen=True, slots=True)
class InboxStats:
    """Counts by (type, status), retries by type, the oldest unhandled event's age, and
    events refused for disagreeing with kassa's record, by type."""

    by_type_and_status: list[tuple[str, str, int]]
    retried_by_type: list[tuple[str, int]]
    oldest_unhandled_seconds: float
    refused_by_type: list[tuple[str, int]]
    other_api_version: list[tuple[str, int]]


async def stats() -> InboxStats:
    conn = connections.get("default")
    counts = await conn.execute_query_dict(
        "SELECT type, status, count(*) AS n FROM stripe_events GROUP BY type, status"
    )
    retries = await conn.execute_query_dict(
        "SELECT type, coalesce(sum(attempts - 1), 0) AS n FROM stripe_events "
        "WHERE attempts > 1 GROUP BY type"
    )
    lag = await conn.execute_query_dict(
        "SELECT coalesce(extract(epoch FROM now() - min(received_at)), 0) AS seconds "
        "FROM stripe_events WHERE status IN ('PENDING', 'FAILED')"
    )
    refused = await conn.execute_query_dict(
        "SELECT type, count(*) AS n FROM stripe_events "
        "WHERE status IN ('FAILED', 'DEAD') AND starts_with(last_error, $1) GROUP BY type",
        [REFUSED],
    )
    other_version = await conn.execute_query_dict(
        "SELECT api_version, count(*) AS n FROM stripe_events "
        "WHERE api_version IS NOT NULL AND api_version <> $1 GROUP BY api_version",
        [API_VERSION],
    )
    return InboxStats(
        [(row["type"], row["status"], int(row["n"])) for row in counts],
        [(row["type"], int(row["n"])) for row in retries],
        float(lag[0]["seconds"]),
        [(row["type"], int(row["n"])) for row in refused],
        [(row["api_version"], int(row["n"])) for row in other_version],
    )
