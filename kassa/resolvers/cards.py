from __future__ import annotations

from typing import TYPE_CHECKING

from kassa import models
from kassa.ids import IdKind, decode
from kassa.services import saved_cards

if TYPE_CHECKING:
    from kassa.schema.context import Context


async def payment_methods(organization: models.Organization) -> list[models.SavedCard]:
    return await saved_cards.listed(organization)


async def payment_method(context: Context, id: str) -> models.SavedCard | None:
    caller = context.caller
    if caller is None:
        return None
    return await saved_cards.visible_card(caller, decode(IdKind.SAVED_CARD, id))


async def create_setup_intent(
    context: Context, organization_id: str, keep_card: bool
) -> tuple[str, str]:
    """Stripe's SetupIntent id and its client secret."""
    return await saved_cards.create_setup_intent(
        context.require_caller(),
        context.runtime.gateway,
        decode(IdKind.ORGANIZATION, organization_id),
        keep_card=keep_card,
    )


async def set_default(context: Context, card_id: str) -> models.SavedCard:
    return await saved_cards.set_default(
        context.require_caller(), decode(IdKind.SAVED_CARD, card_id)
    )


async def detach(context: Context, card_id: str) -> models.SavedCard:
    return await saved_cards.detach(
        context.require_caller(), context.runtime.gateway, decode(IdKind.SAVED_CARD, card_id)
    )
