"""A resolver that failed because the database is away turns the whole GraphQL answer into
HTTP 503 with `Retry-After`, its error saying so (`extensions.code = UNAVAILABLE`); any
other failure stays a masked `Internal error`."""

from __future__ import annotations

from graphql import ExecutionResult, GraphQLError
from starlette.responses import Response
from strawberry.types.execution import ExecutionResult as StrawberryExecutionResult

from kassa.db import unavailable
from kassa.outage import RETRY_AFTER_SECONDS

UNAVAILABLE = "UNAVAILABLE"


def tell_unavailable(
    result: ExecutionResult | StrawberryExecutionResult, response: object = None
) -> None:
    """The errors that say the database is away told as such; over HTTP (`response`) the
    answer becomes a 503, over a websocket the error alone tells it."""
    if _tell_unavailable(result) and isinstance(response, Response):
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)


def _tell_unavailable(result: ExecutionResult | StrawberryExecutionResult) -> bool:
    """Replace the errors that say the database is away; whether there were any."""
    errors = result.errors or []
    if not any(unavailable(error.original_error) for error in errors):
        return False
    result.errors = [
        _told(error) if unavailable(error.original_error) else error for error in errors
    ]
    return True


def _told(error: GraphQLError) -> GraphQLError:
    return GraphQLError(
        f"the database is unavailable; retry in {RETRY_AFTER_SECONDS} s",
        nodes=error.nodes,
        path=error.path,
        extensions={"code": UNAVAILABLE, "retryAfter": RETRY_AFTER_SECONDS},
    )
