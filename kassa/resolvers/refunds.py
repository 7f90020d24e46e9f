from __future__ import annotations

from kassa import models
from kassa.ids import IdKind, decode
from kassa.schema import types as gql
from kassa.schema.errors import UserError
from kassa.services import refunds
from kassa.services.errors import DomainError


async def refund(info: gql.Info, id: str) -> gql.Refund | None:
    caller = info.context.caller
    if caller is None:
        return None
    found = await refunds.visible_refund(caller, decode(IdKind.REFUND, id))
    return gql.Refund.of(found) if found else None


async def refunds_of_payment(info: gql.Info, payment: models.Payment) -> list[gql.Refund]:
    return [gql.Refund.of(refund) for refund in await refunds.of_payment(payment.id)]


async def refund_payment(
    info: gql.Info, request: refunds.RefundRequest
) -> gql.RefundCreated | UserError:
    caller = info.context.require_caller()
    try:
        refund, payment = await refunds.refund_payment(
            caller, info.context.runtime.gateway, request
        )
    except DomainError as exc:
        return UserError.of(exc)
    return gql.RefundCreated(refund=gql.Refund.of(refund), payment=gql.Payment.of(payment))
