"""Schema extensions' hooks, found once per set of extension classes and run without
strawberry's per-phase scaffolding.

strawberry finds each extension's hook anew for every phase of every request, wraps it in
a fresh context manager and enters those through an exit stack: for a small operation that
scaffolding cost more than the hooks themselves. The hooks of a class do not change, so
they are found once; a phase calls them in strawberry's order (entered first to last, left
last to first), a generator hook advanced directly. When an exception leaves a phase, each
hook is left with contextlib's own semantics, as strawberry's exit stack would.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
)
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext
from strawberry.utils.await_maybe import await_maybe


class _Kind(Enum):
    GENERATOR = "generator"
    ASYNC_GENERATOR = "async generator"
    COROUTINE = "coroutine"
    CALL = "call"


# One phase's hooks: the position of the extension in the request's list, how its hook
# runs, and the hook.
_Plan = tuple[tuple[int, _Kind, Callable[[SchemaExtension], Any]], ...]
_PHASES = ("on_operation", "on_parse", "on_validate", "on_execute")


@dataclass(frozen=True, slots=True)
class _Hooks:
    """What a set of extension classes does: each phase's plan, and which give results."""

    phases: dict[str, _Plan]
    with_results: tuple[int, ...]


_HOOKS: dict[tuple[type[SchemaExtension], ...], _Hooks] = {}


def _kind(hook: Callable[..., Any]) -> _Kind:
    if inspect.isgeneratorfunction(hook):
        return _Kind.GENERATOR
    if inspect.isasyncgenfunction(hook):
        return _Kind.ASYNC_GENERATOR
    if inspect.iscoroutinefunction(hook):
        return _Kind.COROUTINE
    return _Kind.CALL


def _hooks(kinds: tuple[type[SchemaExtension], ...]) -> _Hooks:
    hooks = _HOOKS.get(kinds)
    if hooks is None:
        hooks = _HOOKS[kinds] = _Hooks(
            phases={
                phase: tuple(
                    (index, _kind(getattr(kind, phase)), getattr(kind, phase))
                    for index, kind in enumerate(kinds)
                    if getattr(kind, phase) is not getattr(SchemaExtension, phase)
                )
                for phase in _PHASES
            },
            with_results=tuple(
                index
                for index, kind in enumerate(kinds)
                if kind.get_results is not SchemaExtension.get_results
            ),
        )
    return hooks


_Running = Generator[None, None, None] | AsyncGenerator[None, None]


class _Phase(ExtensionContextManagerBase):
    """One phase's hooks of one request, entered and left like strawberry's exit stack."""

    __slots__ = ("extensions", "plan", "running")

    def __init__(self, extensions: list[SchemaExtension], plan: _Plan) -> None:
        self.extensions = extensions
        self.plan = plan
        self.running: list[_Running] = []

    def __enter__(self) -> None:
        for index, kind, hook in self.plan:
            if kind in (_Kind.ASYNC_GENERATOR, _Kind.COROUTINE):
                raise RuntimeError(
                    f"SchemaExtension hook {self.extensions[index]}.{self.HOOK_NAME} "
                    "failed to complete synchronously."
                )
            self._enter_sync(self.extensions[index], kind, hook)

    def _enter_sync(
        self, extension: SchemaExtension, kind: _Kind, hook: Callable[..., Any]
    ) -> None:
        if kind is _Kind.CALL:
            hook(extension)
            return
        running: Generator[None, None, None] = hook(extension)
        next(running)
        self.running.append(running)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pending = error
        for running in reversed(self.running):
            try:
                if _finish(running, pending):  # type: ignore[arg-type]
                    pending = None
            except BaseException as raised:  # passed on, as an exit stack does
                pending = raised
        _outcome(error, pending)

    async def __aenter__(self) -> None:
        try:
            for index, kind, hook in self.plan:
                extension = self.extensions[index]
                if kind is _Kind.ASYNC_GENERATOR:
                    running: AsyncGenerator[None, None] = hook(extension)
                    await running.__anext__()
                    self.running.append(running)
                elif kind is _Kind.COROUTINE:
                    await hook(extension)
                else:
                    self._enter_sync(extension, kind, hook)
        except BaseException as error:
            # Hooks entered before the failing one are left with its error.
            await self.__aexit__(type(error), error, error.__traceback__)
            raise

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pending = error
        while self.running:
            running = self.running.pop()
            try:
                if isinstance(running, Generator):
                    suppressed = _finish(running, pending)
                else:
                    suppressed = await _finish_async(running, pending)
                if suppressed:
                    pending = None
            except BaseException as raised:  # passed on, as an exit stack does
                pending = raised
        _outcome(error, pending)


def _outcome(error: BaseException | None, pending: BaseException | None) -> None:
    """Raises what a hook raised instead of `error`. As in strawberry, a hook that swallows
    `error` does not stop it leaving the phase."""
    if pending is not None and pending is not error:
        raise pending


def _finish(running: Generator[None, None, None], error: BaseException | None) -> bool:
    if error is None:
        try:
            next(running)
        except StopIteration:
            return False
        running.close()
        raise RuntimeError("generator didn't stop")
    manager = contextlib.contextmanager(lambda: running)()
    return bool(manager.__exit__(type(error), error, error.__traceback__))


async def _finish_async(running: AsyncGenerator[None, None], error: BaseException | None) -> bool:
    if error is None:
        try:
            await running.__anext__()
        except StopAsyncIteration:
            return False
        await running.aclose()
        raise RuntimeError("generator didn't stop")
    manager = contextlib.asynccontextmanager(lambda: running)()
    return bool(await manager.__aexit__(type(error), error, error.__traceback__))


class _Operation(_Phase, OperationContextManager):
    __slots__ = ()


class _Validation(_Phase, ValidationContextManager):
    __slots__ = ()


class _Parsing(_Phase, ParsingContextManager):
    __slots__ = ()


class _Executing(_Phase, ExecutingContextManager):
    __slots__ = ()


class RememberedHooks(SchemaExtensionsRunner):
    """strawberry's runner, each set of classes' hooks found once and run directly."""

    def __init__(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension] | None = None
    ) -> None:
        super().__init__(execution_context, extensions)
        self.hooks = _hooks(tuple(type(extension) for extension in self.extensions))
        self.plans = self.hooks.phases

    def operation(self) -> OperationContextManager:
        return _Operation(self.extensions, self.plans["on_operation"])

    def validation(self) -> ValidationContextManager:
        return _Validation(self.extensions, self.plans["on_validate"])

    def parsing(self) -> ParsingContextManager:
        return _Parsing(self.extensions, self.plans["on_parse"])

    def executing(self) -> ExecutingContextManager:
        return _Executing(self.extensions, self.plans["on_execute"])

    async def get_extensions_results(self, ctx: ExecutionContext) -> dict[str, Any]:
        # Only extensions that give results are asked (most give none).
        data: dict[str, Any] = {}
        for index in self.hooks.with_results:
            data.update(await await_maybe(self.extensions[index].get_results()))
        data.update(ctx.extensions_results)
        return data
