"""Organizations (the tenants), who is calling, and where an organization's notifications go."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from kassa import models
from kassa.ids import IdKind
from kassa.resolvers import cards as card_resolvers
from kassa.resolvers import invoices as invoice_resolvers
from kassa.resolvers import orders as order_resolvers
from kassa.resolvers import organizations as organization_resolvers
from kassa.resolvers import payments as payment_resolvers
from kassa.resolvers import subscriptions as subscription_resolvers
from kassa.schema import credits, stats, wallets
from kassa.schema.cards import PaymentMethod
from kassa.schema.context import Info
from kassa.schema.enums import describe_enum
from kassa.schema.errors import UserError
from kassa.schema.invoices import Invoice
from kassa.schema.orders import Order
from kassa.schema.payments import Payment
from kassa.schema.relay import After, Connection, First, Node, global_id
from kassa.schema.subscriptions import CreditSubscription
from kassa.services.identity import OrgRole
from kassa.services.rows import PaymentRow

describe_enum(
    OrgRole,
    "A member's role in an organization (the token's org_role, or the API key's role)",
    {
        "OWNER": "Manages the organization; in kassa the same rights as ADMIN",
        "ADMIN": "Refunds, payment statistics, host notifications, and all a member may do",
        "MEMBER": "Pays, tops up, debits the wallet, buys and spends credits",
    },
    name="OrganizationRole",
)

Organization_ = strawberry.Parent[models.Organization]


@strawberry.type(
    description="A tenant: its money, orders and cards are seen only by its members "
    "(and platform admins)"
)
class Organization(Node):
    """Shown over the `models.Organization` row itself."""

    id: strawberry.ID = global_id(IdKind.ORGANIZATION)
    name: str = strawberry.field(description="Its name: at first the org_id the tokens name it by")

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, models.Organization)

    @strawberry.field(
        description="The wallet in one currency; a currency Stripe cannot charge is a "
        "top-level UNSUPPORTED_CURRENCY error"
    )
    @staticmethod
    async def wallet(
        organization: Organization_,
        info: Info,
        currency: Annotated[
            str, strawberry.argument(description="ISO 4217 code, any case: usd, EUR")
        ],
    ) -> wallets.Wallet:
        return await wallets.wallet(info, organization, currency)

    @strawberry.field(description="Its payments, newest first", graphql_type=Connection[Payment])
    @staticmethod
    async def payments(
        organization: Organization_,
        info: Info,
        first: First = None,
        after: After = None,
        status: Annotated[
            models.PaymentStatus | None,
            strawberry.argument(description="Only payments in this status; all when omitted"),
        ] = None,
    ) -> Connection[PaymentRow]:
        page = await payment_resolvers.organization_payments(
            info.context, organization, first, after, status
        )
        return Connection.of(page)

    @strawberry.field(
        description="Its invoices, one per paid payment, newest first",
        graphql_type=Connection[Invoice],
    )
    @staticmethod
    async def invoices(
        organization: Organization_, first: First = None, after: After = None
    ) -> Connection[models.Invoice]:
        page = await invoice_resolvers.organization_invoices(organization, first, after)
        return Connection.of(page)

    @strawberry.field(description="Prepaid credits: what can be spent now, and the lots")
    @staticmethod
    async def credits(organization: Organization_, info: Info) -> credits.CreditAccount:
        return await credits.credit_account(info, organization)

    @strawberry.field(
        description="Cards saved with Stripe; the default one pays when none is named",
        graphql_type=list[PaymentMethod],
    )
    @staticmethod
    async def payment_methods(organization: Organization_) -> list[models.SavedCard]:
        return await card_resolvers.payment_methods(organization)

    @strawberry.field(
        description="Payment totals by status, day and currency; owners and admins "
        "(FORBIDDEN, INVALID_INPUT as top-level errors)"
    )
    @staticmethod
    async def payment_stats(
        organization: Organization_,
        info: Info,
        from_: Annotated[
            datetime | None,
            strawberry.argument(
                name="from", description="Start, included; 30 days before `to` when omitted"
            ),
        ] = None,
        to: Annotated[
            datetime | None,
            strawberry.argument(description="End, excluded; now when omitted. At most 366 days"),
        ] = None,
    ) -> stats.PaymentStats:
        return await stats.payment_stats(info, organization, from_, to)

    @strawberry.field(
        description="Its credit plan subscriptions, newest first (ended ones too)",
        graphql_type=list[CreditSubscription],
    )
    @staticmethod
    async def subscriptions(organization: Organization_) -> list[models.CreditSubscription]:
        return await subscription_resolvers.organization_subscriptions(organization)

    @strawberry.field(description="Its orders, newest first", graphql_type=Connection[Order])
    @staticmethod
    async def orders(
        organization: Organization_,
        info: Info,
        first: First = None,
        after: After = None,
        status: Annotated[
            models.OrderStatus | None,
            strawberry.argument(description="Only orders in this status; all when omitted"),
        ] = None,
    ) -> Connection[models.Order]:
        page = await order_resolvers.organization_orders(
            info.context, organization, first, after, status
        )
        return Connection.of(page)

    billing_email: str | None = strawberry.field(
        description="Where failed payments of its own are mailed, with a link to pay again; "
        "when null, each payment's receipt address"
    )


@strawberry.type(description="The caller's place in an organization")
class Membership:
    organization: models.Organization = strawberry.field(
        graphql_type=Organization, description="The organization"
    )
    role: str = strawberry.field(
        description="owner, admin or member, as the token says; organizationRole is the enum"
    )
    organization_role: OrgRole = strawberry.field(
        description="The caller's role in the organization, as an enum"
    )


@strawberry.type(description="Who is calling, as the token or API key says")
class Viewer:
    user_id: str = strawberry.field(description="The token's sub (for an API key: apikey:<id>)")
    email: str | None = strawberry.field(description="The token's email claim, if any")
    roles: list[str] = strawberry.field(
        description="Platform roles: platform_admin may see and act on every organization"
    )

    @strawberry.field(description="The organization the caller acts for (none without one)")
    async def organizations(self, info: Info) -> list[Membership]:
        found = await organization_resolvers.membership(info.context)
        if found is None:
            return []
        organization, role = found
        return [Membership(organization=organization, role=role, organization_role=role)]


@strawberry.type(description="setHostNotifications saved the address")
class HostNotificationsConfigured:
    url: str = strawberry.field(description="Where kassa POSTs payment and order changes")
    signing_secret: str = strawberry.field(
        description="Verifies the Kassa-Signature header of every notification; keep it secret"
    )


HostNotificationsResult = Annotated[
    HostNotificationsConfigured | UserError,
    strawberry.union(
        "HostNotificationsResult",
        description="What setHostNotifications answers: "
        "HostNotificationsConfigured, or a UserError",
    ),
]


@strawberry.input(description="Where to send an organization's notifications")
class SetHostNotificationsInput:
    organization_id: strawberry.ID = strawberry.field(description="The organization (org_…)")
    url: str = strawberry.field(
        description="The host app's http(s) endpoint; in production a public address"
    )


@strawberry.type(description="setBillingEmail saved the address")
class BillingEmailSet:
    organization: models.Organization = strawberry.field(
        graphql_type=Organization, description="The organization, with its billingEmail"
    )


BillingEmailResult = Annotated[
    BillingEmailSet | UserError,
    strawberry.union(
        "BillingEmailResult",
        description="What setBillingEmail answers: BillingEmailSet, or a UserError",
    ),
]


@strawberry.input(description="Where to mail an organization's failed payments")
class SetBillingEmailInput:
    organization_id: strawberry.ID = strawberry.field(description="The organization (org_…)")
    email: str | None = strawberry.field(
        description="A mail address; null to mail each payment's receipt address instead"
    )


@strawberry.type
class OrganizationQuery:
    @strawberry.field(description="Who is calling")
    def viewer(self, info: Info) -> Viewer:
        caller = organization_resolvers.viewer(info.context)
        return Viewer(user_id=caller.user_id, email=caller.email, roles=list(caller.roles))

    @strawberry.field(
        description="The organization; null unless the caller belongs to it (or is a platform "
        "admin)",
        graphql_type=Organization | None,
    )
    async def organization(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The organization (org_…)")],
    ) -> models.Organization | None:
        return await organization_resolvers.organization(info.context, id)


@strawberry.type
class OrganizationMutation:
    @strawberry.mutation(
        description="Where kassa POSTs signed payment and order changes; owners and admins. "
        "Errors: NOT_FOUND, FORBIDDEN, INVALID_INPUT"
    )
    async def set_host_notifications(
        self,
        info: Info,
        input: Annotated[SetHostNotificationsInput, strawberry.argument(description="The address")],
    ) -> HostNotificationsResult:
        organization = await organization_resolvers.set_host_notifications(
            info.context, input.organization_id, input.url
        )
        return HostNotificationsConfigured(
            url=organization.notify_url or "", signing_secret=organization.notify_secret or ""
        )

    @strawberry.mutation(
        description="Where failed payments of the organization's own are mailed, with a "
        "retry link; owners and admins. Errors: NOT_FOUND, FORBIDDEN, INVALID_INPUT"
    )
    async def set_billing_email(
        self,
        info: Info,
        input: Annotated[SetBillingEmailInput, strawberry.argument(description="The address")],
    ) -> BillingEmailResult:
        organization = await organization_resolvers.set_billing_email(
            info.context, input.organization_id, input.email
        )
        return BillingEmailSet(organization=organization)
