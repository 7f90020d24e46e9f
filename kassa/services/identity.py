"""Who is calling: bearer JWTs verified with pinned algorithms (HS256 dev, JWKS production)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import jwt

HS_ALGORITHMS = ["HS256"]
JWKS_ALGORITHMS = ["RS256", "ES256"]
PLATFORM_ADMIN = "platform_admin"
# The organizations.external_id column's size.
MAX_ORG_ID_LENGTH = 200


class OrgRole(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class AuthenticationError(Exception):
    """The token is present but not acceptable; the HTTP layer answers 401."""


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: str
    email: str | None = None
    org_external_id: str | None = None
    org_role: OrgRole | None = None
    roles: tuple[str, ...] = field(default_factory=tuple)
    # Set when an organization API key, not a person's token, is calling.
    api_key_id: uuid.UUID | None = None

    @property
    def is_platform_admin(self) -> bool:
        return PLATFORM_ADMIN in self.roles


# Tokens remembered as verified, per process (a few hundred bytes each).
VERIFIED_CACHED = 4096


class TokenVerifier:
    """Verifies kassa bearer tokens against the configured keys."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        secret: str | None = None,
        jwks_url: str | None = None,
    ) -> None:
        self._issuer = issuer
        self._audience = audience
        self._secret = secret
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True) if jwks_url else None
        self._verified: dict[str, tuple[Caller, float]] = {}

    async def verify(self, token: str) -> Caller:
        # A token verified once stays valid until it expires: verifying it again on every
        # request was a third of what an authenticated `{ __typename }` cost.
        known = self._verified.get(token)
        if known is not None and time.time() < known[1]:
            return known[0]
        try:
            claims = await self._decode(token)
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"invalid token: {exc}") from exc
        caller = caller_from_claims(claims)
        self._remember(token, caller, float(claims["exp"]))
        return caller

    def _remember(self, token: str, caller: Caller, expires_at: float) -> None:
        if len(self._verified) >= VERIFIED_CACHED:
            # Oldest first out (dicts keep insertion order): a bounded, cheap LRU-ish cache.
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (caller, expires_at)

    async def _decode(self, token: str) -> dict[str, Any]:
        algorithm = jwt.get_unverified_header(token).get("alg")
        # Each key type is tried only with its own algorithms, so an RS256 public key can
        # never be used as an HS256 secret (algorithm confusion) and `none` never verifies.
        if algorithm in HS_ALGORITHMS and self._secret:
            return self._decode_with(token, self._secret, HS_ALGORITHMS)
        if algorithm in JWKS_ALGORITHMS and self._jwks is not None:
            signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
            return self._decode_with(token, signing_key.key, JWKS_ALGORITHMS)
        raise jwt.InvalidAlgorithmError(f"algorithm {algorithm!r} is not accepted")

    def _decode_with(self, token: str, key: Any, algorithms: list[str]) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=self._audience,
            issuer=self._issuer,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
        return claims


def caller_from_claims(claims: dict[str, Any]) -> Caller:
    org_id = _optional_text(claims, "org_id", MAX_ORG_ID_LENGTH)
    role = _optional_text(claims, "org_role", 16)
    if role is not None and role not in OrgRole._value2member_map_:
        raise AuthenticationError(f"invalid token: unknown org_role {role!r}")
    roles = claims.get("roles") or []
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise AuthenticationError("invalid token: roles must be a list of strings")
    subject = _optional_text(claims, "sub", 255)
    if subject is None:
        raise AuthenticationError("invalid token: sub is required")
    return Caller(
        user_id=subject,
        email=_optional_text(claims, "email", 320),
        org_external_id=org_id,
        org_role=OrgRole(role or OrgRole.MEMBER) if org_id else None,
        roles=tuple(roles),
    )


def _optional_text(claims: dict[str, Any], name: str, max_length: int) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.isprintable() or not 0 < len(value) <= max_length:
        raise AuthenticationError(
            f"invalid token: {name} must be printable text of at most {max_length} characters"
        )
    return value


def issue_dev_token(
    *,
    secret: str,
    issuer: str,
    audience: str,
    org_id: str | None,
    role: OrgRole,
    subject: str,
    platform_admin: bool = False,
    email: str | None = None,
    lifetime_seconds: int = 24 * 3600,
    now: int,
) -> str:
    claims: dict[str, Any] = {
        "sub": subject,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime_seconds,
        "roles": [PLATFORM_ADMIN] if platform_admin else [],
    }
    if org_id:
        claims["org_id"] = org_id
        claims["org_role"] = role.value
    if email:
        claims["email"] = email
    return jwt.encode(claims, secret, algorithm="HS256")
