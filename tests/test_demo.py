"""`kassa demo` (what `make run` starts) as a new user meets it: one command, then GraphiQL."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from kassa.demo.local_stripe import SECRET_KEY

READY_TIMEOUT_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    port = _free_port()
    env = {**os.environ, "KASSA_DATA_DIR": str(tmp_path), "KASSA_PORT": str(port)}
    env.pop("DATABASE_URL", None)
    env.pop("STRIPE_SECRET_KEY", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "kassa.cli", "demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        token = _wait_for_token(process)
        yield f"http://127.0.0.1:{port}", token, tmp_path
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        assert process.stdout is not None
        process.stdout.close()


def _wait_for_token(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    output: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        output.append(line)
        if not line and process.poll() is not None:
            raise AssertionError(f"kassa demo exited with {process.returncode}:\n{''.join(output)}")
        match = re.search(r"Bearer ([\w.-]+)", line)
        if match:
            return match.group(1)
    raise AssertionError(f"kassa demo printed no token in time:\n{''.join(output)}")


def _environ(process: psutil.Process) -> dict[str, str]:
    try:
        return process.environ()
    except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
        return {}


def _postgres_running(data_dir: Path) -> bool:
    for process in psutil.process_iter(attrs=["name", "cmdline"]):
        if process.info["name"] == "postgres" and str(data_dir) in " ".join(
            process.info["cmdline"] or []
        ):
            return True
    return False


def _graphql(client: httpx.Client, token: str, query: str, **variables: str) -> dict[str, Any]:
    response = client.post(
        "/graphql",
        headers={"Authorization": f"Bearer {token}"},
        json={"query": query, "variables": variables},
    )
    data: dict[str, Any] = response.json()["data"]
    return data


def _pay_with_test_card(stripe_base: str, intent_id: str) -> None:
    """What the browser's Stripe.js does with a card form, against the local server."""
    auth = {"Authorization": f"Bearer {SECRET_KEY}"}
    with httpx.Client(base_url=stripe_base, headers=auth) as stripe:
        card = {"type": "card", "card[number]": "4242424242424242", "card[exp_month]": "12"}
        card |= {"card[exp_year]": "2034", "card[cvc]": "123"}
        method = stripe.post("/v1/payment_methods", data=card).json()["id"]
        stripe.post(f"/v1/payment_intents/{intent_id}", data={"payment_method": method})
        assert stripe.post(f"/v1/payment_intents/{intent_id}/confirm").status_code == 200


def test_demo_serves_the_whole_top_up_flow_and_stops_cleanly(
    demo: tuple[str, str, Path],
) -> None:
    base_url, token, data_dir = demo
    with httpx.Client(base_url=base_url, timeout=30) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").status_code == 200
        config = client.get("/client-config").json()
        assert config["stripeJsUrl"].startswith("http://127.0.0.1:")
        assert config["stripeJsUrl"].endswith("/js.stripe.com/v3/")
        assert "graphiql" in client.get("/graphql", headers={"Accept": "text/html"}).text.lower()

        viewer = _graphql(client, token, "{ viewer { organizations { organization { id } } } }")
        organization_id = viewer["viewer"]["organizations"][0]["organization"]["id"]
        created = _graphql(
            client,
            token,
            "mutation($org: ID!) { topUpWallet(input: {organizationId: $org, "
            'amount: "25.00", currency: "usd"}) '
            "{ ... on PaymentIntentCreated { payment { stripePaymentIntentId } } } }",
            org=organization_id,
        )
        intent_id = created["topUpWallet"]["payment"]["stripePaymentIntentId"]
        _pay_with_test_card(config["stripeJsUrl"].removesuffix("/js.stripe.com/v3/"), intent_id)

        # The local Stripe server's signed webhook, registered by the demo, credits the wallet.
        deadline = time.monotonic() + 15
        amount = None
        while amount != "25.00" and time.monotonic() < deadline:
            time.sleep(0.2)
            wallet = _graphql(
                client,
                token,
                'query($org: ID!) { organization(id: $org) { wallet(currency: "usd") '
                "{ balance { amount } } } }",
                org=organization_id,
            )
            amount = wallet["organization"]["wallet"]["balance"]["amount"]
        assert amount == "25.00"

    assert _postgres_running(data_dir)
    assert (data_dir / "stripe_webhook_secret").read_text().startswith("whsec_")


def test_demo_buys_credits_through_checkout_on_the_local_server(
    demo: tuple[str, str, Path],
) -> None:
    base_url, token, _ = demo
    with httpx.Client(base_url=base_url, timeout=30) as client:
        viewer = _graphql(client, token, "{ viewer { organizations { organization { id } } } }")
        organization_id = viewer["viewer"]["organizations"][0]["organization"]["id"]
        started = _graphql(
            client,
            token,
            "mutation($org: ID!) { startCheckout(input: {organizationId: $org, "
            'creditPackage: "trial", successUrl: "http://shop.test/ok?s={CHECKOUT_SESSION_ID}", '
            'cancelUrl: "http://shop.test/cart"}) '
            "{ ... on CheckoutStarted { sessionId url } ... on UserError { code message } } }",
            org=organization_id,
        )["startCheckout"]

        # The URL is the local server's hosted page, which a browser can open and pay on.
        stripe_base = client.get("/client-config").json()["stripeJsUrl"]
        assert started["url"].startswith(stripe_base.removesuffix("/js.stripe.com/v3/"))
        page = httpx.get(started["url"])
        assert 'data-testid="checkout-pay"' in page.text
        paid = httpx.post(f"{started['url']}/confirm", json={"payment_method": "pm_card_visa"})
        assert paid.json()["redirect_url"] == f"http://shop.test/ok?s={started['sessionId']}"

        # Its signed checkout.session.completed, sent to the demo's webhook, adds the credits.
        deadline = time.monotonic() + 15
        credits = 0
        while credits == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
            account = _graphql(
                client,
                token,
                "query($org: ID!) { organization(id: $org) { credits { balance } } }",
                org=organization_id,
            )
            credits = account["organization"]["credits"]["balance"]
        assert credits > 0


def test_demo_stops_its_database_on_exit(demo: tuple[str, str, Path]) -> None:
    base_url, _, data_dir = demo
    assert httpx.get(f"{base_url}/healthz").status_code == 200
    pid = next(
        p.pid
        for p in psutil.process_iter(attrs=["cmdline"])
        if "demo" in (p.info["cmdline"] or [])
        and "kassa.cli" in (p.info["cmdline"] or [])
        # This test's demo: other demos may run on the machine at the same time.
        and _environ(p).get("KASSA_DATA_DIR") == str(data_dir)
    )
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while _postgres_running(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _postgres_running(data_dir)
