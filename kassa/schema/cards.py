"""Saved cards: what may be shown of a card, and saving, choosing and forgetting one."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from kassa import models
from kassa.ids import IdKind
from kassa.resolvers import cards as card_resolvers
from kassa.schema.computed import computed
from kassa.schema.context import Info
from kassa.schema.errors import UserError
from kassa.schema.relay import Node, global_id


@strawberry.type(description="What may be shown of a card; never its number")
class CardSummary:
    brand: str | None = strawberry.field(description="Stripe's brand: visa, mastercard, amex …")
    last4: str | None = strawberry.field(description="The card number's last four digits")
    exp_month: int | None = strawberry.field(description="Expiry month, 1 to 12")
    exp_year: int | None = strawberry.field(description="Expiry year, four digits")


def _card(card: strawberry.Parent[models.SavedCard]) -> CardSummary | None:
    return CardSummary(
        brand=card.brand, last4=card.last4, exp_month=card.exp_month, exp_year=card.exp_year
    )


def _is_default(card: strawberry.Parent[models.SavedCard]) -> bool:
    return card.is_default and card.detached_at is None


@strawberry.type(description="A card saved with Stripe for the organization")
class PaymentMethod(Node):
    id: strawberry.ID = global_id(IdKind.SAVED_CARD)
    card: CardSummary | None = computed(_card, description="What may be shown of the card")
    is_default: bool = computed(
        _is_default,
        description="Pays topUpWallet, payOrder and buyCredits when they name no card",
    )

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, models.SavedCard)


@strawberry.type(description="The saved card was made default or detached")
class PaymentMethodChanged:
    payment_method: models.SavedCard = strawberry.field(
        graphql_type=PaymentMethod, description="The card as it is now"
    )


@strawberry.type(description="A Stripe SetupIntent for saving a card in the browser")
class SetupIntentCreated:
    setup_intent_id: str = strawberry.field(description="Stripe's SetupIntent (seti_…)")
    client_secret: str = strawberry.field(
        description="For Stripe.js confirmCardSetup; the card appears once Stripe confirms"
    )


SetupIntentResult = Annotated[
    SetupIntentCreated | UserError,
    strawberry.union(
        "SetupIntentResult",
        description="What createSetupIntent answers: SetupIntentCreated, or a UserError",
    ),
]
PaymentMethodResult = Annotated[
    PaymentMethodChanged | UserError,
    strawberry.union(
        "PaymentMethodResult",
        description="What setDefaultPaymentMethod and detachPaymentMethod answer: "
        "PaymentMethodChanged, or a UserError",
    ),
]


@strawberry.input(description="The organization that saves a card")
class CreateSetupIntentInput:
    organization_id: strawberry.ID = strawberry.field(description="The organization (org_…)")
    keep_card: bool = strawberry.field(
        default=True,
        description="Save the card for the organization (its Stripe customer's); false only "
        "collects it for one payment named next by paymentMethodId",
    )


@strawberry.input(description="A saved card")
class PaymentMethodInput:
    payment_method_id: strawberry.ID = strawberry.field(
        description="The saved card's id (card_…), as paymentMethods lists it"
    )


@strawberry.type
class CardMutation:
    @strawberry.mutation(
        description="Start saving a card: confirm the secret with Stripe.js. Errors: NOT_FOUND, "
        "PAYMENT_PROVIDER_ERROR, PAYMENT_OUTCOME_UNKNOWN"
    )
    async def create_setup_intent(
        self,
        info: Info,
        input: Annotated[
            CreateSetupIntentInput, strawberry.argument(description="The organization")
        ],
    ) -> SetupIntentResult:
        intent_id, secret = await card_resolvers.create_setup_intent(
            info.context, input.organization_id, input.keep_card
        )
        return SetupIntentCreated(setup_intent_id=intent_id, client_secret=secret)

    @strawberry.mutation(
        description="Make a saved card the one that pays when none is named. Errors: NOT_FOUND"
    )
    async def set_default_payment_method(
        self,
        info: Info,
        input: Annotated[PaymentMethodInput, strawberry.argument(description="The card")],
    ) -> PaymentMethodResult:
        card = await card_resolvers.set_default(info.context, input.payment_method_id)
        return PaymentMethodChanged(payment_method=card)

    @strawberry.mutation(
        description="Forget a saved card (detached from the Stripe customer). Errors: NOT_FOUND, "
        "PAYMENT_PROVIDER_ERROR, PAYMENT_OUTCOME_UNKNOWN"
    )
    async def detach_payment_method(
        self,
        info: Info,
        input: Annotated[PaymentMethodInput, strawberry.argument(description="The card")],
    ) -> PaymentMethodResult:
        card = await card_resolvers.detach(info.context, input.payment_method_id)
        return PaymentMethodChanged(payment_method=card)
