"""The demo storefront's visitor: the demo organization's owner, outside production only.

`kassa demo` prints a token for the same organization; the storefront at `/` is handed one
with each page, so a person can pay from a browser without pasting tokens. Production has
no storefront and no such token: identity there comes from the configured provider.
"""

from __future__ import annotations

import time

from kassa.config import ConfigurationError, Settings
from kassa.services.identity import OrgRole, issue_dev_token

DEMO_ORGANIZATION = "demo"
DEMO_OWNER = "demo-user"
# A page left open all day still works; a reload hands out a fresh token.
TOKEN_LIFETIME_SECONDS = 12 * 3600


def visitor_token(settings: Settings) -> str:
    """A bearer token for the demo organization's owner, signed with KASSA_JWT_SECRET."""
    if not settings.storefront_enabled or not settings.jwt_secret:
        raise ConfigurationError("the storefront runs in demo and development only")
    return issue_dev_token(
        secret=settings.jwt_secret,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        org_id=DEMO_ORGANIZATION,
        role=OrgRole.OWNER,
        subject=DEMO_OWNER,
        lifetime_seconds=TOKEN_LIFETIME_SECONDS,
        now=int(time.time()),
    )
