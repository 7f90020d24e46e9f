"""Who is calling, from a request's `Authorization: Bearer …` header: a person's token or an
organization's API key. GraphQL and the invoice PDFs (`/invoices/{id}.pdf`) use the same."""

from __future__ import annotations

from kassa.services import api_keys
from kassa.services.identity import AuthenticationError, Caller
from kassa.services.runtime import Runtime


async def caller_of(header: str | None, runtime: Runtime) -> Caller | None:
    """None without a header; AuthenticationError for one kassa cannot accept."""
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("Authorization must be 'Bearer <token>'")
    token = token.strip()
    if api_keys.is_api_key(token):
        return await api_keys.caller_for(token)
    return await runtime.tokens.verify(token)
