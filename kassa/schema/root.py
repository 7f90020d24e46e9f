"""The root types, assembled from each domain's part. The field order below is the public
schema's (the committed schema.graphql): new fields go at the end of their root."""

from __future__ import annotations

from typing import Any

from strawberry.tools import merge_types
from strawberry.types.base import get_object_definition

from kassa.schema.cards import CardMutation
from kassa.schema.checkout import CheckoutMutation, CheckoutQuery
from kassa.schema.credits import CreditMutation, CreditQuery
from kassa.schema.nodes import NodeQuery
from kassa.schema.orders import OrderMutation, OrderQuery
from kassa.schema.organizations import OrganizationMutation, OrganizationQuery
from kassa.schema.payments import PaymentMutation, PaymentQuery, Subscription
from kassa.schema.refunds import RefundMutation
from kassa.schema.stripe_events import StripeEventMutation, StripeEventQuery
from kassa.schema.subscriptions import SubscriptionMutation, SubscriptionQuery
from kassa.schema.wallets import WalletMutation

QUERY_FIELDS = (
    "viewer",
    "organization",
    "payment",
    "order",
    "credit_packages",
    "checkout_status",
    "stripe_events",
    "node",
)
MUTATION_FIELDS = (
    "top_up_wallet",
    "create_order",
    "pay_order",
    "buy_credits",
    "start_checkout",
    "consume_credits",
    "debit_wallet",
    "confirm_payment",
    "cancel_payment",
    "create_setup_intent",
    "set_default_payment_method",
    "detach_payment_method",
    "refund_payment",
    "set_host_notifications",
    "replay_stripe_event",
)


def _root(name: str, description: str, parts: tuple[type, ...], order: tuple[str, ...]) -> Any:
    merged = merge_types(name, parts)
    definition = get_object_definition(merged, strict=True)
    definition.description = description
    position = {field: index for index, field in enumerate(order)}
    # Unknown (new) fields sort last, in their parts' order: the SDL only grows.
    definition.fields.sort(key=lambda field: position.get(field.python_name, len(order)))
    return merged


Query = _root(
    "Query",
    "What can be read",
    (
        OrganizationQuery,
        PaymentQuery,
        OrderQuery,
        CreditQuery,
        CheckoutQuery,
        StripeEventQuery,
        NodeQuery,
        SubscriptionQuery,
    ),
    QUERY_FIELDS,
)
Mutation = _root(
    "Mutation",
    "What can be done. Expected failures are a UserError in the result, listed in each "
    "mutation's description",
    (
        PaymentMutation,
        OrderMutation,
        CreditMutation,
        CheckoutMutation,
        WalletMutation,
        CardMutation,
        RefundMutation,
        OrganizationMutation,
        StripeEventMutation,
        SubscriptionMutation,
    ),
    MUTATION_FIELDS,
)

__all__ = ["Mutation", "Query", "Subscription"]
