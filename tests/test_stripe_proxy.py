"""The fault proxy the Stripe fault tests rely on does what each mode says."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from kassa.demo.local_stripe import SECRET_KEY, LocalStripe
from tests.stripe_proxy import Fault, Mode, StripeProxy

AUTH = {"Authorization": f"Bearer {SECRET_KEY}"}


@pytest.fixture
def proxy(local_stripe: LocalStripe) -> Iterator[StripeProxy]:
    proxy = StripeProxy(local_stripe.api_base).start()
    yield proxy
    proxy.stop()


@pytest.fixture
async def through_proxy(proxy: StripeProxy) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=proxy.api_base, headers=AUTH, timeout=5) as client:
        yield client


async def _customers(local_stripe: LocalStripe, email: str) -> int:
    async with httpx.AsyncClient(base_url=local_stripe.api_base, headers=AUTH) as stripe:
        listed = (await stripe.get("/v1/customers", params={"email": email, "limit": 100})).json()[
            "data"
        ]
    return sum(1 for customer in listed if customer.get("email") == email)


async def test_requests_without_a_fault_pass_through(
    proxy: StripeProxy, through_proxy: httpx.AsyncClient
) -> None:
    answer = await through_proxy.post("/v1/customers", data={"email": "plain@kassa.test"})

    assert answer.status_code == 200
    assert answer.json()["id"].startswith("cus_")
    assert [(seen.method, seen.fault) for seen in proxy.requests] == [("POST", None)]


async def test_latency_delays_only_the_matching_requests(
    proxy: StripeProxy, through_proxy: httpx.AsyncClient
) -> None:
    proxy.add(Fault("/v1/customers", Mode.LATENCY, method="POST", seconds=0.5))

    started = time.monotonic()
    assert (await through_proxy.get("/v1/customers")).status_code == 200
    unmatched = time.monotonic() - started
    assert (await through_proxy.post("/v1/customers", data={})).status_code == 200
    matched = time.monotonic() - started - unmatched

    assert unmatched < 0.4 <= matched


async def test_hang_answers_nothing_until_released(
    proxy: StripeProxy, through_proxy: httpx.AsyncClient
) -> None:
    proxy.add(Fault("/v1/customers", Mode.HANG))

    with pytest.raises(httpx.ReadTimeout):
        await through_proxy.get("/v1/customers", timeout=0.5)
    proxy.release()

    assert (await through_proxy.get("/v1/customers")).status_code == 200


async def test_reset_cuts_the_connection_and_error_answers_for_stripe(
    proxy: StripeProxy, through_proxy: httpx.AsyncClient
) -> None:
    proxy.add(Fault("/v1/customers", Mode.RESET, method="GET"))
    proxy.add(Fault("/v1/customers", Mode.ERROR, method="POST", status=503))

    with pytest.raises(httpx.TransportError):
        await through_proxy.get("/v1/customers")
    answer = await through_proxy.post("/v1/customers", data={})

    assert answer.status_code == 503
    assert answer.json()["error"]["type"] == "api_error"


async def test_drop_answer_lets_stripe_act_but_the_caller_never_hears(
    proxy: StripeProxy, through_proxy: httpx.AsyncClient, local_stripe: LocalStripe
) -> None:
    proxy.add(Fault("/v1/customers", Mode.DROP_ANSWER, method="POST"))

    with pytest.raises(httpx.TransportError):
        await through_proxy.post("/v1/customers", data={"email": "dropped@kassa.test"})

    assert await _customers(local_stripe, "dropped@kassa.test") == 1
