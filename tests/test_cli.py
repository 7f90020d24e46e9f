"""The `kassa` command as an operator uses it."""

from __future__ import annotations

import os
import subprocess
import sys

import jwt

SECRET = "cli-test-secret-" + "x" * 40


def _kassa(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KASSA_JWT_SECRET": SECRET}
    return subprocess.run(
        [sys.executable, "-m", "kassa.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_token_prints_a_token_the_server_accepts() -> None:
    result = _kassa("token", "--org", "acme", "--role", "member", "--sub", "ada")

    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), SECRET, algorithms=["HS256"], audience="kassa")
    assert claims["org_id"] == "acme"
    assert claims["org_role"] == "member"
    assert claims["sub"] == "ada"
    assert claims["iss"] == "kassa"
    assert claims["exp"] > claims["iat"]


def test_token_refuses_an_unknown_role() -> None:
    result = _kassa("token", "--org", "acme", "--role", "superuser")

    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_schema_prints_the_public_contract() -> None:
    result = _kassa("schema")

    assert result.returncode == 0
    for name in ("topUpWallet(input: TopUpWalletInput!): PaymentIntentResult!", "type Viewer"):
        assert name in result.stdout


def test_serve_without_stripe_configured_says_what_to_set() -> None:
    env_without_stripe = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    result = subprocess.run(
        [sys.executable, "-m", "kassa.cli", "serve"],
        env={**env_without_stripe, "KASSA_JWT_SECRET": SECRET},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert "STRIPE_SECRET_KEY is not set" in result.stderr
