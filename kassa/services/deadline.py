"""How long the request being served may still wait on Stripe.

A load balancer gives up on a request after some tens of seconds; a mutation that is still
waiting for Stripe then would finish for nobody. Each GraphQL operation runs within a
deadline (`KASSA_REQUEST_DEADLINE_SECONDS`); every Stripe call it makes gets only what is
left, and past it the outcome is reported as unknown, to be settled by the same
idempotency key or by reconciliation. Background jobs run without one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

_ENDS_AT: ContextVar[float | None] = ContextVar("kassa_deadline", default=None)


@contextmanager
def within(seconds: float) -> Iterator[None]:
    started = begin(seconds)
    try:
        yield
    finally:
        end(started)


def begin(seconds: float) -> Token[float | None]:
    """`within` for a caller that is itself a generator (a schema extension's hook): one
    context manager fewer on every operation."""
    return _ENDS_AT.set(time.monotonic() + seconds)


def end(started: Token[float | None]) -> None:
    # A subscription its client stops is closed from another task, whose context never
    # saw this value: nothing to restore there.
    with contextlib.suppress(ValueError):
        _ENDS_AT.reset(started)


def remaining() -> float | None:
    """Seconds left, or None outside any deadline."""
    ends_at = _ENDS_AT.get()
    return None if ends_at is None else ends_at - time.monotonic()
