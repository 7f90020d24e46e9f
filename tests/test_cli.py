"""The `kassa` command as an operator uses it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import graphql
import jwt

from kassa.models import StripeEvent
from tests.support import Kassa, payment_intent_event, wait_for_event

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
    schema = graphql.build_schema(result.stdout)
    assert schema.mutation_type is not None
    top_up = schema.mutation_type.fields["topUpWallet"]
    assert (str(top_up.args["input"].type), str(top_up.type)) == (
        "TopUpWalletInput!",
        "PaymentIntentResult!",
    )
    assert "Viewer" in schema.type_map


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


async def test_events_list_and_replay_from_the_command_line(
    kassa: Kassa, database_url: str
) -> None:
    # given: a dead event
    member = await kassa.member()
    created = await kassa.top_up(member, "1.23")
    event = payment_intent_event(
        "payment_intent.succeeded",
        created["payment"]["stripePaymentIntentId"],
        amount=123,
        status="succeeded",
    )
    event_id = json.loads(event)["id"]
    await kassa.deliver_and_wait(event)
    await StripeEvent.filter(id=event_id).update(status="DEAD", last_error="given up")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "KASSA_JWT_SECRET": SECRET,
        "STRIPE_SECRET_KEY": "sk_test_cli",
    }

    # when
    listed = await _run_async(env, "events", "list", "--status", "dead")
    replayed = await _run_async(env, "events", "replay", "--id", event_id)

    # then
    assert event_id in listed and "given up" in listed, listed
    assert "1 event(s) queued again" in replayed, replayed
    settled = await wait_for_event(event_id)
    assert settled.status == "PROCESSED", (settled.status, settled.attempts, settled.last_error)
    assert (await kassa.wallet(member))["balance"]["amount"] == "1.23"


async def _run_async(env: dict[str, str], *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kassa.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


async def test_api_keys_from_the_command_line(kassa: Kassa, database_url: str) -> None:
    member = await kassa.member()
    env = {**os.environ, "DATABASE_URL": database_url}

    created = await _run_async(
        env, "apikey", "create", "--org", member.external_id, "--name", "shop backend"
    )
    key = created.split("key: ")[1].split()[0]
    key_id = created.split("id:  ")[1].split()[0]
    viewer = await kassa.gql("{ viewer { userId } }", token=key)
    listed = await _run_async(env, "apikey", "list", "--org", member.external_id)
    revoked = await _run_async(env, "apikey", "revoke", "--id", key_id)
    after = await kassa.http.post(
        "/graphql",
        json={"query": "{ viewer { userId } }"},
        headers={"Authorization": f"Bearer {key}"},
    )

    assert "cannot show it again" in created
    assert viewer["data"]["viewer"]["userId"] == f"apikey:{key_id}"
    assert f"{key_id}  {key[:15]}…  member  shop backend  active" in listed
    assert key not in listed
    assert f"revoked {key_id}" in revoked
    assert after.status_code == 401


async def _run_both(env: dict[str, str], *args: str) -> tuple[str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kassa.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode(), stderr.decode()


async def test_token_takes_the_organizations_id_or_name_and_says_which(
    kassa: Kassa, database_url: str
) -> None:
    # given: an organization kassa knows, and one it does not
    member = await kassa.member()
    env = {**os.environ, "DATABASE_URL": database_url, "KASSA_JWT_SECRET": SECRET}
    new_name = f"shop-{member.external_id}"

    # when
    by_id, said_by_id = await _run_both(
        env, "token", "--org", member.organization_id, "--role", "MEMBER", "--email", "a@b.test"
    )
    by_name, said_by_name = await _run_both(env, "token", "--org", new_name)

    # then: the token names the organization as its tokens do, whichever way it was given
    claims = jwt.decode(by_id.strip(), SECRET, algorithms=["HS256"], audience="kassa")
    assert (claims["org_id"], claims["org_role"]) == (member.external_id, "member")
    assert claims["email"] == "a@b.test"
    assert said_by_id.strip() == (
        f'existing organization "{member.external_id}" ({member.organization_id})'
    )
    assert jwt.decode(by_name.strip(), SECRET, algorithms=["HS256"], audience="kassa")[
        "org_id"
    ] == (new_name)
    assert said_by_name.startswith(f'created organization "{new_name}" (org_')


async def test_enum_options_take_any_case(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}

    await _run_both(env, "events", "list", "--status", "DEAD", "--since", "1m")  # exit 0
    key, _ = await _run_both(
        env, "apikey", "create", "--org", "acme-case", "--name", "x", "--role", "Admin"
    )

    assert "key: kassa_sk_" in key


def test_outside_a_demo_each_command_says_what_is_missing_in_one_line(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KASSA_", "STRIPE_")) and k != "DATABASE_URL"
    }
    env["KASSA_DATA_DIR"] = str(tmp_path / "no-demo-here")
    commands = {
        ("token", "--org", "acme"): "KASSA_JWT_SECRET is not set and no demo ran in",
        ("apikey", "create", "--org", "acme", "--name", "x"): "no kassa database",
        ("events", "list"): "no kassa database",
        ("events", "replay", "--dead"): "no kassa database",
        ("reconcile",): "STRIPE_SECRET_KEY is not set",
        ("stripe", "setup", "--url", "https://kassa.example/webhooks/stripe"): (
            "STRIPE_SECRET_KEY is not set"
        ),
    }
    for args, missing in commands.items():
        result = subprocess.run(
            [sys.executable, "-m", "kassa.cli", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and missing in result.stderr, (args, result.stderr)
    assert not (tmp_path / "no-demo-here").exists()
