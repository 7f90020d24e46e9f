from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from kassa import models
from kassa.services import stats

if TYPE_CHECKING:
    from kassa.schema.context import Context


async def payment_stats(
    context: Context,
    organization: models.Organization,
    start: datetime | None,
    end: datetime | None,
) -> stats.PaymentStats:
    return await stats.payment_stats(context.require_caller(), organization, start, end)
