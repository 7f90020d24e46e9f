from __future__ import annotations

from typing import TYPE_CHECKING

from kassa import models
from kassa.ids import IdKind, decode
from kassa.services import host_notifications, organizations
from kassa.services.identity import Caller, OrgRole

if TYPE_CHECKING:
    from kassa.schema.context import Context


def viewer(context: Context) -> Caller:
    return context.require_caller()


async def membership(context: Context) -> tuple[models.Organization, OrgRole] | None:
    """The organization the caller acts for, provisioned on first sight, and its role."""
    caller = context.require_caller()
    if caller.org_external_id is None or caller.org_role is None:
        return None
    return await organizations.provision(caller.org_external_id), caller.org_role


async def organization(context: Context, id: str) -> models.Organization | None:
    caller = context.caller
    if caller is None:
        return None
    return await organizations.visible(caller, decode(IdKind.ORGANIZATION, id))


async def set_host_notifications(
    context: Context, organization_id: str, url: str
) -> models.Organization:
    return await host_notifications.configure(
        context.require_caller(), decode(IdKind.ORGANIZATION, organization_id), url
    )


async def set_billing_email(
    context: Context, organization_id: str, email: str | None
) -> models.Organization:
    return await organizations.set_billing_email(
        context.require_caller(), decode(IdKind.ORGANIZATION, organization_id), email
    )
