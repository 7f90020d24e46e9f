"""Stripe Checkout Sessions on the local Stripe-compatible server (demo and tests only).

localstripe has no Checkout. This module gives its aiohttp app the calls kassa makes
(create, retrieve, list, expire) with Stripe's shapes, and the events Stripe sends
(`checkout.session.completed`, `checkout.session.expired`) through localstripe's own
signing and sending code. It runs inside the child process only (see stripe_server.py):
it imports localstripe, which is GPL and never part of kassa's service code.

Supported: `mode=payment` with `price_data` line items, `customer`, `customer_email`,
`client_reference_id`, `metadata`, `payment_intent_data[metadata]`, `success_url`
(with `{CHECKOUT_SESSION_ID}` filled in on redirect), `cancel_url`, `expires_at`,
card as the only payment method. Not supported: subscriptions, setup mode, Prices by
id, discounts, taxes, shipping, delayed payment methods, expiry by the clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from localstripe.errors import UserError
from localstripe.resources import (
    Customer,
    List,
    PaymentIntent,
    StripeObject,
    random_id,
    store,
    try_convert_to_int,
)
from localstripe.server import get_post_data, unflatten_data

from kassa.demo.local_events import send

# Where the hosted page lives on the local server, mirroring `/js.stripe.com/v3/`.
HOSTED_PATH = "/checkout.stripe.com/c/pay/"
SESSION_LIFETIME_SECONDS = 24 * 3600
KNOWN_PARAMS = frozenset(
    {
        "mode",
        "line_items",
        "success_url",
        "cancel_url",
        "customer",
        "customer_email",
        "client_reference_id",
        "metadata",
        "payment_intent_data",
        "payment_method_types",
        "expires_at",
    }
)
JSON = dict[str, Any]


def invalid(message: str, param: str | None = None) -> UserError:
    """Stripe's `invalid_request_error`, naming the parameter as Stripe does."""
    return UserError(400, message, {"param": param} if param else None)


class CheckoutSession(StripeObject):  # type: ignore[misc]
    """One `checkout.session` in payment mode; exported fields follow Stripe's object."""

    object = "checkout.session"
    _id_prefix = "cs_test_"

    def __init__(self, origin: str, **params: Any) -> None:
        line = _line_item(params.get("line_items"))
        fields = _session_fields(params)
        # All exceptions must be raised before this point (localstripe stores on init).
        super().__init__(id=self._id_prefix + random_id(58))
        self._origin = origin
        self._line = line
        self._payment_intent_metadata = fields.pop("_payment_intent_metadata")
        for name, value in fields.items():
            setattr(self, name, value)
        self.amount_subtotal = self.amount_total = line["amount_total"]
        self.currency = line["currency"]
        self.expires_at = fields["expires_at"] or self.created + SESSION_LIFETIME_SECONDS
        self.payment_intent: str | None = None
        self.payment_status = "unpaid"
        self.status = "open"
        self.customer_details: JSON | None = None

    @property
    def url(self) -> str | None:
        # Stripe clears the URL once the session can no longer be paid.
        return f"{self._origin}{HOSTED_PATH}{self.id}" if self.status == "open" else None

    @property
    def _product_name(self) -> str:
        return str(self._line["description"])

    def _redirect_url(self) -> str:
        return str(self.success_url).replace("{CHECKOUT_SESSION_ID}", self.id)

    def _new_payment_intent(self) -> Any:
        intent = PaymentIntent._api_create(
            amount=self.amount_total,
            currency=self.currency,
            customer=self.customer,
            metadata=dict(self._payment_intent_metadata),
            payment_method_types=["card"],
        )
        self.payment_intent = intent.id
        return intent

    def _complete(self, intent: Any) -> None:
        if self.status != "open":
            return
        self.status, self.payment_status = "complete", "paid"
        self.payment_intent = intent.id
        self.customer_details = _customer_details(self.customer, self.customer_email)
        send("checkout.session.completed", self)

    def _expire(self) -> None:
        if self.status != "open":
            raise invalid('Only Checkout Sessions with a status in ["open"] can be expired.')
        if self.payment_intent is not None:
            intent = PaymentIntent._api_retrieve(self.payment_intent)
            if intent.status in ("requires_payment_method", "requires_confirmation"):
                PaymentIntent._api_cancel(intent.id)
        self.status = "expired"
        send("checkout.session.expired", self)


def _session_fields(params: Mapping[str, Any]) -> JSON:
    unknown = sorted(set(params) - KNOWN_PARAMS)
    if unknown:
        raise invalid(f"Received unknown parameter: {unknown[0]}", unknown[0])
    if params.get("mode") != "payment":
        raise invalid("The local server supports only mode=payment.", "mode")
    if params.get("payment_method_types", ["card"]) != ["card"]:
        raise invalid("The local server supports only card payments.", "payment_method_types")
    return {
        "mode": "payment",
        "success_url": _url(params, "success_url", required=True),
        "cancel_url": _url(params, "cancel_url", required=False),
        "customer": _customer(params.get("customer")),
        "customer_email": _optional_str(params, "customer_email"),
        "client_reference_id": _optional_str(params, "client_reference_id"),
        "metadata": _metadata(params.get("metadata"), "metadata"),
        "_payment_intent_metadata": _payment_intent_metadata(params.get("payment_intent_data")),
        "expires_at": _expires_at(params.get("expires_at")),
        "payment_method_types": ["card"],
        "livemode": False,
        "ui_mode": "hosted",
        "locale": None,
        "submit_type": None,
        "subscription": None,
        "setup_intent": None,
        "invoice": None,
        "payment_link": None,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
    }


def _line_item(line_items: Any) -> JSON:
    if not isinstance(line_items, list) or len(line_items) != 1:
        raise invalid("The local server supports exactly one line item.", "line_items")
    item = line_items[0]
    price = item.get("price_data") if isinstance(item, dict) else None
    if not isinstance(price, dict):
        raise invalid("Each line item needs price_data.", "line_items[0][price_data]")
    quantity = try_convert_to_int(item.get("quantity", 1))
    unit_amount = try_convert_to_int(price.get("unit_amount"))
    currency = price.get("currency")
    name = (price.get("product_data") or {}).get("name")
    if not isinstance(quantity, int) or quantity < 1:
        raise invalid("Invalid integer: quantity", "line_items[0][quantity]")
    if not isinstance(unit_amount, int) or unit_amount < 0:
        raise invalid("Invalid integer: unit_amount", "line_items[0][price_data][unit_amount]")
    if not isinstance(currency, str) or not currency:
        raise invalid("Missing required param: currency", "line_items[0][price_data][currency]")
    if not isinstance(name, str) or not name:
        raise invalid("Missing required param: name", "line_items[0][price_data][product_data]")
    return {
        "currency": currency.lower(),
        "description": name,
        "quantity": quantity,
        "unit_amount": unit_amount,
        "amount_total": unit_amount * quantity,
    }


def _url(params: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    value = params.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise invalid(f"Not a valid URL: {name}", name)
    return value


def _customer(customer: Any) -> str | None:
    if customer is None:
        return None
    if not isinstance(customer, str):
        raise invalid("Invalid string: customer", "customer")
    Customer._api_retrieve(customer)  # 404, as Stripe answers for an unknown customer
    return customer


def _optional_str(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise invalid(f"Invalid string: {name}", name)
    return value


def _metadata(metadata: Any, param: str) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise invalid("Invalid object", param)
    return dict(metadata)


def _payment_intent_metadata(data: Any) -> dict[str, str]:
    if data is None:
        return {}
    if not isinstance(data, dict) or set(data) - {"metadata"}:
        raise invalid(
            "The local server supports only payment_intent_data[metadata].", "payment_intent_data"
        )
    return _metadata(data.get("metadata"), "payment_intent_data[metadata]")


def _expires_at(value: Any) -> int | None:
    if value is None:
        return None
    expires_at = try_convert_to_int(value)
    now = int(time.time())
    if not isinstance(expires_at, int) or not now + 1800 <= expires_at <= now + 86400:
        raise invalid("expires_at must be 30 minutes to 24 hours from now.", "expires_at")
    return expires_at


def _customer_details(customer_id: str | None, email: str | None) -> JSON:
    customer = Customer._api_retrieve(customer_id) if customer_id else None
    return {
        "email": email or getattr(customer, "email", None),
        "name": getattr(customer, "name", None),
        "phone": None,
        "address": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }


def retrieve(session_id: str) -> CheckoutSession:
    session: CheckoutSession = CheckoutSession._api_retrieve(session_id)
    return session


class IdempotentCreates:
    """Stripe answers a repeated `Idempotency-Key` with the first answer (same parameters)
    or an `idempotency_error` (different ones); localstripe keeps no keys at all."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[JSON, str]] = {}

    def create(self, key: str | None, params: JSON, make: Callable[[], CheckoutSession]) -> Any:
        if key is None:
            return make()
        if key in self._seen:
            first_params, session_id = self._seen[key]
            if first_params != params:
                raise UserError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                    {"type": "idempotency_error"},
                )
            return retrieve(session_id)
        session = make()
        self._seen[key] = (params, session.id)
        return session


_creates = IdempotentCreates()


async def create_session(request: web.Request) -> web.Response:
    params: JSON = dict(await get_post_data(request) or {})
    expand = params.pop("expand", None)
    origin = f"{request.scheme}://{request.host}"
    session = _creates.create(
        request.headers.get("Idempotency-Key"),
        params,
        lambda: CheckoutSession(origin, **params),
    )
    return web.json_response(session._export(expand=expand))


async def retrieve_session(request: web.Request) -> web.Response:
    query = unflatten_data(request.query)
    session = retrieve(request.match_info["id"])
    return web.json_response(session._export(expand=query.get("expand")))


async def expire_session(request: web.Request) -> web.Response:
    session = retrieve(request.match_info["id"])
    session._expire()
    return web.json_response(session._export())


async def list_sessions(request: web.Request) -> web.Response:
    query: JSON = dict(unflatten_data(request.query))
    expand = query.pop("expand", None)
    listing = List(
        "/v1/checkout/sessions",
        limit=query.pop("limit", None),
        starting_after=query.pop("starting_after", None),
    )
    matches = _filters(query)
    # Stripe lists newest first; the store keeps creation order.
    listing._list = [
        session
        for key, session in reversed(list(store.items()))
        if key.startswith("checkout.session:") and all(match(session) for match in matches)
    ]
    return web.json_response(listing._export(expand=expand))


def _filters(query: JSON) -> list[Callable[[CheckoutSession], bool]]:
    matches: list[Callable[[CheckoutSession], bool]] = []
    for name in ("customer", "payment_intent", "status"):
        if name in query:
            matches.append(_equals(name, query.pop(name)))
    if "created" in query:
        matches.append(_created_filter(query.pop("created")))
    if query:
        raise invalid(f"Received unknown parameter: {next(iter(query))}", next(iter(query)))
    return matches


def _equals(name: str, wanted: Any) -> Callable[[CheckoutSession], bool]:
    return lambda session: bool(getattr(session, name) == wanted)


def _created_filter(created: Any) -> Callable[[CheckoutSession], bool]:
    bounds = created if isinstance(created, dict) else {"eq": created}
    compare: dict[str, Callable[[int, int], bool]] = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
        "eq": lambda a, b: a == b,
    }
    checks: list[tuple[Callable[[int, int], bool], int]] = []
    for op, value in bounds.items():
        number = try_convert_to_int(value)
        if op not in compare or not isinstance(number, int):
            raise invalid("Invalid created filter", "created")
        checks.append((compare[op], number))
    return lambda session: all(check(session.created, bound) for check, bound in checks)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/checkout/sessions", create_session)
    app.router.add_get("/v1/checkout/sessions", list_sessions)
    app.router.add_get("/v1/checkout/sessions/{id}", retrieve_session)
    app.router.add_post("/v1/checkout/sessions/{id}/expire", expire_session)
