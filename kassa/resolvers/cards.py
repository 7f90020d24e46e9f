from __future__ import annotations

from kassa import models
from kassa.ids import IdKind, decode
from kassa.schema import types as gql
from kassa.schema.errors import UserError
from kassa.services import saved_cards
from kassa.services.errors import DomainError


async def payment_methods(
    info: gql.Info, organization: models.Organization
) -> list[gql.PaymentMethod]:
    return [gql.PaymentMethod.of(card) for card in await saved_cards.listed(organization)]


async def payment_method(info: gql.Info, id: str) -> gql.PaymentMethod | None:
    caller = info.context.caller
    if caller is None:
        return None
    found = await saved_cards.visible_card(caller, decode(IdKind.SAVED_CARD, id))
    return gql.PaymentMethod.of(found) if found else None


async def create_setup_intent(
    info: gql.Info, organization_id: str, keep_card: bool
) -> gql.SetupIntentCreated | UserError:
    caller = info.context.require_caller()
    try:
        intent_id, secret = await saved_cards.create_setup_intent(
            caller,
            info.context.runtime.gateway,
            decode(IdKind.ORGANIZATION, organization_id),
            keep_card=keep_card,
        )
    except DomainError as exc:
        return UserError.of(exc)
    return gql.SetupIntentCreated(setup_intent_id=intent_id, client_secret=secret)


async def set_default(info: gql.Info, card_id: str) -> gql.PaymentMethodChanged | UserError:
    caller = info.context.require_caller()
    try:
        card = await saved_cards.set_default(caller, decode(IdKind.SAVED_CARD, card_id))
    except DomainError as exc:
        return UserError.of(exc)
    return gql.PaymentMethodChanged(payment_method=gql.PaymentMethod.of(card))


async def detach(info: gql.Info, card_id: str) -> gql.PaymentMethodChanged | UserError:
    caller = info.context.require_caller()
    try:
        card = await saved_cards.detach(
            caller, info.context.runtime.gateway, decode(IdKind.SAVED_CARD, card_id)
        )
    except DomainError as exc:
        return UserError.of(exc)
    return gql.PaymentMethodChanged(payment_method=gql.PaymentMethod.of(card))
