"""Domain error codes: expected failures a client can act on (exposed by schema/errors.py)."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_AMOUNT = "INVALID_AMOUNT"
    UNSUPPORTED_CURRENCY = "UNSUPPORTED_CURRENCY"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    ALREADY_PAID = "ALREADY_PAID"
    REFUND_EXCEEDS_CAPTURED = "REFUND_EXCEEDS_CAPTURED"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    INSUFFICIENT_CREDITS = "INSUFFICIENT_CREDITS"
    CREDITS_ALREADY_CONSUMED = "CREDITS_ALREADY_CONSUMED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    PAYMENT_PROVIDER_ERROR = "PAYMENT_PROVIDER_ERROR"
    PAYMENT_OUTCOME_UNKNOWN = "PAYMENT_OUTCOME_UNKNOWN"
    CARD_DECLINED = "CARD_DECLINED"
    REQUIRES_ACTION = "REQUIRES_ACTION"
    INVALID_STATE = "INVALID_STATE"
    INVALID_INPUT = "INVALID_INPUT"
    ALREADY_SUBSCRIBED = "ALREADY_SUBSCRIBED"


class StripeMismatch(Exception):
    """Stripe reports money that does not agree with kassa's record: nothing is booked, and
    the event stays failed (then dead) with this as its reason, for an operator to see."""


class DomainError(Exception):
    """An expected failure, shown to the client as a `UserError` union member."""

    def __init__(self, code: ErrorCode, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def not_found(what: str, field: str | None = None) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"{what} not found", field)


def check_storable(text: str | None, field: str) -> None:
    """Text kassa keeps or looks up in PostgreSQL, whose text cannot hold NUL."""
    if text is not None and "\x00" in text:
        raise DomainError(ErrorCode.INVALID_INPUT, f"{field} holds a NUL character", field)


def check_reason(reason: str) -> None:
    """A client's reason for a movement, kept in the ledger and shown in histories."""
    if not 0 < len(reason) <= 500 or not reason.isprintable():
        raise DomainError(
            ErrorCode.INVALID_INPUT, "reason is 1 to 500 printable characters", "reason"
        )


def check_same_request(stored_fingerprint: str | None, fingerprint: str, what: str) -> None:
    """A reused idempotency key must come with the request it was first used for."""
    if stored_fingerprint != fingerprint:
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            f"this idempotency key was used for a different {what}",
            "idempotencyKey",
        )
