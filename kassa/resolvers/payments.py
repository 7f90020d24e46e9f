from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator

from graphql import GraphQLError

from kassa import models
from kassa.ids import IdKind, decode
from kassa.resolvers.connections import connection
from kassa.resolvers.errors import query_error
from kassa.schema import types as gql
from kassa.schema.errors import UserError
from kassa.services import api_keys, payment_actions, payments
from kassa.services.errors import DomainError, not_found


async def payment(info: gql.Info, id: str) -> gql.Payment | None:
    caller = info.context.caller
    if caller is None:
        return None
    found = await payments.visible_payment(caller, decode(IdKind.PAYMENT, id))
    return gql.Payment.of(found) if found else None


async def payment_by_model_id(info: gql.Info, payment_id: uuid.UUID | None) -> gql.Payment | None:
    if payment_id is None:
        return None
    found = await info.context.loaders.payment.load(payment_id)
    return gql.Payment.of(found) if found else None


async def organization_payments(
    info: gql.Info,
    organization: models.Organization,
    first: int | None,
    after: str | None,
    status: models.PaymentStatus | None,
) -> gql.Connection[gql.Payment]:
    try:
        page = await payments.organization_payments(organization, first, after, status)
    except DomainError as exc:
        raise query_error(exc) from exc
    return connection(page, gql.Payment.of)


async def payment_updates(info: gql.Info, id: str) -> AsyncGenerator[gql.Payment, None]:
    """The payment now, then again after every committed change, from any process."""
    caller = await info.context.subscriber()
    found = await payments.visible_payment(caller, decode(IdKind.PAYMENT, id))
    if found is None:
        raise query_error(not_found("payment", "paymentId"))
    async with info.context.runtime.payment_updates.changes(found.id) as changes:
        while True:
            # A stream outlives its start: an API key revoked since ends it.
            if not await api_keys.still_valid(caller):
                raise GraphQLError(
                    "this API key was revoked", extensions={"code": "UNAUTHENTICATED"}
                )
            yield gql.Payment.of(await payments.by_id(found.id))
            await changes.get()


async def top_up_wallet(
    info: gql.Info, request: payments.TopUpRequest
) -> gql.PaymentIntentCreated | UserError:
    caller = info.context.require_caller()
    try:
        created = await payments.top_up_wallet(caller, info.context.runtime.gateway, request)
    except DomainError as exc:
        return UserError.of(exc)
    return gql.PaymentIntentCreated(
        payment=gql.Payment.of(created.payment), client_secret=created.client_secret
    )


async def confirm_payment(
    info: gql.Info, payment_id: str, payment_method_id: str | None
) -> gql.PaymentChanged | UserError:
    caller = info.context.require_caller()
    try:
        payment = await payment_actions.confirm_payment(
            caller,
            info.context.runtime.gateway,
            decode(IdKind.PAYMENT, payment_id),
            payment_method_id,
        )
    except DomainError as exc:
        return UserError.of(exc)
    return gql.PaymentChanged(payment=gql.Payment.of(payment))


async def cancel_payment(info: gql.Info, payment_id: str) -> gql.PaymentChanged | UserError:
    caller = info.context.require_caller()
    try:
        payment = await payment_actions.cancel_payment(
            caller, info.context.runtime.gateway, decode(IdKind.PAYMENT, payment_id)
        )
    except DomainError as exc:
        return UserError.of(exc)
    return gql.PaymentChanged(payment=gql.Payment.of(payment))
