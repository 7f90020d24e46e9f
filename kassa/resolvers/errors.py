from __future__ import annotations

from graphql import GraphQLError

from kassa.services.errors import DomainError


def query_error(error: DomainError) -> GraphQLError:
    """A domain error on a query field: a top-level error that keeps its code readable."""
    return GraphQLError(error.message, extensions={"code": error.code.value, "field": error.field})
