"""Saved cards: set up with a SetupIntent, kept in step with Stripe's events, one default.

The default card pays top-ups and orders for which the caller names no card.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from kassa.ids import IdKind, decode, kind_of
from kassa.models import Organization, SavedCard
from kassa.services import organizations
from kassa.services.errors import DomainError, ErrorCode, check_storable, not_found
from kassa.services.identity import Caller
from kassa.services.stripe_gateway import PaymentMethodSnapshot, StripeFailure, StripeGateway


class UnknownCustomer(Exception):
    """A card event for a Stripe Customer that is not an organization's (yet)."""


async def create_setup_intent(
    caller: Caller,
    gateway: StripeGateway,
    organization_id: uuid.UUID | None,
    *,
    keep_card: bool = True,
) -> tuple[str, str]:
    """A SetupIntent for the browser to collect a card with; (its id, its client secret).

    A kept card is set up for the organization's Stripe customer, which saves it. One that
    is not kept is set up for no customer: it pays the one payment it is named for (the
    path the local Stripe.js needs, which cannot create a bare PaymentMethod)."""
    organization = await organizations.require_visible(caller, organization_id)
    customer_id = await organizations.stripe_customer(organization, gateway) if keep_card else None
    return await gateway.create_setup_intent(
        setup_key=str(uuid.uuid4()),
        customer_id=customer_id,
        metadata={"kassa_organization_id": str(organization.id)},
    )


async def listed(organization: Organization) -> list[SavedCard]:
    return await SavedCard.filter(organization=organization, detached_at__isnull=True).order_by(
        "created_at"
    )


async def visible_card(caller: Caller, card_id: uuid.UUID | None) -> SavedCard | None:
    """A saved card still attached, if the caller may see its organization; else None."""
    card = (
        await SavedCard.get_or_none(id=card_id, detached_at__isnull=True).prefetch_related(
            "organization"
        )
        if card_id
        else None
    )
    if card is None or not organizations.can_view(caller, card.organization):
        return None
    return card


async def _visible_card(caller: Caller, card_id: uuid.UUID | None) -> SavedCard:
    card = await visible_card(caller, card_id)
    if card is None:
        raise not_found("payment method", "paymentMethodId")
    return card


async def stripe_payment_method(
    organization: Organization, payment_method_id: str | None
) -> str | None:
    """The Stripe payment method that pays for `organization` when the caller names one.

    A kassa id (`card_…`, what `paymentMethods` lists) is one of the organization's own
    saved cards, still attached; any other id is Stripe's (a card just entered, a test card)
    and goes to Stripe as given, unless kassa knows it as another organization's card.
    Checked before anything is created, so a card that is not the caller's costs nothing.
    """
    if payment_method_id is None:
        return None
    check_storable(payment_method_id, "paymentMethodId")
    if kind_of(payment_method_id) is not None:
        return await _own_card(organization, decode(IdKind.SAVED_CARD, payment_method_id))
    if await _saved_by_another(organization, payment_method_id):
        raise not_found("payment method", "paymentMethodId")
    return payment_method_id


async def _saved_by_another(organization: Organization, stripe_payment_method_id: str) -> bool:
    # Stripe refuses a card attached to another customer; a compatible server may not.
    return (
        await SavedCard.filter(stripe_payment_method_id=stripe_payment_method_id)
        .exclude(organization=organization)
        .exists()
    )


async def _own_card(organization: Organization, card_id: uuid.UUID | None) -> str:
    card = (
        await SavedCard.get_or_none(id=card_id, organization=organization, detached_at__isnull=True)
        if card_id
        else None
    )
    if card is None:
        raise not_found("payment method", "paymentMethodId")
    return card.stripe_payment_method_id


async def set_default(caller: Caller, card_id: uuid.UUID | None) -> SavedCard:
    card = await _visible_card(caller, card_id)
    async with in_transaction() as conn:
        await _make_default(conn, card)
    await card.refresh_from_db()
    return card


async def _make_default(conn: BaseDBAsyncClient, card: SavedCard) -> None:
    # Lock the organization row: two cards made default at once leave exactly one default.
    organization_id = card.organization_id  # type: ignore[attr-defined]
    await Organization.filter(id=organization_id).select_for_update(no_key=True).using_db(conn)
    await SavedCard.filter(organization_id=organization_id).using_db(conn).update(is_default=False)
    await SavedCard.filter(id=card.id).using_db(conn).update(is_default=True)


async def detach(caller: Caller, gateway: StripeGateway, card_id: uuid.UUID | None) -> SavedCard:
    card = await _visible_card(caller, card_id)
    try:
        await gateway.detach_payment_method(card.stripe_payment_method_id)
    except StripeFailure as exc:
        if exc.code != "resource_missing":
            raise DomainError(ErrorCode.PAYMENT_PROVIDER_ERROR, f"Stripe: {exc.message}") from exc
    await mark_detached(card.stripe_payment_method_id)
    await card.refresh_from_db()
    return card


async def mark_detached(stripe_payment_method_id: str) -> None:
    await SavedCard.filter(
        stripe_payment_method_id=stripe_payment_method_id, detached_at__isnull=True
    ).update(detached_at=datetime.now(UTC), is_default=False)


async def save(conn: BaseDBAsyncClient, method: PaymentMethodSnapshot) -> SavedCard:
    """Record a card attached to an organization's Customer (from any event about it)."""
    organization = (
        await Organization.filter(stripe_customer_id=method.customer_id).using_db(conn).first()
        if method.customer_id
        else None
    )
    if organization is None:
        raise UnknownCustomer(f"no organization for Stripe customer {method.customer_id}")
    card = method.card
    await conn.execute_query(
        "INSERT INTO saved_cards (id, organization_id, stripe_payment_method_id, brand, last4, "
        "exp_month, exp_year, is_default, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, "
        "NOT EXISTS (SELECT 1 FROM saved_cards WHERE organization_id = $2 AND is_default), now()) "
        "ON CONFLICT (stripe_payment_method_id) DO NOTHING",
        [
            uuid.uuid4(),
            organization.id,
            method.id,
            card.brand if card else None,
            card.last4 if card else None,
            card.exp_month if card else None,
            card.exp_year if card else None,
        ],
    )
    return await SavedCard.filter(stripe_payment_method_id=method.id).using_db(conn).get()


async def save_from_stripe(
    payment_method_id: str, customer_id: str | None, gateway: StripeGateway
) -> None:
    """A SetupIntent succeeded: read the card it saved from Stripe and record it."""
    method = await gateway.retrieve_payment_method(payment_method_id)
    if method.customer_id is None:
        # The card belongs to the SetupIntent's customer even where the read lags behind.
        method = PaymentMethodSnapshot(method.id, customer_id, method.card)
    async with in_transaction() as conn:
        await save(conn, method)
