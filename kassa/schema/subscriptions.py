"""Recurring credit plans and the organizations' subscriptions to them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from kassa import models
from kassa.ids import IdKind, decode
from kassa.resolvers import subscriptions as subscription_resolvers
from kassa.schema.context import Info
from kassa.schema.enums import describe_enum
from kassa.schema.errors import UserError
from kassa.schema.invoices import Invoice
from kassa.schema.money import Money
from kassa.schema.payments import RETRY_KEY
from kassa.schema.relay import After, Connection, First, Node, global_id
from kassa.services import subscriptions

describe_enum(
    models.BillingInterval,
    "How often a plan bills and grants its credits",
    {"MONTH": "Every month", "YEAR": "Every year"},
)
describe_enum(
    models.SubscriptionStatus,
    "Where a subscription stands; follows its Stripe Subscription",
    {
        "INCOMPLETE": "Its first invoice is not paid yet (the clientSecret pays it)",
        "ACTIVE": "Paid for the current period; each paid invoice grants the plan's credits",
        "PAST_DUE": "A renewal's payment failed; Stripe retries it, and the billing contact "
        "can pay it",
        "CANCELED": "Ended: no more invoices, no more credits. Final",
        "UNPAID": "Stripe gave up retrying the renewal; no credits until it is paid",
    },
)


def _price(plan: strawberry.Parent[models.CreditPlan]) -> Money:
    return Money.of_minor(plan.price, plan.currency)


@strawberry.type(description="A recurring credit plan: its credits every period, for its price")
class CreditPlan:
    code: str = strawberry.field(description="What subscribeToPlan takes: standard-monthly")
    name: str = strawberry.field(description="Its name, fit to show the customer")
    credits: int = strawberry.field(
        description="Credits each paid period grants (a proration invoice: in proportion to "
        "what it charged)"
    )
    price: Money = strawberry.field(resolver=_price, description="What each period costs")
    interval: models.BillingInterval = strawberry.field(description="How often it bills")


Subscription_ = strawberry.Parent[models.CreditSubscription]


@strawberry.type(description="An organization's subscription to a credit plan")
class CreditSubscription(Node):
    """Shown over the `models.CreditSubscription` row itself."""

    id: strawberry.ID = global_id(IdKind.SUBSCRIPTION)
    status: models.SubscriptionStatus = strawberry.field(description="Where it stands")
    current_period_start: datetime | None = strawberry.field(
        description="Start of the period paid for (null before Stripe has answered)"
    )
    current_period_end: datetime | None = strawberry.field(
        description="End of the period paid for; the next invoice is due then"
    )
    cancel_at_period_end: bool = strawberry.field(
        description="Ends when the current period does (stays ACTIVE until then)"
    )

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, models.CreditSubscription)

    @strawberry.field(description="The plan it bills now", graphql_type=CreditPlan)
    @staticmethod
    async def plan(subscription: Subscription_) -> models.CreditPlan:
        return await subscription_resolvers.plan_of(subscription)

    @strawberry.field(
        description="Its invoices, one per paid Stripe invoice, newest first",
        graphql_type=Connection[Invoice],
    )
    @staticmethod
    async def invoices(
        subscription: Subscription_, first: First = None, after: After = None
    ) -> Connection[models.Invoice]:
        page = await subscription_resolvers.invoices_of(subscription, first, after)
        return Connection.of(page)


@strawberry.type(description="The subscription as Stripe has it after the change")
class SubscriptionChanged:
    subscription: models.CreditSubscription = strawberry.field(
        graphql_type=CreditSubscription, description="The subscription"
    )
    client_secret: str | None = strawberry.field(
        description="For Stripe.js when the first invoice needs the browser (no card, or "
        "3-D Secure): confirm it there; null when Stripe charged the card"
    )


SubscriptionResult = Annotated[
    SubscriptionChanged | UserError,
    strawberry.union(
        "SubscriptionResult",
        description="What the subscription mutations answer: SubscriptionChanged, or a UserError",
    ),
]


def _changed(changed: subscriptions.SubscriptionChanged) -> SubscriptionChanged:
    return SubscriptionChanged(
        subscription=changed.subscription, client_secret=changed.client_secret
    )


@strawberry.input(description="A credit plan to subscribe to")
class SubscribeToPlanInput:
    organization_id: strawberry.ID = strawberry.field(description="The subscriber (org_…)")
    plan_code: str = strawberry.field(description="The plan's code, as creditPlans lists it")
    payment_method_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The card that pays every invoice (a saved card_…, or a pm_…); when "
        "omitted the default saved card, else the answer's clientSecret is for the browser",
    )
    idempotency_key: str | None = strawberry.field(default=None, description=RETRY_KEY)

    def to_request(self) -> subscriptions.Subscribe:
        return subscriptions.Subscribe(
            organization_id=decode(IdKind.ORGANIZATION, self.organization_id),
            plan_code=self.plan_code,
            payment_method_id=self.payment_method_id,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input(description="A subscription to end")
class CancelSubscriptionInput:
    subscription_id: strawberry.ID = strawberry.field(description="The subscription (csub_…)")
    at_period_end: bool = strawberry.field(
        default=True,
        description="End when the paid period does (default), or now (false): no refund, "
        "the credits granted stay",
    )


@strawberry.input(description="Another plan for a subscription")
class ChangeSubscriptionPlanInput:
    subscription_id: strawberry.ID = strawberry.field(description="The subscription (csub_…)")
    plan_code: str = strawberry.field(description="The new plan's code")


@strawberry.type
class SubscriptionQuery:
    @strawberry.field(
        description="The credit plans on sale, cheapest first", graphql_type=list[CreditPlan]
    )
    async def credit_plans(self) -> list[models.CreditPlan]:
        return await subscription_resolvers.credit_plans()


@strawberry.type
class SubscriptionMutation:
    @strawberry.mutation(
        description="Subscribe an organization to a credit plan; owners and admins. Each paid "
        "invoice grants the plan's credits. Errors: NOT_FOUND (organization, plan or card), "
        "FORBIDDEN, ALREADY_SUBSCRIBED, INVALID_INPUT, IDEMPOTENCY_KEY_REUSED, "
        "PAYMENT_PROVIDER_ERROR, PAYMENT_OUTCOME_UNKNOWN"
    )
    async def subscribe_to_plan(
        self,
        info: Info,
        input: Annotated[SubscribeToPlanInput, strawberry.argument(description="The plan")],
    ) -> SubscriptionResult:
        return _changed(await subscription_resolvers.subscribe(info.context, input.to_request()))

    @strawberry.mutation(
        description="End a subscription, at the end of its period by default; owners and "
        "admins. Errors: NOT_FOUND, FORBIDDEN, INVALID_STATE, PAYMENT_PROVIDER_ERROR, "
        "PAYMENT_OUTCOME_UNKNOWN"
    )
    async def cancel_subscription(
        self,
        info: Info,
        input: Annotated[CancelSubscriptionInput, strawberry.argument(description="Which")],
    ) -> SubscriptionResult:
        changed = await subscription_resolvers.cancel(
            info.context, input.subscription_id, input.at_period_end
        )
        return _changed(changed)

    @strawberry.mutation(
        description="Move an ACTIVE subscription to another plan; Stripe prorates and charges "
        "the difference now, which grants credits in proportion to what it charged; owners "
        "and admins. Errors: NOT_FOUND, FORBIDDEN, INVALID_STATE, ALREADY_SUBSCRIBED, "
        "PAYMENT_PROVIDER_ERROR, PAYMENT_OUTCOME_UNKNOWN"
    )
    async def change_subscription_plan(
        self,
        info: Info,
        input: Annotated[ChangeSubscriptionPlanInput, strawberry.argument(description="Which")],
    ) -> SubscriptionResult:
        changed = await subscription_resolvers.change_plan(
            info.context, input.subscription_id, input.plan_code
        )
        return _changed(changed)
