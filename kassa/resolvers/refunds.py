from __future__ import annotations

from typing import TYPE_CHECKING

from kassa import models
from kassa.ids import IdKind, decode
from kassa.services import refunds

if TYPE_CHECKING:
    from kassa.schema.context import Context


async def refund(context: Context, id: str) -> models.Refund | None:
    caller = context.caller
    if caller is None:
        return None
    return await refunds.visible_refund(caller, decode(IdKind.REFUND, id))


async def refund_payment(
    context: Context, request: refunds.RefundRequest
) -> tuple[models.Refund, models.Payment]:
    return await refunds.refund_payment(context.require_caller(), context.runtime.gateway, request)
