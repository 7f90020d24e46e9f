from __future__ import annotations

from typing import TYPE_CHECKING

from kassa import models
from kassa.ids import IdKind, decode
from kassa.services import invoices, plans, subscriptions
from kassa.services.pagination import Page

if TYPE_CHECKING:
    from kassa.schema.context import Context


async def credit_plans() -> list[models.CreditPlan]:
    return await plans.on_sale()


async def plan_of(subscription: models.CreditSubscription) -> models.CreditPlan:
    plan = await plans.version(subscription.stripe_price_id)
    assert plan is not None, "a subscription's plan version is never deleted"
    return plan


async def invoices_of(
    subscription: models.CreditSubscription, first: int | None, after: str | None
) -> Page[models.Invoice]:
    return await invoices.subscription_invoices(subscription.id, first, after)


async def subscription(context: Context, id: str) -> models.CreditSubscription | None:
    caller = context.caller
    if caller is None:
        return None
    return await subscriptions.visible_subscription(caller, decode(IdKind.SUBSCRIPTION, id))


async def organization_subscriptions(
    organization: models.Organization,
) -> list[models.CreditSubscription]:
    return await subscriptions.of_organization(organization)


async def subscribe(
    context: Context, request: subscriptions.Subscribe
) -> subscriptions.SubscriptionChanged:
    runtime = context.runtime
    return await subscriptions.subscribe(
        context.require_caller(), runtime.gateway, request, runtime.settings.credit_expiry_days
    )


async def cancel(
    context: Context, subscription_id: str, at_period_end: bool
) -> subscriptions.SubscriptionChanged:
    return await subscriptions.cancel(
        context.require_caller(),
        context.runtime.gateway,
        decode(IdKind.SUBSCRIPTION, subscription_id),
        at_period_end,
    )


async def change_plan(
    context: Context, subscription_id: str, plan_code: str
) -> subscriptions.SubscriptionChanged:
    return await subscriptions.change_plan(
        context.require_caller(),
        context.runtime.gateway,
        decode(IdKind.SUBSCRIPTION, subscription_id),
        plan_code,
    )
