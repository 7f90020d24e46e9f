from __future__ import annotations

from kassa.ids import IdKind, decode
from kassa.schema import types as gql
from kassa.schema.errors import UserError
from kassa.services import host_notifications, organizations
from kassa.services.errors import DomainError


async def memberships(info: gql.Info) -> list[gql.Membership]:
    caller = info.context.require_caller()
    if caller.org_external_id is None or caller.org_role is None:
        return []
    organization = await organizations.provision(caller.org_external_id)
    return [
        gql.Membership(
            organization=gql.Organization.of(organization),
            role=caller.org_role,
            organization_role=caller.org_role,
        )
    ]


async def viewer(info: gql.Info) -> gql.Viewer:
    caller = info.context.require_caller()
    return gql.Viewer(user_id=caller.user_id, email=caller.email, roles=list(caller.roles))


async def organization(info: gql.Info, id: str) -> gql.Organization | None:
    caller = info.context.caller
    if caller is None:
        return None
    found = await organizations.visible(caller, decode(IdKind.ORGANIZATION, id))
    return gql.Organization.of(found) if found else None


async def set_host_notifications(
    info: gql.Info, organization_id: str, url: str
) -> gql.HostNotificationsConfigured | UserError:
    caller = info.context.require_caller()
    try:
        organization = await host_notifications.configure(
            caller, decode(IdKind.ORGANIZATION, organization_id), url
        )
    except DomainError as exc:
        return UserError.of(exc)
    return gql.HostNotificationsConfigured(
        url=organization.notify_url or "", signing_secret=organization.notify_secret or ""
    )
