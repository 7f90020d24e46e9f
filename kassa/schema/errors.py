"""Expected failures as schema types: the `Error` interface and `UserError`."""

from __future__ import annotations

import strawberry

from kassa.services.errors import DomainError, ErrorCode

# The domain's enum, registered with the schema as it is (names are the GraphQL values).
strawberry.enum(ErrorCode)


@strawberry.interface
class Error:
    code: ErrorCode
    message: str
    field: str | None = None


@strawberry.type
class UserError(Error):
    @classmethod
    def of(cls, error: DomainError) -> UserError:
        return cls(code=error.code, message=error.message, field=error.field)
