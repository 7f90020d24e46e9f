"""Subscribing an organization to a recurring credit plan, cancelling, changing plan.

Owners and admins only, like the other calls that commit the organization's money. Every
Stripe call follows the house pattern: the subscription row is claimed
(`stripe_calls.one_at_a_time`, no transaction held), Stripe is called, and its answer is
applied in a transaction of its own through `subscription_billing`, the path its events take.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError

from kassa.models import (
    LIVE_STATUSES,
    CreditPlan,
    CreditSubscription,
    Organization,
    SubscriptionStatus,
)
from kassa.services import (
    organizations,
    payments,
    plans,
    saved_cards,
    stripe_calls,
    subscription_billing,
)
from kassa.services.errors import DomainError, ErrorCode, check_same_request, not_found
from kassa.services.identity import Caller
from kassa.services.stripe_gateway import StripeFailure, StripeGateway, SubscriptionSnapshot

# The first invoice's PaymentIntent in these states waits for the customer's browser.
FOR_THE_BROWSER = ("requires_payment_method", "requires_confirmation", "requires_action")


@dataclass(frozen=True, slots=True)
class Subscribe:
    organization_id: uuid.UUID | None
    plan_code: str
    payment_method_id: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionChanged:
    subscription: CreditSubscription
    # For Stripe.js when the first invoice needs the browser (no card, or 3-D Secure).
    client_secret: str | None = None


async def subscribe(
    caller: Caller, gateway: StripeGateway, request: Subscribe, expiry_days: int
) -> SubscriptionChanged:
    organization = await organizations.require_visible(caller, request.organization_id)
    _require_manager(caller, organization, "organizationId")
    plan = await plans.plan_on_sale(request.plan_code, "planCode")
    payments.check_idempotency_key(request.idempotency_key)
    named = await saved_cards.stripe_payment_method(organization, request.payment_method_id)
    card = named or await payments.default_card_id(organization)
    subscription = await _new_subscription(caller, organization, plan, request, named, expiry_days)
    async with stripe_calls.one_at_a_time(subscription.id, CreditSubscription):
        await subscription.refresh_from_db()
        snapshot = await _at_stripe(subscription, organization, plan, card, gateway)
        await subscription_billing.record(subscription.id, snapshot)
    return SubscriptionChanged(await CreditSubscription.get(id=subscription.id), _secret(snapshot))


def _require_manager(caller: Caller, organization: Organization, field: str) -> None:
    if not organizations.can_manage(caller, organization):
        raise DomainError(ErrorCode.FORBIDDEN, "only owners and admins manage subscriptions", field)


async def _new_subscription(
    caller: Caller,
    organization: Organization,
    plan: CreditPlan,
    request: Subscribe,
    named_card: str | None,
    expiry_days: int,
) -> CreditSubscription:
    fingerprint = hashlib.sha256(f"{plan.code}|{named_card or ''}".encode()).hexdigest()
    key = request.idempotency_key
    if key and (existing := await _by_key(organization, key, fingerprint)) is not None:
        return existing
    try:
        return await CreditSubscription.create(
            organization=organization,
            plan_code=plan.code,
            stripe_price_id=plan.stripe_price_id,
            credit_expiry_days=expiry_days,
            receipt_email=caller.email,
            idempotency_key=key,
            request_fingerprint=fingerprint,
            created_by=caller.user_id,
        )
    except IntegrityError:
        # The same key at once (the first insert wins), or a live subscription to the plan.
        if key and (existing := await _by_key(organization, key, fingerprint)) is not None:
            return existing
        if (unconfirmed := await _unconfirmed(organization, plan, fingerprint)) is not None:
            return unconfirmed
        raise DomainError(
            ErrorCode.ALREADY_SUBSCRIBED,
            "the organization already subscribes to this plan",
            "planCode",
        ) from None


async def _unconfirmed(
    organization: Organization, plan: CreditPlan, fingerprint: str
) -> CreditSubscription | None:
    """The same subscribe made before, whose outcome at Stripe kassa has not heard (Stripe
    not reached, its answer lost): repeating it goes on with that one, under the Stripe
    idempotency key of its first try, instead of refusing it as subscribed for ever."""
    return await CreditSubscription.get_or_none(
        organization=organization,
        plan_code=plan.code,
        status__in=LIVE_STATUSES,
        stripe_subscription_id__isnull=True,
        request_fingerprint=fingerprint,
    )


async def _by_key(
    organization: Organization, key: str, fingerprint: str
) -> CreditSubscription | None:
    existing = await CreditSubscription.get_or_none(organization=organization, idempotency_key=key)
    if existing is not None:
        check_same_request(existing.request_fingerprint, fingerprint, "subscription")
    return existing


async def _at_stripe(
    subscription: CreditSubscription,
    organization: Organization,
    plan: CreditPlan,
    card: str | None,
    gateway: StripeGateway,
) -> SubscriptionSnapshot:
    """Under the subscription's claim: Stripe's subscription, created unless an earlier
    request (the same idempotency key) has created it."""
    try:
        if subscription.stripe_subscription_id:
            return await gateway.retrieve_subscription(subscription.stripe_subscription_id)
        if subscription.status is SubscriptionStatus.CANCELED:
            raise DomainError(
                ErrorCode.INVALID_STATE, "Stripe refused this subscription; subscribe again"
            )
        customer_id = await organizations.stripe_customer(organization, gateway)
        await plans.ensure_at_stripe(plan, gateway)
        return await gateway.create_subscription(
            subscription_key=str(subscription.id),
            customer_id=customer_id,
            price_id=subscription.stripe_price_id,
            payment_method_id=card,
            metadata={
                "kassa_subscription_id": str(subscription.id),
                "kassa_organization_id": str(organization.id),
            },
        )
    except StripeFailure as exc:
        if exc.refused and subscription.stripe_subscription_id is None:
            # Nothing exists at Stripe: the plan is free to subscribe to again.
            await CreditSubscription.filter(
                id=subscription.id, stripe_subscription_id__isnull=True
            ).update(status=SubscriptionStatus.CANCELED)
        raise payments.provider_error(exc) from exc


def _secret(snapshot: SubscriptionSnapshot) -> str | None:
    invoice = snapshot.latest_invoice
    intent = invoice.payment_intent if invoice is not None else None
    if intent is None or intent.status not in FOR_THE_BROWSER:
        return None
    return intent.client_secret


async def cancel(
    caller: Caller, gateway: StripeGateway, subscription_id: uuid.UUID | None, at_period_end: bool
) -> SubscriptionChanged:
    """At the period's end (it stays ACTIVE until then), or now."""
    subscription = await _managed(caller, subscription_id)
    if subscription.status is SubscriptionStatus.CANCELED:
        return SubscriptionChanged(subscription)
    stripe_id = _stripe_id(subscription)
    async with stripe_calls.one_at_a_time(subscription.id, CreditSubscription):
        try:
            if at_period_end:
                snapshot = await gateway.cancel_at_period_end(stripe_id)
            else:
                snapshot = await gateway.cancel_subscription(stripe_id)
        except StripeFailure as exc:
            raise payments.provider_error(exc) from exc
        await subscription_billing.record(subscription.id, snapshot)
    return SubscriptionChanged(await CreditSubscription.get(id=subscription.id))


async def change_plan(
    caller: Caller, gateway: StripeGateway, subscription_id: uuid.UUID | None, plan_code: str
) -> SubscriptionChanged:
    """Move an active subscription to another plan; Stripe prorates and charges the
    difference at once, and that invoice's credits follow `plans.credits_for`."""
    subscription = await _managed(caller, subscription_id)
    plan = await plans.plan_on_sale(plan_code, "planCode")
    if subscription.status is not SubscriptionStatus.ACTIVE:
        raise DomainError(
            ErrorCode.INVALID_STATE, "only an ACTIVE subscription changes plan", "subscriptionId"
        )
    if plan.stripe_price_id == subscription.stripe_price_id:
        return SubscriptionChanged(subscription)
    await _require_not_subscribed(subscription, plan)
    stripe_id = _stripe_id(subscription)
    async with stripe_calls.one_at_a_time(subscription.id, CreditSubscription):
        try:
            await plans.ensure_at_stripe(plan, gateway)
            current = await gateway.retrieve_subscription(stripe_id)
            snapshot = await gateway.change_subscription_price(
                stripe_id,
                item_id=current.item_id,
                price_id=plan.stripe_price_id,
                # Each change is invoiced, so the latest invoice names the state changed from:
                # a retry repeats this change, a later change back and forth is a new one.
                change_key=f"{subscription.id}:{_latest_invoice(current)}:{plan.stripe_price_id}",
            )
        except StripeFailure as exc:
            raise payments.provider_error(exc) from exc
        await subscription_billing.record(subscription.id, snapshot)
    return SubscriptionChanged(await CreditSubscription.get(id=subscription.id), _secret(snapshot))


def _latest_invoice(snapshot: SubscriptionSnapshot) -> str:
    return snapshot.latest_invoice.id if snapshot.latest_invoice is not None else "none"


async def _require_not_subscribed(subscription: CreditSubscription, plan: CreditPlan) -> None:
    if await CreditSubscription.filter(
        organization_id=subscription.organization_id,  # type: ignore[attr-defined]
        plan_code=plan.code,
        status__in=LIVE_STATUSES,
    ).exists():
        raise DomainError(
            ErrorCode.ALREADY_SUBSCRIBED,
            "the organization already subscribes to this plan",
            "planCode",
        )


def _stripe_id(subscription: CreditSubscription) -> str:
    if subscription.stripe_subscription_id is None:
        raise DomainError(
            ErrorCode.INVALID_STATE,
            "Stripe has not confirmed this subscription yet; repeat subscribeToPlan",
            "subscriptionId",
        )
    return subscription.stripe_subscription_id


async def _managed(caller: Caller, subscription_id: uuid.UUID | None) -> CreditSubscription:
    subscription = await visible_subscription(caller, subscription_id)
    if subscription is None:
        raise not_found("subscription", "subscriptionId")
    _require_manager(caller, subscription.organization, "subscriptionId")
    return subscription


async def visible_subscription(
    caller: Caller, subscription_id: uuid.UUID | None
) -> CreditSubscription | None:
    if subscription_id is None:
        return None
    subscription = await CreditSubscription.get_or_none(id=subscription_id).prefetch_related(
        "organization"
    )
    if subscription is None or not organizations.can_view(caller, subscription.organization):
        return None
    return subscription


async def of_organization(organization: Organization) -> list[CreditSubscription]:
    return await CreditSubscription.filter(organization=organization).order_by("-created_at")


async def plan_versions(keys: Sequence[str]) -> list[CreditPlan | None]:
    return await plans.versions(keys)
