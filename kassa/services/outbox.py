"""The outbox: side effects written in the transaction of the change that causes them.

A message is written once per dedupe key (the event and the kind of effect), so a repeated
event writes nothing new; workers send it, retrying with backoff. Sending is at least once:
a worker that dies after the effect but before marking it sent sends it again.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from kassa.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

Sender = Callable[[Mapping[str, object]], Awaitable[None]]
MAX_ATTEMPTS = 10
BACKOFF_CAP = timedelta(hours=1)

_senders: dict[str, Sender] = {}
# The dedupe key column's width (OutboxMessage.dedupe_key).
MAX_DEDUPE_KEY = 255


class NotYet(Exception):
    """A sender's answer for a message not due yet: it waits until `at`, no attempt counted."""

    def __init__(self, at: datetime) -> None:
        super().__init__(f"not before {at.isoformat()}")
        self.at = at


def register_sender(kind: str, sender: Sender) -> None:
    """The function that performs messages of `kind` (mail, host notification, ...)."""
    _senders[kind] = sender


async def add(
    conn: BaseDBAsyncClient, kind: str, dedupe_key: str, payload: Mapping[str, object]
) -> bool:
    """Write a message within the caller's transaction; a repeated dedupe key is a no-op.
    Whether this call wrote it."""
    dedupe_key = _fitting(dedupe_key)
    message = OutboxMessage(id=uuid.uuid4(), kind=kind, dedupe_key=dedupe_key, payload=payload)
    written = await conn.execute_query_dict(
        "INSERT INTO outbox_messages (id, kind, dedupe_key, payload, status, attempts, "
        "next_attempt_at, created_at) VALUES ($1, $2, $3, $4, 'PENDING', 0, now(), now()) "
        "ON CONFLICT (dedupe_key) DO NOTHING RETURNING 1",
        [
            message.id,
            kind,
            dedupe_key,
            OutboxMessage._meta.fields_map["payload"].to_db_value(payload, message),
        ],
    )
    return bool(written)


def _fitting(dedupe_key: str) -> str:
    """The key as stored: a longer one (a mail to a long address) is shortened to its start
    and a digest of the whole, so it still names one message and never fails the write (the
    transaction booking a paid payment writes its receipt's)."""
    if len(dedupe_key) <= MAX_DEDUPE_KEY:
        return dedupe_key
    digest = hashlib.sha256(dedupe_key.encode()).hexdigest()
    return f"{dedupe_key[: MAX_DEDUPE_KEY - len(digest) - 1]}:{digest}"


async def due(limit: int) -> list[tuple[str, str]]:
    """(id, kind) of the messages due to be sent, the longest waiting first."""
    rows = (
        await OutboxMessage.filter(
            status=OutboxStatus.PENDING, next_attempt_at__lte=datetime.now(UTC)
        )
        .order_by("next_attempt_at")
        .limit(limit)
        .values_list("id", "kind")
    )
    return [(str(message_id), str(kind)) for message_id, kind in rows]


async def send(message_id: str) -> OutboxStatus | None:
    message = await OutboxMessage.get_or_none(id=message_id)
    if message is None or message.status is not OutboxStatus.PENDING:
        return message.status if message else None
    sender = _senders.get(message.kind)
    try:
        if sender is None:
            raise LookupError(f"no sender for outbox messages of kind {message.kind!r}")
        await sender(message.payload)
    except NotYet as later:
        message.next_attempt_at = later.at
        await message.save(update_fields=["next_attempt_at"])
        return message.status
    except Exception as exc:
        return await _failed(message, exc)
    message.status, message.sent_at = OutboxStatus.SENT, datetime.now(UTC)
    await message.save(update_fields=["status", "sent_at"])
    return message.status


async def _failed(message: OutboxMessage, exc: Exception) -> OutboxStatus:
    log.warning("outbox message %s (%s) failed: %s", message.id, message.kind, exc)
    message.attempts += 1
    if message.attempts >= MAX_ATTEMPTS:
        message.status = OutboxStatus.DEAD
    delay = min(BACKOFF_CAP, timedelta(seconds=2**message.attempts))
    message.next_attempt_at = datetime.now(UTC) + delay
    message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    await message.save(update_fields=["attempts", "status", "next_attempt_at", "last_error"])
    return message.status
