"""Opaque, typed IDs as clients see them (`pay_<hex>`); kassa checks the kind."""

from __future__ import annotations

import uuid
from enum import StrEnum


class IdKind(StrEnum):
    ORGANIZATION = "org"
    PAYMENT = "pay"
    ORDER = "ord"
    REFUND = "ref"
    SAVED_CARD = "card"
    CREDIT_LOT = "lot"
    WALLET_TRANSACTION = "wtx"
    CREDIT_TRANSACTION = "ctx"
    INVOICE = "inv"
    # Not "sub": that is how Stripe's own subscription ids start.
    SUBSCRIPTION = "csub"


def encode(kind: IdKind, value: uuid.UUID) -> str:
    return f"{kind.value}_{value.hex}"


def decode(kind: IdKind, text: str) -> uuid.UUID | None:
    """The UUID inside `text` if it is an ID of `kind`; None for anything else."""
    prefix, _, rest = text.partition("_")
    if prefix != kind.value or len(rest) != 32:
        return None
    try:
        return uuid.UUID(hex=rest)
    except ValueError:
        return None


def kind_of(text: str) -> IdKind | None:
    prefix = text.partition("_")[0]
    return IdKind(prefix) if prefix in IdKind._value2member_map_ else None
