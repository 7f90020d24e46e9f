"""Payments and orders as lists show them: read in the list's own statement into plain rows.

A list of 50 read through the ORM built 50 model objects (and the ORM's statement for
each query) per request, more than everything else the request did. These rows carry the
columns kassa shows, under the models' names, so the schema reads either alike.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import asyncpg

from kassa.models import OrderStatus, Organization, PaymentPurpose, PaymentStatus
from kassa.services.pagination import Page, RowQuery, paginate_rows


@dataclass(frozen=True, slots=True)
class PaymentRow:
    id: uuid.UUID
    purpose: PaymentPurpose
    status: PaymentStatus
    order_id: uuid.UUID | None
    amount: int
    currency: str
    amount_refunded: int
    stripe_payment_intent_id: str | None
    stripe_checkout_session_id: str | None
    stripe_charge_id: str | None
    card_brand: str | None
    card_last4: str | None
    card_exp_month: int | None
    card_exp_year: int | None
    failure_code: str | None
    failure_message: str | None
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None
    duplicate: bool


@dataclass(frozen=True, slots=True)
class OrderRow:
    id: uuid.UUID
    status: OrderStatus
    reference: str | None
    description: str | None
    amount: int
    currency: str
    customer_email: str | None
    notify_emails_json: str
    created_at: datetime
    updated_at: datetime

    @property
    def notify_emails(self) -> list[str]:
        # Decoded when asked for: lists seldom show it.
        emails: list[str] = json.loads(self.notify_emails_json)
        return emails


_PAYMENT_NAMES = [field.name for field in fields(PaymentRow)]
_ORDER_NAMES = [field.name for field in fields(OrderRow)]
_ORDER_COLUMNS = {"notify_emails_json": "notify_emails::text"}
PAYMENT_WIDTH = len(_PAYMENT_NAMES)
ORDER_WIDTH = len(_ORDER_NAMES)


def payment_columns(alias: str) -> str:
    """The SELECT list of a `PaymentRow` from the payments table named `alias`."""
    return ", ".join(f"{alias}.{name}" for name in _PAYMENT_NAMES)


def order_columns(alias: str) -> str:
    return ", ".join(f"{alias}.{_ORDER_COLUMNS.get(name, name)}" for name in _ORDER_NAMES)


def payment_row(values: Sequence[Any]) -> PaymentRow | None:
    """The row from `payment_columns`' values; None when a LEFT JOIN found no payment."""
    return _payment(values) if values[0] is not None else None


def _payment(values: Sequence[Any]) -> PaymentRow:
    id_, purpose, status, *rest = values
    return PaymentRow(id_, PaymentPurpose(purpose), PaymentStatus(status), *rest)


def order_row(values: Sequence[Any]) -> OrderRow | None:
    if values[0] is None:
        return None
    id_, status, *rest = values
    return OrderRow(id_, OrderStatus(status), *rest)


@dataclass(frozen=True, slots=True)
class ListedPayment:
    """A payment on its organization's list, with the order it pays."""

    payment: PaymentRow
    order: OrderRow | None

    @property
    def id(self) -> uuid.UUID:
        return self.payment.id

    @property
    def created_at(self) -> datetime:
        return self.payment.created_at


async def organization_payments(
    organization: Organization, first: int | None, after: str | None, status: PaymentStatus | None
) -> Page[ListedPayment]:
    """A page of the organization's payments, newest first, each with its order, in one
    statement."""
    source = "FROM payments p LEFT JOIN orders o ON o.id = p.order_id WHERE p.organization_id = $1"
    args: list[object] = [organization.id]
    if status is not None:
        source += " AND p.status = $2"
        args.append(status.value)
    columns = f"{payment_columns('p')}, {order_columns('o')}"
    return await paginate_rows(RowQuery(columns, source, args, "p"), first, after, _listed)


def _listed(row: asyncpg.Record) -> ListedPayment:
    return ListedPayment(_payment(row[:PAYMENT_WIDTH]), order_row(row[PAYMENT_WIDTH:]))
