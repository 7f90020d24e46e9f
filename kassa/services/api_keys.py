"""Organization API keys for host apps calling kassa server to server.

A key is `kassa_sk_` and 43 random URL-safe characters, shown once when it is made; kassa
keeps its SHA-256 (a key has 256 bits of entropy, so a fast hash is enough: there is
nothing to guess). A key acts for one organization with one role, until revoked.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from kassa.models import ApiKey, Organization
from kassa.services.identity import AuthenticationError, Caller, OrgRole
from kassa.services.organizations import provision

PREFIX = "kassa_sk_"
# Host apps act for the organization; they are not its owner.
ROLES = (OrgRole.MEMBER, OrgRole.ADMIN)


@dataclass(frozen=True, slots=True)
class NewApiKey:
    key: ApiKey
    secret: str


def is_api_key(token: str) -> bool:
    return token.startswith(PREFIX)


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create(organization_external_id: str, name: str, role: OrgRole) -> NewApiKey:
    if role not in ROLES:
        raise ValueError(f"an API key's role is one of {', '.join(r.value for r in ROLES)}")
    if not 0 < len(name) <= 200:
        raise ValueError("the name is 1 to 200 characters")
    organization = await provision(organization_external_id)
    secret = PREFIX + secrets.token_urlsafe(32)
    key = await ApiKey.create(
        organization=organization,
        name=name,
        role=role.value,
        prefix=secret[: len(PREFIX) + 6],
        secret_sha256=_sha256(secret),
    )
    return NewApiKey(key, secret)


async def revoke(key_id: uuid.UUID) -> bool:
    revoked = await ApiKey.filter(id=key_id, revoked_at__isnull=True).update(
        revoked_at=datetime.now(UTC)
    )
    return revoked > 0


async def of_organization(organization_external_id: str) -> list[ApiKey]:
    return await ApiKey.filter(organization__external_id=organization_external_id).order_by(
        "created_at"
    )


async def caller_for(secret: str) -> Caller:
    """The caller an API key acts as; 401 for an unknown or revoked key."""
    key = (
        await ApiKey.filter(secret_sha256=_sha256(secret), revoked_at__isnull=True)
        .select_related("organization")
        .first()
    )
    if key is None:
        raise AuthenticationError("unknown or revoked API key")
    organization: Organization = key.organization
    return Caller(
        user_id=f"apikey:{key.id}",
        org_external_id=organization.external_id,
        org_role=OrgRole(key.role),
        api_key_id=key.id,
    )


async def still_valid(caller: Caller) -> bool:
    """False for the caller of an API key revoked since it was checked; True otherwise."""
    if caller.api_key_id is None:
        return True
    return await ApiKey.filter(id=caller.api_key_id, revoked_at__isnull=True).exists()
