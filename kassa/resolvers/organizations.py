from __future__ import annotations

from kassa.schema import types as gql
from kassa.schema.ids import IdKind, decode
from kassa.services import organizations


async def memberships(info: gql.Info) -> list[gql.Membership]:
    caller = info.context.require_caller()
    if caller.org_external_id is None or caller.org_role is None:
        return []
    organization = await organizations.provision(caller.org_external_id)
    return [gql.Membership(organization=gql.Organization.of(organization), role=caller.org_role)]


async def viewer(info: gql.Info) -> gql.Viewer:
    caller = info.context.require_caller()
    return gql.Viewer(user_id=caller.user_id, email=caller.email, roles=list(caller.roles))


async def organization(info: gql.Info, id: str) -> gql.Organization | None:
    caller = info.context.caller
    if caller is None:
        return None
    found = await organizations.visible(caller, decode(IdKind.ORGANIZATION, id))
    return gql.Organization.of(found) if found else None
