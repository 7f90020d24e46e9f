"""The GraphQL schema: root types plus caching and error-masking extensions."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import replace
from types import GeneratorType
from typing import Any, TypeGuard, cast

import strawberry
from graphql import ExecutionResult, GraphQLError, GraphQLObjectType
from graphql.execution.collect_fields import GroupedFieldSet
from graphql.pyutils import Path
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.execution import optimized_is_awaitable
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionContext
from strawberry.types.execution import ExecutionResult as StrawberryExecutionResult
from strawberry.types.execution import StreamExecutionResult
from strawberry.utils.logging import StrawberryLogger
from tortoise.models import Model

from kassa.schema.admission import admit
from kassa.schema.computed import read_directly
from kassa.schema.context import Context, Loaders
from kassa.schema.errors import UserErrors, error_code, is_unexpected, tell_errors
from kassa.schema.guards import Limits, PersistedQueries, parse_guarded, validate_cached
from kassa.schema.hooks import RememberedHooks
from kassa.schema.outage import tell_unavailable
from kassa.schema.root import Mutation, Query, Subscription
from kassa.schema.scalars import SCALARS
from kassa.services import deadline

log = logging.getLogger("kassa.graphql")


class KassaSchema(strawberry.Schema):
    """strawberry's schema, logging a client's mistake (no token, FORBIDDEN, a bad field) in
    one line: a traceback is kept for failures that are kassa's own, so they stand out."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        read_directly(self._schema)

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return RememberedHooks(execution_context=execution_context, extensions=extensions)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if is_unexpected(error):
                StrawberryLogger.error(error, execution_context)
            else:
                code = error_code(error)
                log.info("%s %s: %s", _operation(execution_context), code, error.message)


def _operation(execution_context: ExecutionContext | None) -> str:
    name = execution_context.operation_name if execution_context else None
    return name or "anonymous operation"


# Whether values of a type are awaitable, learned once per type: graphql-core asks of every
# value it completes (thousands per list), and the answer depends on the type alone except
# for generators (their code's flags decide), which are never remembered.
_AWAITABLE_BY_TYPE: dict[type, bool] = {}


def _awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    known = _AWAITABLE_BY_TYPE.get(type(value))
    if known is not None:
        return known
    awaitable = optimized_is_awaitable(value)
    if not isinstance(value, GeneratorType):
        # A tortoise model defines `__await__` (it gives itself back), so graphql-core took
        # every object shown over a model for pending work: a coroutine per object and a
        # gathered task per list row, for a value that was there all along.
        awaitable = awaitable and not isinstance(value, Model)
        _AWAITABLE_BY_TYPE[type(value)] = awaitable
    return awaitable


class Execution(StrawberryGraphQLCoreExecutionContext):
    """strawberry's executor, completing objects shown over models synchronously, and
    reading after each write through DataLoaders of its own (see `_fresh`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_awaitable = _awaitable

    async def execute_fields_serially(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> dict[str, Any]:
        # Mutations, one after another, each answer completed before the next starts: each
        # reads what the ones before it changed, not what they loaded before changing it.
        results: dict[str, Any] = {}
        for name, details in grouped_field_set.items():
            self.context_value = _fresh(self.context_value)
            answer = super().execute_fields_serially(
                parent_type, source_value, path, {name: details}, position_context
            )
            results.update(await answer if _awaitable(answer) else cast(dict[str, Any], answer))
        return results

    def build_per_event_executor(self, payload: Any) -> Execution:
        # A subscription's events share its connection's context: each reads the payment's
        # refunds, invoice and order as they are at that event.
        executor = cast(Execution, super().build_per_event_executor(payload))
        executor.context_value = _fresh(self.context_value)
        return executor


def _fresh(context: Context) -> Context:
    """The request's context with empty DataLoaders: what was loaded before a write is
    not read after it."""
    return replace(context, loaders=Loaders())


class Checks(SchemaExtension):
    """kassa's checks of every operation in one extension, one hook per phase (plain calls:
    each does all of its work before its phase would run): parsed through the guard and
    validated through the cache, with `rules` besides graphql's own, unless already refused
    (guards.py), then admitted (admission.py)."""

    def __init__(self, limits: Limits, rules: tuple[type[ASTValidationRule], ...] = ()) -> None:
        self.limits = limits
        self.rules = rules

    def on_parse(self) -> None:  # type: ignore[override]
        parse_guarded(self.execution_context, self.limits)

    def on_validate(self) -> None:  # type: ignore[override]
        context = self.execution_context
        if self.rules:
            context.validation_rules = context.validation_rules + self.rules
        validate_cached(context)

    async def on_execute(self) -> None:  # type: ignore[override]
        await admit(self.execution_context)


class Answers(SchemaExtension):
    """What every operation's answer goes through, in one extension (one hook per request,
    not three): Stripe calls within `deadline_seconds` in all (services/deadline.py); then
    the database being away told as such, HTTP 503 (outage.py); then domain errors told and
    unexpected ones masked (errors.py)."""

    def __init__(self, deadline_seconds: float | None = None) -> None:
        self.deadline_seconds = deadline_seconds

    def on_operation(self) -> Iterator[None]:
        seconds = self.deadline_seconds
        started = deadline.begin(seconds) if seconds is not None else None
        try:
            yield
            execution = self.execution_context
            result = execution.result
            if isinstance(result, ExecutionResult | StrawberryExecutionResult):
                tell_unavailable(result, getattr(execution.context, "response", None))
                tell_errors(result)
        finally:
            if started is not None:
                deadline.end(started)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        # Each result of a subscription (a websocket) before it is sent.
        if isinstance(result, StrawberryExecutionResult):
            tell_errors(result)
            tell_unavailable(result)
        yield


def error_extensions() -> list[type[SchemaExtension] | Callable[[], SchemaExtension]]:
    """Domain errors told, unexpected ones masked, the database being away told as such
    (HTTP 503); no deadline."""
    return [Answers]


def build_schema(
    limits: Limits | None = None,
    *,
    production: bool = False,
    persisted: Mapping[str, str] | None = None,
    request_deadline_seconds: float = 20.0,
) -> strawberry.Schema:
    """The schema with kassa's guards; in production without introspection or field
    suggestions (a stranger learns nothing about the schema from kassa itself)."""
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        # In production without introspection (what strawberry's DisableIntrospection adds).
        lambda: Checks(
            limits or Limits(), (NoSchemaIntrospectionCustomRule,) if production else ()
        ),
        lambda: Answers(request_deadline_seconds),
    ]
    if persisted is not None:
        documents = persisted
        extensions.insert(0, lambda: PersistedQueries(documents))
    return KassaSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALARS, disable_field_suggestions=production),
        extensions=extensions,
        exception_handlers=[UserErrors()],
        execution_context_class=Execution,
    )
