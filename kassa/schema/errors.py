"""Expected failures as schema types: the `Error` interface and `UserError`."""

from __future__ import annotations

import strawberry

from kassa.schema.enums import describe_enum
from kassa.services.errors import DomainError, ErrorCode

# The domain's enum, registered with the schema as it is (names are the GraphQL values).
describe_enum(
    ErrorCode,
    "What went wrong, for a client to act on; each mutation's description lists its codes",
    {
        "INVALID_AMOUNT": "Not an amount the currency can charge: zero, negative, too many "
        "decimals, more than 8 digits in minor units, not a decimal string",
        "UNSUPPORTED_CURRENCY": "Not a currency Stripe charges cards in",
        "NOT_FOUND": "No such object for this caller: missing or another organization's",
        "FORBIDDEN": "The caller's role may not do this (refunds, statistics and host "
        "notifications are for owners and admins)",
        "ALREADY_PAID": "The order is paid already",
        "REFUND_EXCEEDS_CAPTURED": "More than the payment has left to refund",
        "INSUFFICIENT_BALANCE": "The wallet holds less than this needs",
        "INSUFFICIENT_CREDITS": "Fewer spendable credits than asked for",
        "CREDITS_ALREADY_CONSUMED": "Refunding a credit package would take back credits "
        "already spent",
        "IDEMPOTENCY_KEY_REUSED": "This key (or order reference) came with a different request "
        "before",
        "PAYMENT_PROVIDER_ERROR": "Stripe refused; nothing happened there; message says why",
        "PAYMENT_OUTCOME_UNKNOWN": "Stripe did not answer in time, so kassa cannot tell whether "
        "the card was charged or the refund made: never a failure. Repeat the same request "
        "(same idempotencyKey, or payOrder again) or read the payment to learn the outcome; "
        "kassa also settles it with Stripe by itself",
        "CARD_DECLINED": "The bank declined the card; try another",
        "REQUIRES_ACTION": "Reserved: the card needs the customer's authentication (kassa "
        "answers with the payment in REQUIRES_ACTION instead)",
        "INVALID_STATE": "The object is not in a state that allows this (message says which)",
        "INVALID_INPUT": "An argument is malformed; field names it",
    },
)


@strawberry.interface(description="An expected failure a client can act on")
class Error:
    code: ErrorCode = strawberry.field(description="What went wrong")
    message: str = strawberry.field(description="What went wrong in words, for developers")
    field: str | None = strawberry.field(
        default=None, description="The input field at fault (camelCase), when there is one"
    )


@strawberry.type(description="The failure result of every mutation")
class UserError(Error):
    @classmethod
    def of(cls, error: DomainError) -> UserError:
        return cls(code=error.code, message=error.message, field=error.field)
