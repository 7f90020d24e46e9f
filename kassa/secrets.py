"""Secrets a developer machine may leave unset: generated once and kept in the data dir."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from kassa.config import ConfigurationError, Environment, Settings
from kassa.services.identity import OrgRole, issue_dev_token


def _kept_secret(path: Path, make: str) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(make)
    return make


def with_dev_jwt_secret(settings: Settings, *, read_kept: bool = False) -> Settings:
    """Fill in an unset JWT secret from the data dir, generating it outside production.

    In production identity must be configured explicitly; `read_kept` lets a tool such as
    `kassa token` still use the secret a demo in the same data dir generated.
    """
    if settings.jwt_secret or settings.jwt_jwks_url:
        return settings
    path = settings.data_dir / "jwt_secret"
    if settings.environment is Environment.PRODUCTION and not (read_kept and path.exists()):
        return settings
    return settings.with_overrides(jwt_secret=_kept_secret(path, secrets.token_urlsafe(48)))


def with_demo_webhook_secret(settings: Settings) -> Settings:
    """The secret kassa registers with the local Stripe server when none is set."""
    if settings.webhook_secrets:
        return settings
    secret = _kept_secret(
        settings.data_dir / "stripe_webhook_secret", "whsec_" + secrets.token_hex(24)
    )
    return settings.with_overrides(stripe_webhook_secret=secret)


def dev_token(
    settings: Settings,
    org: str | None,
    role: OrgRole,
    sub: str,
    admin: bool,
    email: str | None = None,
) -> str:
    require_jwt_secret(settings)
    assert settings.jwt_secret is not None
    return issue_dev_token(
        secret=settings.jwt_secret,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        org_id=org,
        role=role,
        subject=sub,
        platform_admin=admin,
        email=email,
        now=int(time.time()),
    )


def require_jwt_secret(settings: Settings) -> None:
    if not settings.jwt_secret:
        raise ConfigurationError(
            f"KASSA_JWT_SECRET is not set and no demo ran in {settings.data_dir}: run this "
            "beside `kassa demo` (same directory or KASSA_DATA_DIR), or set KASSA_JWT_SECRET "
            "(in production tokens come from your identity provider)"
        )
