"""Expected failures, mapped from the domain in this one place: a `DomainError` raised under a
mutation becomes its result's `UserError`; under a query field, a top-level error that keeps
its code readable. Anything else unexpected is masked as "Internal error"."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import ExecutionResult, GraphQLError
from strawberry.types.execution import ExecutionResult as StrawberryExecutionResult

from kassa.db import unavailable
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
        "ALREADY_SUBSCRIBED": "The organization already has a live (incomplete, active or "
        "past due) subscription to this plan",
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


class UserErrors(strawberry.ExceptionHandler[DomainError, UserError]):
    """Every field whose result union holds UserError answers a DomainError with it."""

    def handle(self, exception: DomainError, *, field: Any, info: Any) -> UserError:
        return UserError.of(exception)


def tell_errors(result: ExecutionResult | StrawberryExecutionResult) -> None:
    """Before an answer leaves: domain errors told with their code, the unexpected masked
    (validation and parse errors, and errors raised on purpose, stay readable)."""
    if result.errors:
        result.errors = [_told(error) for error in result.errors]


def is_unexpected(error: GraphQLError) -> bool:
    """A failure of kassa's own: not a validation or parse error, not one raised on purpose
    (GraphQLError, DomainError), not the database being away (DatabaseOutage tells that)."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError | DomainError):
        return False
    return not unavailable(original)


def error_code(error: GraphQLError) -> str:
    original = error.original_error
    if isinstance(original, DomainError):
        return original.code.value
    return str((error.extensions or {}).get("code", "GRAPHQL_ERROR"))


def _told(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, DomainError):
        return GraphQLError(
            original.message,
            nodes=error.nodes,
            path=error.path,
            extensions={"code": original.code.value, "field": original.field},
        )
    if not is_unexpected(error):
        return error
    return GraphQLError(
        "Internal error",
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
    )
