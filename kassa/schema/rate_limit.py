"""Mutations over their allowance get HTTP 429 with Retry-After (kassa/services/rate_limits)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import GraphQLError
from starlette.responses import Response
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from kassa.schema.context import Context
from kassa.services.rate_limits import Allowance, client_address

RATE_LIMITED = "RATE_LIMITED"


class MutationRateLimit(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        if execution.operation_type is OperationType.MUTATION:
            context: Context = execution.context
            allowances = _allowances(context)
            wait = await context.runtime.rate_limiter.hit(allowances) if allowances else None
            if wait is not None:
                if isinstance(context.response, Response):
                    context.response.status_code = 429
                    context.response.headers["Retry-After"] = str(wait)
                raise GraphQLError(
                    f"too many requests; retry in {wait} s",
                    extensions={"code": RATE_LIMITED, "retryAfter": wait},
                )
        yield


def _allowances(context: Context) -> list[Allowance]:
    settings = context.runtime.settings
    request = context.request
    address = client_address(
        request.client.host if request.client else None,
        request.headers.get("x-forwarded-for"),
        settings.trusted_proxy_hops,
    )
    allowances = []
    if settings.rate_limit_per_address:
        allowances.append(Allowance(f"address:{address}", settings.rate_limit_per_address))
    if settings.rate_limit_per_caller and context.caller is not None:
        caller = f"caller:{context.caller.user_id}@{context.caller.org_external_id}"
        allowances.append(Allowance(caller, settings.rate_limit_per_caller))
    return allowances
