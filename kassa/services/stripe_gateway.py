"""The one door to Stripe: the only module of kassa that imports `stripe`.

Calls are async, the API version is pinned, every creating call carries a deterministic
idempotency key derived from kassa's own ids, and Stripe's objects are turned into kassa's
plain snapshots here, tolerating the older shapes a Stripe-compatible test server returns
(`latest_charge` as an object, the legacy `charges` list).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypedDict, Unpack, cast

import stripe

from kassa.services import deadline

# Pinned to a version whose request shape both Stripe and the local Stripe-compatible server
# accept (`payment_method_types`; newer versions renamed it). The SDK's typed params follow
# its newest version, so requests are built as plain dicts below.
API_VERSION = "2024-06-20"
FUTURE_TOLERANCE_SECONDS = 300
PAST_TOLERANCE_SECONDS = 300

JSONObject = Mapping[str, Any]
TIMESTAMP = re.compile(r"[0-9]{1,12}")


class StripeFailure(Exception):
    """Stripe refused or could not be reached; `code` is Stripe's error code when it gave one."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        card_declined: bool = False,
        http_status: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.card_declined = card_declined
        self.http_status = http_status

    @property
    def refused(self) -> bool:
        """Stripe answered and said no; otherwise the outcome is unknown (timeout, 5xx, and
        409: another request with the same idempotency key is still being processed)."""
        status = self.http_status
        return status is not None and 400 <= status < 500 and status != HTTPStatus.CONFLICT


class InvalidWebhook(Exception):
    """A webhook delivery that is not a verifiable Stripe event."""


@dataclass(frozen=True, slots=True)
class CardDetails:
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None


@dataclass(frozen=True, slots=True)
class PaymentIntentSnapshot:
    id: str
    status: str
    amount: int
    amount_received: int | None
    currency: str
    client_secret: str | None
    charge_id: str | None
    payment_method_id: str | None
    card: CardDetails | None
    failure_code: str | None
    failure_message: str | None
    metadata: Mapping[str, str]
    created: int | None


@dataclass(frozen=True, slots=True)
class CheckoutSnapshot:
    id: str
    status: str  # open | complete | expired
    payment_status: str  # paid | unpaid | no_payment_required
    url: str | None
    payment_intent_id: str | None
    amount_total: int | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class PaymentMethodSnapshot:
    id: str
    customer_id: str | None
    card: CardDetails | None


@dataclass(frozen=True, slots=True)
class DisputeSnapshot:
    id: str
    status: str
    reason: str
    amount: int
    currency: str
    payment_intent_id: str | None
    charge_id: str | None


@dataclass(frozen=True, slots=True)
class RefundSnapshot:
    id: str
    status: str
    amount: int
    currency: str
    payment_intent_id: str | None
    charge_id: str | None
    metadata: Mapping[str, str]
    failure_reason: str | None


@dataclass(frozen=True, slots=True)
class VerifiedEvent:
    id: str
    type: str
    created: int
    livemode: bool
    account: str | None
    api_version: str | None
    data_object: JSONObject
    object_id: str | None = None
    # PostgreSQL text cannot hold NUL: such fields are kept with each NUL written `\u0000`,
    # and the event is not applied (no Stripe object kassa knows holds one).
    nul_escaped: bool = False


def verify_webhook(
    payload: bytes, signature_header: str, secrets: list[str], *, now_seconds: float | None = None
) -> VerifiedEvent:
    """Check the signature with any of `secrets` (rotation) and parse the event."""
    _reject_future_timestamp(signature_header, now_seconds or time.time())
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidWebhook("body is not UTF-8") from exc
    errors = []
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(
                text, signature_header, secret, tolerance=PAST_TOLERANCE_SECONDS
            )
            return _parse_event(text)
        except stripe.SignatureVerificationError as exc:
            errors.append(str(exc))
    raise InvalidWebhook(errors[0] if errors else "no webhook secret configured")


def _reject_future_timestamp(signature_header: str, now_seconds: float) -> None:
    # The SDK only rejects old timestamps; a far-future one would stay replayable forever.
    # The header is parsed strictly here, since the SDK's int() also takes "+1", " 1", "1_0".
    timestamps = [item[2:] for item in signature_header.split(",") if item.startswith("t=")]
    if not timestamps or not TIMESTAMP.fullmatch(timestamps[0]):
        raise InvalidWebhook("Stripe-Signature has no valid timestamp")
    if int(timestamps[0]) > now_seconds + FUTURE_TOLERANCE_SECONDS:
        raise InvalidWebhook("signature timestamp is too far in the future")


def _parse_event(text: str) -> VerifiedEvent:
    try:
        body = json.loads(text)
        data_object = body["data"]["object"]
        data_object = data_object if isinstance(data_object, dict) else {}
        stored = [
            _required_str(body, "id", 255),
            _required_str(body, "type", 100),
            _optional_str(body.get("account"), 255),
            _optional_str(body.get("api_version"), 64),
            _object_id(data_object),
        ]
        event_id, event_type, account, api_version, object_id = map(_escape_nul, stored)
        assert event_id is not None and event_type is not None
        return VerifiedEvent(
            id=event_id,
            type=event_type,
            created=_timestamp(body["created"]),
            livemode=bool(body.get("livemode", False)),
            account=account,
            api_version=api_version,
            data_object=data_object,
            object_id=object_id,
            nul_escaped=any("\x00" in (value or "") for value in stored),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidWebhook(f"body is not a Stripe event: {exc}") from exc


def _object_id(data_object: JSONObject) -> str | None:
    value = data_object.get("id")
    # Only an index for lookups: an id too long for it is left out.
    return value if isinstance(value, str) and len(_escape_nul(value) or "") <= 255 else None


def _escape_nul(value: str | None) -> str | None:
    return value.replace("\x00", "\\u0000") if value is not None else None


def _required_str(body: JSONObject, key: str, max_length: int) -> str:
    value = _optional_str(body[key], max_length)
    if not value:
        raise ValueError(f"missing {key}")
    return value


def _optional_str(value: Any, max_length: int) -> str | None:
    """Text kassa can store: printable but for NUL (escaped later), bounded; None when
    absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a string: {str(value)[:40]!r}")
    escaped = _escape_nul(value) or ""
    if not value.replace("\x00", "").isprintable() or len(escaped) > max_length:
        raise ValueError(f"not a short printable string: {value[:40]!r}")
    return value


def _timestamp(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 10**11:
        raise ValueError("created is not a Unix time")
    return value


def _with_card() -> Any:
    # An intent kassa reads or confirms comes with its card: neither this API version's
    # `latest_charge` (an id) nor the local server's charges carry the card, its method does.
    return {"expand": ["payment_method"]}


def payment_intent_snapshot(obj: JSONObject) -> PaymentIntentSnapshot:
    """Read a PaymentIntent (event payload or API answer) into kassa's snapshot."""
    charge = _latest_charge(obj)
    error = obj.get("last_payment_error") or {}
    return PaymentIntentSnapshot(
        id=str(obj["id"]),
        status=str(obj.get("status", "")),
        amount=int(obj.get("amount", 0)),
        amount_received=_optional_int(obj.get("amount_received")),
        currency=str(obj.get("currency", "")).lower(),
        client_secret=obj.get("client_secret"),
        charge_id=_id_of(charge) if charge is not None else None,
        # After a decline Stripe clears the intent's method; the error still names it.
        payment_method_id=_id_of(obj.get("payment_method")) or _id_of(error.get("payment_method")),
        card=_card_of_charge(charge) or _card_of_payment_method(obj.get("payment_method")),
        failure_code=error.get("decline_code") or error.get("code"),
        failure_message=error.get("message"),
        metadata=_string_map(obj.get("metadata")),
        created=_optional_int(obj.get("created")),
    )


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(key): str(item) for key, item in value.items()}


def refund_snapshot(obj: JSONObject) -> RefundSnapshot:
    """Read a Refund (event payload or API answer) into kassa's snapshot."""
    return RefundSnapshot(
        id=str(obj["id"]),
        status=str(obj.get("status") or "pending"),
        amount=int(obj.get("amount", 0)),
        currency=str(obj.get("currency", "")).lower(),
        payment_intent_id=_id_of(obj.get("payment_intent")),
        charge_id=_id_of(obj.get("charge")),
        metadata=_string_map(obj.get("metadata")),
        failure_reason=obj.get("failure_reason")
        if isinstance(obj.get("failure_reason"), str)
        else None,
    )


def dispute_snapshot(obj: JSONObject) -> DisputeSnapshot:
    """Read a Dispute (event payload) into kassa's snapshot."""
    return DisputeSnapshot(
        id=str(obj["id"]),
        status=str(obj["status"])[:64],
        reason=str(obj.get("reason") or "general")[:64],
        amount=int(obj["amount"]),
        currency=str(obj["currency"]).lower(),
        payment_intent_id=_id_of(obj.get("payment_intent")),
        charge_id=_id_of(obj.get("charge")),
    )


def checkout_snapshot(obj: JSONObject) -> CheckoutSnapshot:
    currency = obj.get("currency")
    return CheckoutSnapshot(
        id=str(obj["id"]),
        status=str(obj.get("status") or "open"),
        payment_status=str(obj.get("payment_status") or "unpaid"),
        url=obj.get("url") if isinstance(obj.get("url"), str) else None,
        payment_intent_id=_id_of(obj.get("payment_intent")),
        amount_total=_optional_int(obj.get("amount_total")),
        currency=currency.lower() if isinstance(currency, str) else None,
    )


def payment_method_snapshot(obj: JSONObject) -> PaymentMethodSnapshot:
    return PaymentMethodSnapshot(
        id=str(obj["id"]), customer_id=_id_of(obj.get("customer")), card=_card(obj.get("card"))
    )


def refunds_of_charge(obj: JSONObject) -> list[RefundSnapshot] | None:
    """The refunds a `charge.refunded` payload lists; None when this API version omits them."""
    listed = obj.get("refunds")
    if not isinstance(listed, Mapping) or not isinstance(listed.get("data"), list):
        return None
    return [refund_snapshot(item) for item in listed["data"] if isinstance(item, Mapping)]


def _latest_charge(obj: JSONObject) -> Any:
    latest = obj.get("latest_charge")
    if latest:
        return latest
    legacy = (obj.get("charges") or {}).get("data") or []
    return legacy[-1] if legacy else None


def _id_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _created_since(obj: JSONObject, created_from: int) -> bool:
    # An object without a creation time is kept: better checked twice than never.
    created = _optional_int(obj.get("created"))
    return created is None or created >= created_from


def _optional_int(value: Any) -> int | None:
    return int(value) if isinstance(value, int) else None


def _card_of_charge(charge: Any) -> CardDetails | None:
    if not isinstance(charge, Mapping):
        return None
    details = (charge.get("payment_method_details") or {}).get("card")
    return _card(details)


def _card_of_payment_method(payment_method: Any) -> CardDetails | None:
    if not isinstance(payment_method, Mapping):
        return None
    return _card(payment_method.get("card"))


def _card(card: Any) -> CardDetails | None:
    if not isinstance(card, Mapping):
        return None
    return CardDetails(
        brand=card.get("brand"),
        last4=card.get("last4"),
        exp_month=_optional_int(card.get("exp_month")),
        exp_year=_optional_int(card.get("exp_year")),
    )


@dataclass(frozen=True, slots=True)
class InvoiceSnapshot:
    id: str
    status: str  # draft | open | paid | void | uncollectible
    subscription_id: str | None
    customer_id: str | None
    payment_intent_id: str | None
    # The invoice's PaymentIntent when Stripe's answer expanded it (never in events).
    payment_intent: PaymentIntentSnapshot | None
    amount_due: int
    amount_paid: int
    currency: str
    attempt_count: int
    # The Prices its lines charge for, the largest charge first (credits lines last).
    price_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubscriptionSnapshot:
    id: str
    status: str  # incomplete | active | past_due | unpaid | canceled | incomplete_expired …
    customer_id: str | None
    item_id: str | None
    price_id: str | None
    current_period_start: int | None
    current_period_end: int | None
    cancel_at_period_end: bool
    metadata: Mapping[str, str]
    latest_invoice: InvoiceSnapshot | None


def invoice_snapshot(obj: JSONObject) -> InvoiceSnapshot:
    """Read an Invoice (event payload or API answer) into kassa's snapshot; the
    subscription is where this API version puts it, or where newer ones do (`parent`)."""
    intent = obj.get("payment_intent")
    return InvoiceSnapshot(
        id=str(obj["id"]),
        status=str(obj.get("status") or "draft"),
        subscription_id=_id_of(obj.get("subscription")) or _parent_subscription(obj),
        customer_id=_id_of(obj.get("customer")),
        payment_intent_id=_id_of(intent),
        payment_intent=payment_intent_snapshot(intent) if isinstance(intent, Mapping) else None,
        amount_due=int(obj.get("amount_due") or 0),
        amount_paid=int(obj.get("amount_paid") or 0),
        currency=str(obj.get("currency", "")).lower(),
        attempt_count=int(obj.get("attempt_count") or 0),
        price_ids=_line_prices(obj.get("lines")),
    )


def _parent_subscription(obj: JSONObject) -> str | None:
    details = (obj.get("parent") or {}).get("subscription_details") or {}
    return _id_of(details.get("subscription")) if isinstance(details, Mapping) else None


def _line_prices(lines: Any) -> tuple[str, ...]:
    data = lines.get("data") if isinstance(lines, Mapping) else None
    if not isinstance(data, list):
        return ()
    charged = [
        (int(line.get("amount") or 0), _id_of(line.get("price")) or _id_of(line.get("plan")))
        for line in data
        if isinstance(line, Mapping)
    ]
    return tuple(price for _, price in sorted(charged, key=lambda c: -c[0]) if price)


def subscription_snapshot(obj: JSONObject) -> SubscriptionSnapshot:
    """Read a Subscription (event payload or API answer) into kassa's snapshot."""
    item = _first_item(obj)
    latest = obj.get("latest_invoice")
    return SubscriptionSnapshot(
        id=str(obj["id"]),
        status=str(obj.get("status") or "incomplete"),
        customer_id=_id_of(obj.get("customer")),
        item_id=_id_of(item),
        price_id=_id_of(item.get("price")) or _id_of(item.get("plan")) if item else None,
        # This API version has the period on the subscription, newer ones on its item.
        current_period_start=_optional_int(obj.get("current_period_start"))
        or _optional_int((item or {}).get("current_period_start")),
        current_period_end=_optional_int(obj.get("current_period_end"))
        or _optional_int((item or {}).get("current_period_end")),
        cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
        metadata=_string_map(obj.get("metadata")),
        latest_invoice=invoice_snapshot(latest) if isinstance(latest, Mapping) else None,
    )


def _first_item(obj: JSONObject) -> Mapping[str, Any] | None:
    items = obj.get("items")
    data = items.get("data") if isinstance(items, Mapping) else None
    if isinstance(data, list) and data and isinstance(data[0], Mapping):
        return cast(Mapping[str, Any], data[0])
    return None


class RecurringPrice(TypedDict):
    """A plan of kassa's catalog as Stripe bills it: a Product and its recurring Price."""

    product_id: str
    price_id: str
    name: str
    amount: int
    currency: str
    interval: str  # month | year


# Subscriptions kassa creates: the first invoice's PaymentIntent comes with the answer.
WITH_FIRST_INVOICE = ["latest_invoice.payment_intent"]


class CheckoutSessionRequest(TypedDict):
    """What kassa asks of a Checkout Session: one line, paid once."""

    payment_key: str
    amount: int
    currency: str
    name: str
    customer_id: str
    success_url: str
    cancel_url: str
    metadata: dict[str, str]


def checkout_session_params(request: CheckoutSessionRequest) -> dict[str, Any]:
    """Stripe's parameters for the session; the intent Stripe makes for it gets the same
    metadata (`payment_intent_data`), so the intent alone names kassa's payment."""
    return {
        "mode": "payment",
        "customer": request["customer_id"],
        "client_reference_id": request["payment_key"],
        # Passed as given: Stripe fills in {CHECKOUT_SESSION_ID} itself.
        "success_url": request["success_url"],
        "cancel_url": request["cancel_url"],
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": request["currency"],
                    "unit_amount": request["amount"],
                    "product_data": {"name": request["name"]},
                },
            }
        ],
        "metadata": request["metadata"],
        "payment_intent_data": {"metadata": request["metadata"]},
    }


class StripeGateway:
    """Async calls to Stripe (or a Stripe-compatible server at `api_base`)."""

    def __init__(
        self,
        secret_key: str,
        *,
        api_base: str | None = None,
        timeout_seconds: float = 10.0,
        max_network_retries: int = 1,
    ) -> None:
        self._http = stripe.HTTPXClient(timeout=timeout_seconds)
        self._client = stripe.StripeClient(
            secret_key,
            stripe_version=API_VERSION,
            http_client=self._http,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=max_network_retries,
        )

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def create_customer(self, *, organization_key: str, name: str) -> str:
        customer = await self._call(
            self._client.v1.customers.create_async(
                {"name": name, "metadata": {"kassa_organization_id": organization_key}},
                options={"idempotency_key": f"kassa:customer:{organization_key}"},
            )
        )
        return str(customer.id)

    async def create_payment_intent(
        self,
        *,
        payment_key: str,
        amount: int,
        currency: str,
        customer_id: str,
        metadata: dict[str, str],
        payment_method_id: str | None = None,
    ) -> PaymentIntentSnapshot:
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency,
            "customer": customer_id,
            # Explicit card-only keeps the API identical on Stripe and compatible servers.
            "payment_method_types": ["card"],
            "metadata": metadata,
        }
        if payment_method_id:
            params["payment_method"] = payment_method_id
        intent = await self._call(
            self._client.v1.payment_intents.create_async(
                cast(Any, params),
                options={"idempotency_key": f"kassa:payment:{payment_key}:create"},
            )
        )
        return payment_intent_snapshot(intent.to_dict())

    async def confirm_payment_intent(
        self, intent_id: str, *, payment_key: str
    ) -> PaymentIntentSnapshot:
        intent = await self._call(
            self._client.v1.payment_intents.confirm_async(
                intent_id,
                _with_card(),
                options={"idempotency_key": f"kassa:payment:{payment_key}:confirm"},
            )
        )
        return payment_intent_snapshot(intent.to_dict())

    async def set_payment_method(
        self, intent_id: str, payment_method_id: str
    ) -> PaymentIntentSnapshot:
        intent = await self._call(
            self._client.v1.payment_intents.update_async(
                intent_id, cast(Any, {"payment_method": payment_method_id})
            )
        )
        return payment_intent_snapshot(intent.to_dict())

    async def retrieve_payment_intent(self, intent_id: str) -> PaymentIntentSnapshot:
        intent = await self._call(
            self._client.v1.payment_intents.retrieve_async(intent_id, _with_card())
        )
        return payment_intent_snapshot(intent.to_dict())

    async def cancel_payment_intent(self, intent_id: str) -> PaymentIntentSnapshot:
        intent = await self._call(self._client.v1.payment_intents.cancel_async(intent_id))
        return payment_intent_snapshot(intent.to_dict())

    async def payment_intents_since(self, created_from: int) -> list[PaymentIntentSnapshot]:
        """PaymentIntents created at or after `created_from`, newest first."""
        listed = await self._list_since(self._client.v1.payment_intents.list_async, created_from)
        return [payment_intent_snapshot(item) for item in listed]

    async def checkout_sessions_since(self, created_from: int) -> list[CheckoutSnapshot]:
        """Checkout Sessions created at or after `created_from`, newest first."""
        listed = await self._list_since(self._client.v1.checkout.sessions.list_async, created_from)
        return [checkout_snapshot(item) for item in listed]

    async def refunds_since(self, created_from: int) -> list[RefundSnapshot]:
        """Refunds created at or after `created_from` (in kassa or in Stripe's dashboard)."""
        listed = await self._list_since(self._client.v1.refunds.list_async, created_from)
        return [refund_snapshot(item) for item in listed]

    async def _list_since(
        self,
        list_page: Callable[[Any], Coroutine[Any, Any, Any]],
        created_from: int,
        max_pages: int = 100,
    ) -> list[JSONObject]:
        # Stripe lists newest first: paging stops at the first older object instead of
        # filtering by `created`, which the local Stripe-compatible server does not support.
        found: list[JSONObject] = []
        params: dict[str, Any] = {"limit": 100}
        for _ in range(max_pages):
            page = await self._call(list_page(dict(params)))
            items = [item.to_dict() for item in page.data]
            recent = [item for item in items if _created_since(item, created_from)]
            found.extend(recent)
            if len(recent) < len(items) or not page.has_more or not items:
                break
            params["starting_after"] = str(items[-1]["id"])
        return found

    async def create_checkout_session(
        self, **request: Unpack[CheckoutSessionRequest]
    ) -> CheckoutSnapshot:
        key = f"kassa:checkout:{request['payment_key']}"
        session = await self._call(
            self._client.v1.checkout.sessions.create_async(
                cast(Any, checkout_session_params(request)), options={"idempotency_key": key}
            )
        )
        return checkout_snapshot(session.to_dict())

    async def retrieve_checkout_session(self, session_id: str) -> CheckoutSnapshot:
        session = await self._call(self._client.v1.checkout.sessions.retrieve_async(session_id))
        return checkout_snapshot(session.to_dict())

    async def expire_checkout_session(self, session_id: str) -> CheckoutSnapshot:
        session = await self._call(self._client.v1.checkout.sessions.expire_async(session_id))
        return checkout_snapshot(session.to_dict())

    async def create_refund(
        self, *, refund_key: str, payment_intent_id: str, amount: int, metadata: dict[str, str]
    ) -> RefundSnapshot:
        params = {"payment_intent": payment_intent_id, "amount": amount, "metadata": metadata}
        refund = await self._call(
            self._client.v1.refunds.create_async(
                cast(Any, params), options={"idempotency_key": f"kassa:refund:{refund_key}"}
            )
        )
        return refund_snapshot(refund.to_dict())

    async def refunds_for_charge(self, charge_id: str) -> list[RefundSnapshot]:
        page = await self._call(
            self._client.v1.refunds.list_async(cast(Any, {"charge": charge_id, "limit": 100}))
        )
        return [refund_snapshot(item.to_dict()) for item in page.data]

    async def create_setup_intent(
        self, *, setup_key: str, customer_id: str | None, metadata: dict[str, str]
    ) -> tuple[str, str]:
        """A SetupIntent for saving a card for `customer_id` (for one payment without one);
        its id and client secret."""
        params: dict[str, Any] = {
            "usage": "off_session" if customer_id else "on_session",
            "payment_method_types": ["card"],
            "metadata": metadata,
        }
        if customer_id:
            params["customer"] = customer_id
        intent = await self._call(
            self._client.v1.setup_intents.create_async(
                cast(Any, params), options={"idempotency_key": f"kassa:setup:{setup_key}"}
            )
        )
        return str(intent.id), str(intent.client_secret)

    async def retrieve_payment_method(self, payment_method_id: str) -> PaymentMethodSnapshot:
        method = await self._call(self._client.v1.payment_methods.retrieve_async(payment_method_id))
        return payment_method_snapshot(method.to_dict())

    async def detach_payment_method(self, payment_method_id: str) -> None:
        await self._call(self._client.v1.payment_methods.detach_async(payment_method_id))

    async def retrieve_card(self, payment_method_id: str) -> CardDetails | None:
        method = await self._call(self._client.v1.payment_methods.retrieve_async(payment_method_id))
        return _card_of_payment_method(method.to_dict())

    async def keep_recurring_price(self, price: RecurringPrice) -> None:
        """Make the Product and the Price unless Stripe has them. Their ids are kassa's own
        (derived from the plan), so every process and every restart finds the same ones,
        long after idempotency keys have expired. (Created through Stripe's Plans API: a
        Plan is a Price to Stripe, and the local Stripe-compatible server knows only Plans.)"""
        if not await self._exists(self._client.v1.products.retrieve_async(price["product_id"])):
            await self._create_once(
                self._client.v1.products.create_async(
                    cast(Any, {"id": price["product_id"], "name": price["name"]})
                )
            )
        if not await self._exists(self._client.v1.plans.retrieve_async(price["price_id"])):
            params = {
                "id": price["price_id"],
                "product": price["product_id"],
                "amount": price["amount"],
                "currency": price["currency"],
                "interval": price["interval"],
            }
            await self._create_once(self._client.v1.plans.create_async(cast(Any, params)))

    async def _exists(self, request: Coroutine[Any, Any, Any]) -> bool:
        try:
            await self._call(request)
        except StripeFailure as exc:
            if exc.http_status == HTTPStatus.NOT_FOUND:
                return False
            raise
        return True

    async def _create_once(self, request: Coroutine[Any, Any, Any]) -> None:
        # Another process may have made it meanwhile: Stripe says it exists (the local
        # server answers 409), which is what was wanted.
        try:
            await self._call(request)
        except StripeFailure as exc:
            if exc.code != "resource_already_exists" and exc.http_status != HTTPStatus.CONFLICT:
                raise

    async def create_subscription(
        self,
        *,
        subscription_key: str,
        customer_id: str,
        price_id: str,
        payment_method_id: str | None,
        metadata: dict[str, str],
    ) -> SubscriptionSnapshot:
        """Subscribe `customer_id` to `price_id`. With a card, Stripe charges the first
        invoice now; without one, its PaymentIntent waits for the browser."""
        params: dict[str, Any] = {
            "customer": customer_id,
            "items": [{"price": price_id}],
            "metadata": metadata,
            "expand": WITH_FIRST_INVOICE,
        }
        if payment_method_id:
            params["default_payment_method"] = payment_method_id
            params["payment_behavior"] = "allow_incomplete"
        else:
            params["payment_behavior"] = "default_incomplete"
        subscription = await self._call(
            self._client.v1.subscriptions.create_async(
                cast(Any, params),
                options={"idempotency_key": f"kassa:subscription:{subscription_key}:create"},
            )
        )
        return subscription_snapshot(subscription.to_dict())

    async def retrieve_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        subscription = await self._call(
            self._client.v1.subscriptions.retrieve_async(
                subscription_id, cast(Any, {"expand": WITH_FIRST_INVOICE})
            )
        )
        return subscription_snapshot(subscription.to_dict())

    async def cancel_at_period_end(self, subscription_id: str) -> SubscriptionSnapshot:
        # Both cancels go one way only, so a key per subscription makes a repeat a no-op.
        subscription = await self._call(
            self._client.v1.subscriptions.update_async(
                subscription_id,
                cast(Any, {"cancel_at_period_end": True}),
                options={"idempotency_key": f"kassa:subscription:{subscription_id}:period-end"},
            )
        )
        return subscription_snapshot(subscription.to_dict())

    async def cancel_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        subscription = await self._call(
            self._client.v1.subscriptions.cancel_async(
                subscription_id,
                options={"idempotency_key": f"kassa:subscription:{subscription_id}:cancel"},
            )
        )
        return subscription_snapshot(subscription.to_dict())

    async def change_subscription_price(
        self, subscription_id: str, *, item_id: str | None, price_id: str, change_key: str
    ) -> SubscriptionSnapshot:
        """Move the subscription's one item to `price_id`; Stripe computes the proration
        and charges it at once (its invoice comes with the answer)."""
        item: dict[str, Any] = {"price": price_id}
        if item_id:
            item["id"] = item_id
        params = {
            "items": [item],
            "proration_behavior": "always_invoice",
            "expand": WITH_FIRST_INVOICE,
        }
        subscription = await self._call(
            self._client.v1.subscriptions.update_async(
                subscription_id,
                cast(Any, params),
                options={"idempotency_key": f"kassa:subscription:{change_key}:change"},
            )
        )
        return subscription_snapshot(subscription.to_dict())

    async def create_webhook_endpoint(self, *, url: str, events: list[str]) -> tuple[str, str]:
        """An endpoint sending `events` to `url`, written in the API version kassa pins;
        its id and signing secret (Stripe shows the secret in this answer only)."""
        params = {"url": url, "enabled_events": events, "api_version": API_VERSION}
        endpoint = await self._call(
            self._client.v1.webhook_endpoints.create_async(cast(Any, params))
        )
        return str(endpoint.id), str(endpoint.secret)

    async def _call(self, request: Coroutine[Any, Any, Any]) -> Any:
        left = deadline.remaining()
        if left is not None and left <= 0:
            request.close()
            raise StripeFailure("the request's deadline passed before Stripe was asked")
        try:
            async with asyncio.timeout(left):
                return await request
        except TimeoutError as exc:
            # Cut off mid-call: Stripe may or may not have acted, so this is not a refusal.
            raise StripeFailure("Stripe did not answer within the request's deadline") from exc
        except stripe.CardError as exc:
            raise StripeFailure(
                exc.user_message or str(exc),
                code=exc.code,
                card_declined=True,
                http_status=exc.http_status,
            ) from exc
        except stripe.StripeError as exc:
            raise StripeFailure(
                exc.user_message or str(exc), code=exc.code, http_status=exc.http_status
            ) from exc
