"""Schema extensions' hooks, looked up once per extension class instead of per request.

strawberry finds each extension's hook anew for every phase of every request (four
phases, each extension inspected and its hook wrapped in a fresh context manager
decorator): for a small operation that was a third of what the request cost. The hook of
a class does not change, so its context manager factory is made once and kept; what runs
on each request, and in what order, is strawberry's own.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
    WrappedHook,
)
from strawberry.extensions.runner import SchemaExtensionsRunner

# A hook's context manager factory (taking the extension) and whether it is async, by
# extension class and hook name; None when the class leaves that hook as it is.
_Factory = tuple[Callable[[SchemaExtension], Any], bool]
_FACTORIES: dict[tuple[type[SchemaExtension], str], _Factory | None] = {}


def _factory(kind: type[SchemaExtension], name: str) -> _Factory | None:
    hook = getattr(kind, name)
    if hook is getattr(SchemaExtension, name):
        return None
    if inspect.isgeneratorfunction(hook):
        return contextlib.contextmanager(hook), False
    if inspect.isasyncgenfunction(hook):
        return contextlib.asynccontextmanager(hook), True
    if inspect.iscoroutinefunction(hook):

        @contextlib.asynccontextmanager
        async def awaited(extension: SchemaExtension) -> AsyncIterator[None]:
            await hook(extension)
            yield

        return awaited, True

    @contextlib.contextmanager
    def called(extension: SchemaExtension) -> Iterator[None]:
        hook(extension)
        yield

    return called, False


class _Remembered(ExtensionContextManagerBase):
    def __init__(self, extensions: list[SchemaExtension]) -> None:
        self.hooks = []
        for extension in extensions:
            key = (type(extension), self.HOOK_NAME)
            try:
                made = _FACTORIES[key]
            except KeyError:
                made = _FACTORIES[key] = _factory(type(extension), self.HOOK_NAME)
            if made is not None:
                factory, is_async = made
                self.hooks.append(WrappedHook(extension, partial(factory, extension), is_async))


class _Operation(_Remembered, OperationContextManager):
    pass


class _Validation(_Remembered, ValidationContextManager):
    pass


class _Parsing(_Remembered, ParsingContextManager):
    pass


class _Executing(_Remembered, ExecutingContextManager):
    pass


class RememberedHooks(SchemaExtensionsRunner):
    """strawberry's runner, with each class's hooks looked up once."""

    def operation(self) -> OperationContextManager:
        return _Operation(self.extensions)

    def validation(self) -> ValidationContextManager:
        return _Validation(self.extensions)

    def parsing(self) -> ParsingContextManager:
        return _Parsing(self.extensions)

    def executing(self) -> ExecutingContextManager:
        return _Executing(self.extensions)
