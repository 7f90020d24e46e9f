"""The GraphQL schema: root types plus caching and error-masking extensions."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig

from kassa.schema.root import Mutation, Query, Subscription
from kassa.schema.scalars import SCALARS


def _is_unexpected(error: GraphQLError) -> bool:
    # Validation errors, parse errors and errors raised on purpose (GraphQLError with a
    # message for the client) stay readable; anything else is an internal failure.
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALARS),
        extensions=[
            ParserCache,
            ValidationCache,
            lambda: MaskErrors(should_mask_error=_is_unexpected, error_message="Internal error"),
        ],
    )
