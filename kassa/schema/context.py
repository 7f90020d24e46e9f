"""The typed per-request context: the caller, the process runtime and fresh DataLoaders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import cached_property

from cross_web import HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry import Info as StrawberryInfo
from strawberry.dataloader import DataLoader

from kassa.authentication import caller_of
from kassa.models import Invoice, Order, Payment, Refund
from kassa.services import invoices, orders, payments, refunds
from kassa.services.identity import AuthenticationError, Caller
from kassa.services.rows import OrderRow
from kassa.services.runtime import Runtime


class Loaders:
    """Per request; a list resolver primes them with what its rows refer to. Each is made
    when first asked for: most requests use one or none."""

    @cached_property
    def payment(self) -> DataLoader[uuid.UUID, Payment | None]:
        return DataLoader(load_fn=payments.by_ids)

    @cached_property
    def order(self) -> DataLoader[uuid.UUID, Order | OrderRow | None]:
        return DataLoader(load_fn=orders.by_ids)

    @cached_property
    def order_payments(self) -> DataLoader[uuid.UUID, list[Payment]]:
        return DataLoader(load_fn=orders.payments_of_orders)

    @cached_property
    def refunds(self) -> DataLoader[uuid.UUID, list[Refund]]:
        return DataLoader(load_fn=refunds.of_payments)

    @cached_property
    def payment_invoice(self) -> DataLoader[uuid.UUID, Invoice | None]:
        return DataLoader(load_fn=invoices.of_payments)


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    runtime: Runtime
    caller: Caller | None
    loaders: Loaders = field(default_factory=Loaders)
    # Set by strawberry from graphql-transport-ws `connection_init` payloads.
    connection_params: dict[str, object] | None = None

    def require_caller(self) -> Caller:
        if self.caller is None:
            if isinstance(self.response, Response):
                # The same status as a bad token: a client (or a proxy) that retries on
                # 401 with a fresh token need not read the body to know.
                self.response.status_code = 401
                self.response.headers["WWW-Authenticate"] = "Bearer"
            raise GraphQLError(
                "authentication required: send Authorization: Bearer <token>",
                extensions={"code": "UNAUTHENTICATED"},
            )
        return self.caller

    async def subscriber(self) -> Caller:
        """The caller of a subscription: the socket's header, else `connection_init`'s."""
        if self.caller is not None:
            return self.caller
        header = (self.connection_params or {}).get("Authorization")
        if not isinstance(header, str):
            return self.require_caller()
        try:
            caller = await _verified(header, self.runtime)
        except HTTPException as exc:
            raise GraphQLError(exc.reason, extensions={"code": "UNAUTHENTICATED"}) from exc
        return caller or self.require_caller()


Info = StrawberryInfo[Context, None]


async def build_context(
    request: Request | WebSocket, response: Response | WebSocket | None
) -> Context:
    runtime: Runtime = request.app.state.runtime
    return Context(request, response, runtime, await _caller(request, runtime))


async def _caller(request: Request | WebSocket, runtime: Runtime) -> Caller | None:
    return await _verified(request.headers.get("authorization"), runtime)


async def _verified(header: str | None, runtime: Runtime) -> Caller | None:
    try:
        return await caller_of(header, runtime)
    except AuthenticationError as exc:
        raise HTTPException(401, str(exc)) from exc
