"""Tenants: provisioned from tokens, visible only to their members and platform admins."""

from __future__ import annotations

import uuid

from tortoise.transactions import in_transaction

from kassa.db import fetch
from kassa.ids import IdKind, decode, kind_of
from kassa.models import Organization
from kassa.services.addresses import check_email
from kassa.services.errors import DomainError, ErrorCode, not_found
from kassa.services.identity import Caller, OrgRole
from kassa.services.stripe_gateway import StripeGateway

MANAGING_ROLES = (OrgRole.OWNER, OrgRole.ADMIN)


async def provision(external_id: str) -> Organization:
    """The organization a token names, created on its first valid token (race-safe)."""
    async with in_transaction() as conn:
        await conn.execute_query(
            "INSERT INTO organizations (id, external_id, name, created_at) "
            "VALUES ($1, $2, $2, now()) ON CONFLICT (external_id) DO NOTHING",
            [str(uuid.uuid4()), external_id],
        )
    return await Organization.get(external_id=external_id)


async def by_reference(reference: str) -> tuple[Organization, bool]:
    """An operator's `--org`: an `org_…` id, which must exist, or the name its tokens carry
    (`org_id` claim), provisioned if new; with whether it was created now."""
    if kind_of(reference) is IdKind.ORGANIZATION:
        organization = await Organization.get_or_none(id=decode(IdKind.ORGANIZATION, reference))
        if organization is None:
            raise not_found("organization", "org")
        return organization, False
    existed = await Organization.exists(external_id=reference)
    return await provision(reference), not existed


def can_view(caller: Caller, organization: Organization) -> bool:
    return caller.is_platform_admin or caller.org_external_id == organization.external_id


def can_manage(caller: Caller, organization: Organization) -> bool:
    if caller.is_platform_admin:
        return True
    return can_view(caller, organization) and caller.org_role in MANAGING_ROLES


async def visible(caller: Caller, organization_id: uuid.UUID | None) -> Organization | None:
    """The organization if the caller may see it; None for missing and foreign alike."""
    if organization_id is None:
        return None
    # Read on nearly every request: one plain statement and the ORM's own row-to-model
    # step, without building the ORM's query each time (~5% of a list request).
    rows = await fetch("SELECT * FROM organizations WHERE id = $1", organization_id)
    organization = Organization._init_from_db(**rows[0]) if rows else None
    if organization is None or not can_view(caller, organization):
        return None
    return organization


async def require_visible(caller: Caller, organization_id: uuid.UUID | None) -> Organization:
    organization = await visible(caller, organization_id)
    if organization is None:
        raise not_found("organization", "organizationId")
    return organization


async def set_billing_email(
    caller: Caller, organization_id: uuid.UUID | None, email: str | None
) -> Organization:
    """Where the organization's failed payments are mailed (None: their receipt address)."""
    organization = await require_visible(caller, organization_id)
    if not can_manage(caller, organization):
        raise DomainError(ErrorCode.FORBIDDEN, "only owners and admins set this", "email")
    check_email(email, "email")
    organization.billing_email = email
    await organization.save(update_fields=["billing_email"])
    return organization


async def stripe_customer(organization: Organization, gateway: StripeGateway) -> str:
    """The organization's one Stripe Customer, created on first need."""
    if organization.stripe_customer_id:
        return organization.stripe_customer_id
    customer_id = await gateway.create_customer(
        organization_key=str(organization.id), name=organization.name
    )
    # Two first payments at once may both create one; the deterministic idempotency key
    # makes Stripe return the same customer, and only the first write is kept.
    await Organization.filter(id=organization.id, stripe_customer_id__isnull=True).update(
        stripe_customer_id=customer_id
    )
    await organization.refresh_from_db(fields=["stripe_customer_id"])
    if organization.stripe_customer_id is None:
        raise DomainError(ErrorCode.PAYMENT_PROVIDER_ERROR, "could not create a Stripe customer")
    return organization.stripe_customer_id
