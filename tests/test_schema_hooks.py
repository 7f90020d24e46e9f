"""kassa runs schema extensions' hooks itself (`kassa.schema.hooks`): the same extensions give
the same order of entering and leaving, the same answer and the same errors as strawberry's
own runner, with generator, async generator, coroutine and plain hooks, when a hook fails
and when a hook swallows what failed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext

from kassa.schema.hooks import RememberedHooks

Log = list[str]


class Recording(SchemaExtension):
    """Enters and leaves every phase through generators, noting what it saw leave."""

    log: Log

    def on_operation(self) -> Iterator[None]:
        self.log.append("gen operation in")
        try:
            yield
        except Exception as error:
            self.log.append(f"gen operation saw {error}")
            raise
        finally:
            self.log.append("gen operation out")

    def on_parse(self) -> Iterator[None]:
        self.log.append("gen parse in")
        yield
        self.log.append("gen parse out")

    def on_validate(self) -> Iterator[None]:
        self.log.append("gen validate in")
        yield
        self.log.append("gen validate out")


class AsyncRecording(SchemaExtension):
    log: Log

    async def on_execute(self) -> AsyncIterator[None]:
        self.log.append("async execute in")
        try:
            yield
        finally:
            self.log.append("async execute out")


class Calls(SchemaExtension):
    log: Log
    fail: str | None

    async def on_execute(self) -> None:  # type: ignore[override]
        self.log.append("coroutine execute")
        if self.fail == "execute":
            raise ValueError("refused on execute")

    def on_validate(self) -> None:  # type: ignore[override]
        self.log.append("call validate")


class LeavesWithError(SchemaExtension):
    log: Log
    fail: str | None

    def on_parse(self) -> Iterator[None]:
        yield
        self.log.append("parse left")
        if self.fail == "leave":
            raise ValueError("refused after parse")


class Swallowing(SchemaExtension):
    log: Log

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except ValueError as error:
            self.log.append(f"swallowed {error}")


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "hello"

    @strawberry.field
    def broken(self) -> str:
        raise RuntimeError("resolver failed")


class KassaRunner(strawberry.Schema):
    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return RememberedHooks(execution_context=execution_context, extensions=extensions)


def _extensions(log: Log, fail: str | None, kinds: list[type[SchemaExtension]]) -> list[Any]:
    made = []
    for kind in kinds:

        def make(kind: type[SchemaExtension] = kind) -> SchemaExtension:
            extension = kind()
            extension.log = log  # type: ignore[attr-defined]
            extension.fail = fail  # type: ignore[attr-defined]
            return extension

        made.append(make)
    return made


async def _run(
    schema_class: type[strawberry.Schema],
    query: str,
    fail: str | None,
    kinds: list[type[SchemaExtension]],
) -> tuple[Log, object]:
    log: Log = []
    schema = schema_class(query=Query, extensions=_extensions(log, fail, kinds))
    try:
        result = await schema.execute(query)
        outcome: object = (result.data, [str(error) for error in result.errors or []])
    except Exception as error:  # what leaves the whole operation
        outcome = f"raised {type(error).__name__}: {error}"
    return log, outcome


EVERY_KIND = [Recording, AsyncRecording, Calls]


@pytest.mark.parametrize(
    ("query", "fail", "kinds"),
    [
        ("{ hello }", None, EVERY_KIND),
        ("{ broken }", None, EVERY_KIND),
        ("{ nope }", None, EVERY_KIND),
        ("{ hello", None, EVERY_KIND),
        ("{ hello }", "execute", EVERY_KIND),
        ("{ hello }", "execute", [Swallowing, *EVERY_KIND]),
        ("{ hello }", "execute", [*EVERY_KIND, Swallowing]),
        ("{ hello }", "leave", [Recording, LeavesWithError, *EVERY_KIND]),
        ("{ hello }", "leave", [Swallowing, LeavesWithError, *EVERY_KIND]),
    ],
)
async def test_hooks_run_as_strawberrys_own_runner_runs_them(
    query: str, fail: str | None, kinds: list[type[SchemaExtension]]
) -> None:
    # when
    theirs = await _run(strawberry.Schema, query, fail, kinds)
    ours = await _run(KassaRunner, query, fail, kinds)

    # then: the same answer or the same exception, the same hooks in the same order; except
    # that a hook entered before one that fails on entering the same phase is left at once
    # with that failure (strawberry leaves it for the garbage collector to finish)
    assert ours[1] == theirs[1]
    assert ours[0] == (_left_at_once(theirs[0]) if fail == "execute" else theirs[0])
    assert theirs[0], "no hook ran"


def _left_at_once(log: Log) -> Log:
    failed_at = log.index("coroutine execute") + 1
    return [*log[:failed_at], "async execute out", *log[failed_at:]]
