"""Admission of each executed operation: its share of the mutation allowance (HTTP 429 with
Retry-After beyond it; kassa/services/rate_limits), on long-lived websockets whether an API
key is still valid, and subscriptions only over a websocket."""

from __future__ import annotations

import hashlib

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    SelectionSetNode,
    get_operation_ast,
)
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from kassa.schema.context import Context
from kassa.services import api_keys
from kassa.services.rate_limits import Allowance, client_address

RATE_LIMITED = "RATE_LIMITED"
# Queries that call Stripe for each field count like mutations.
COUNTED_QUERY_FIELDS = frozenset({"checkoutStatus"})


async def admit(execution: ExecutionContext) -> None:
    """Before an operation executes (see the module's docstring)."""
    context = execution.context
    # Only requests kassa serves carry a Context (not the schema run on its own).
    if isinstance(context, Context):
        kind, count = _shape(execution)
        if isinstance(context.request, WebSocket):
            await _require_live_api_key(context)
        elif kind is OperationType.SUBSCRIPTION:
            raise GraphQLError(
                "subscriptions run over the WebSocket at /graphql (graphql-transport-ws)",
                extensions={"code": "SUBSCRIPTION_NEEDS_WEBSOCKET"},
            )
        if count:
            await _admit(context, count)


# An operation's type and counted fields, by document and operation name: parsed documents
# are shared by all requests of one query text (guards.py), and working these out again took
# a tenth of an authenticated `{ __typename }`. An entry holds its document, so the id in
# its key is never another document's.
SHAPES_CACHED = 256
_SHAPES: dict[tuple[int, str | None], tuple[DocumentNode, OperationType, int]] = {}


def _shape(execution: ExecutionContext) -> tuple[OperationType, int]:
    document = execution.graphql_document
    if document is None:
        return execution.operation_type, 0
    key = (id(document), execution.operation_name)
    known = _SHAPES.get(key)
    if known is not None and known[0] is document:
        return known[1], known[2]
    kind = execution.operation_type
    count = _counted_fields(document, execution.operation_name, kind)
    if len(_SHAPES) >= SHAPES_CACHED:
        del _SHAPES[next(iter(_SHAPES))]  # oldest first out (dicts keep insertion order)
    _SHAPES[key] = (document, kind, count)
    return kind, count


async def _admit(context: Context, count: int) -> None:
    allowances = _allowances(context)
    wait = await context.runtime.rate_limiter.hit(allowances, count) if allowances else None
    if wait is None:
        return
    if isinstance(context.response, Response):
        context.response.status_code = 429
        context.response.headers["Retry-After"] = str(wait)
    raise GraphQLError(
        f"too many requests; retry in {wait} s",
        extensions={"code": RATE_LIMITED, "retryAfter": wait},
    )


async def _require_live_api_key(context: Context) -> None:
    # A socket keeps the caller it opened with; a key revoked since must stop working.
    caller = context.caller
    if caller is not None and not await api_keys.still_valid(caller):
        raise GraphQLError("this API key was revoked", extensions={"code": "UNAUTHENTICATED"})


def _counted_fields(document: DocumentNode, operation_name: str | None, kind: OperationType) -> int:
    """Each root mutation field counts once (aliases do not multiply the allowance)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None or kind is OperationType.SUBSCRIPTION:
        return 0
    fragments = {
        node.name.value: node
        for node in document.definitions
        if isinstance(node, FragmentDefinitionNode)
    }
    names = _root_fields(operation.selection_set, fragments, set())
    if kind is OperationType.MUTATION:
        return sum(1 for name in names if name != "__typename")
    return sum(1 for name in names if name in COUNTED_QUERY_FIELDS)


def _root_fields(
    selections: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: set[str]
) -> list[str]:
    names: list[str] = []
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            names.append(selection.name.value)
        elif isinstance(selection, InlineFragmentNode):
            names += _root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                seen.add(selection.name.value)
                names += _root_fields(fragment.selection_set, fragments, seen)
    return names


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
        allowances.append(Allowance(_key("address", address), settings.rate_limit_per_address))
    if settings.rate_limit_per_caller and context.caller is not None:
        caller = f"{context.caller.user_id}@{context.caller.org_external_id}"
        allowances.append(Allowance(_key("caller", caller), settings.rate_limit_per_caller))
    return allowances


def _key(kind: str, who: str) -> str:
    # Hashed: a token's subject and organization together may be longer than the column.
    return f"{kind}:{hashlib.sha256(who.encode()).hexdigest()[:40]}"
