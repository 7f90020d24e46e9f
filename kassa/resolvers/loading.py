"""Reading through the per-request DataLoaders without an awaitable where it can be avoided."""

from __future__ import annotations

from collections.abc import Awaitable, Hashable, Mapping
from typing import TypeVar

from strawberry.dataloader import DataLoader

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


def loaded(loader: DataLoader[K, T], key: K) -> T | Awaitable[T]:
    """The value itself when a list resolver primed the loader with it (no awaitable per
    row: graphql-core completes the row synchronously), else a batched load."""
    future = loader.cache_map.get(key)
    if future is not None and future.done() and not future.exception():
        return future.result()
    return loader.load(key)


def prime(loader: DataLoader[K, T], values: Mapping[K, T]) -> None:
    loader.prime_many(values)
