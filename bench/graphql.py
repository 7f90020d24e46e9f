"""Benchmark: how close kassa's GraphQL reads come to what strawberry itself can do.

Run from the repository root with the project's virtualenv; it needs nothing running (a
throw-away embedded PostgreSQL, three servers on 127.0.0.1, all stopped at the end):

    .venv/bin/python bench/graphql.py               # about 2 minutes on 2 CPUs
    .venv/bin/python bench/graphql.py --seconds 3   # a smoke run
    .venv/bin/python bench/graphql.py --profile wallet-50   # where kassa's time goes
    .venv/bin/python bench/graphql.py --profile wallet-50 --cpu   # its CPU per request

In one run it starts, each as one uvicorn process:
- `hello`: plain strawberry answering `{ hello }` with ParserCache and ValidationCache, the
  framework's floor for any request;
- `same-shape`: plain strawberry answering the very query texts kassa is sent, from objects
  in memory (no database, no authentication): the framework's own cost for each shape, the
  ceiling kassa's reads are compared with;
- `kassa serve` in production mode on an organization seeded here: 200 wallet top-ups
  (each a payment with a card), 200 orders each paid by a payment with a card, and 200
  credit movements over 20 lots.

`wrk` (installed with apt-get when missing) drives each query closed-loop at 8 and 32
connections for `--seconds`; its client is C, so it does not steal Python's CPU from the
servers the way an asyncio client would. The table prints req/s, p50 and p99, and the ratios
the issue set goals for: authenticated `{ __typename }` / hello >= 0.7; wallet-50 and
payments-50 >= 0.5 of the same-shape ceiling; p99 < 50 ms for wallet-50 at 8 connections.
Then the SQL statements each kassa query sends, counted by running kassa's app in this
process once per query with asyncpg's methods wrapped. Speed is never asserted in tests.

Exit status: 0 when every server answered every query correctly (goals met or not), 1 when
one answered wrongly, 2 when a server or PostgreSQL failed to start.
"""

# ruff: noqa: E402  (imports follow the sys.path fix below)
from __future__ import annotations

import sys
from pathlib import Path

# This file's name would shadow the `graphql` package: its own directory goes last on the
# path (it is there for `webhooks`).
_HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [entry for entry in sys.path if entry not in (_HERE, "")] + [_HERE]

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import pstats
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import asyncpg
import httpx
import psutil
import strawberry
import uvicorn
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache
from webhooks import LOG_DIR, BenchError, free_port, kassa_env, start_child, stop_children

from kassa.db import apply_migrations, embedded_postgres, ensure_database, with_database
from kassa.services.identity import OrgRole, issue_dev_token

HOST = "127.0.0.1"
ORGANIZATION = "bench"
ROWS = 200
LOTS = 20
CONNECTIONS = (8, 32)
READY_TIMEOUT = 60.0

WALLET_50 = (
    'query($org: ID!) { organization(id: $org) { wallet(currency: "usd") { transactions('
    "first: 50) { edges { node { kind amount { amount } balanceAfter { amount } payment { "
    "status card { last4 } } } } pageInfo { hasNextPage } } } } }"
)
PAYMENTS_50 = (
    "query($org: ID!) { organization(id: $org) { payments(first: 50) { edges { node { id "
    "status amount { amount currency } card { brand last4 } order { reference status } "
    "createdAt } } pageInfo { hasNextPage endCursor } } } }"
)
ORDERS_50 = (
    "query($org: ID!) { organization(id: $org) { orders(first: 50) { edges { node { id "
    "reference status amount { amount currency } payments { status card { last4 } } } } "
    "pageInfo { hasNextPage } } } }"
)
CREDITS_50 = (
    "query($org: ID!) { organization(id: $org) { credits { balance transactions(first: 50) "
    "{ edges { node { id kind credits balanceAfter createdAt payment { status } } } "
    "pageInfo { hasNextPage } } } } }"
)
LISTS = {
    "wallet-50": WALLET_50,
    "payments-50": PAYMENTS_50,
    "orders-50": ORDERS_50,
    "credit-transactions-50": CREDITS_50,
}


# -- the ceiling: plain strawberry, objects in memory -----------------------------------------


@strawberry.type
class Hello:
    @strawberry.field
    def hello(self) -> str:
        return "world"


@strawberry.enum
class Status(Enum):
    SUCCEEDED = "SUCCEEDED"
    PAID = "PAID"


@strawberry.enum
class Kind(Enum):
    TOP_UP = "TOP_UP"
    CONSUME = "CONSUME"


@strawberry.type
class Amount:
    amount: str
    currency: str


@strawberry.type
class Card:
    brand: str | None
    last4: str | None


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Order:
    id: strawberry.ID
    reference: str | None
    status: Status
    amount: Amount
    payments: list[Payment]


@strawberry.type
class Payment:
    id: strawberry.ID
    status: Status
    amount: Amount
    card: Card | None
    order: Order | None
    created_at: datetime


@strawberry.type
class Row:
    kind: Kind
    amount: Amount
    balance_after: Amount
    payment: Payment | None


@strawberry.type
class CreditRow:
    id: strawberry.ID
    kind: Kind
    credits: int
    balance_after: int
    created_at: datetime
    payment: Payment | None


@strawberry.type
class RowEdge:
    node: Row


@strawberry.type
class PaymentEdge:
    node: Payment


@strawberry.type
class OrderEdge:
    node: Order


@strawberry.type
class CreditEdge:
    node: CreditRow


@strawberry.type
class Rows:
    edges: list[RowEdge]
    page_info: PageInfo


@strawberry.type
class Payments:
    edges: list[PaymentEdge]
    page_info: PageInfo


@strawberry.type
class Orders:
    edges: list[OrderEdge]
    page_info: PageInfo


@strawberry.type
class CreditRows:
    edges: list[CreditEdge]
    page_info: PageInfo


def _payments(count: int) -> list[Payment]:
    now = datetime.now(UTC)
    payments = []
    for n in range(count):
        payment = Payment(
            id=strawberry.ID(f"pay_{n}"),
            status=Status.SUCCEEDED,
            amount=Amount(amount="25.00", currency="usd"),
            card=Card(brand="visa", last4="4242"),
            order=None,
            created_at=now,
        )
        payment.order = Order(
            id=strawberry.ID(f"ord_{n}"),
            reference=f"ref-{n}",
            status=Status.PAID,
            amount=payment.amount,
            payments=[payment],
        )
        payments.append(payment)
    return payments


PAYMENTS = _payments(50)


@strawberry.type
class Wallet:
    @strawberry.field
    def transactions(self, first: int) -> Rows:
        edges = [
            RowEdge(node=Row(kind=Kind.TOP_UP, amount=p.amount, balance_after=p.amount, payment=p))
            for p in PAYMENTS[:first]
        ]
        return Rows(edges=edges, page_info=PageInfo(has_next_page=True, end_cursor="c"))


@strawberry.type
class Credits:
    balance: int

    @strawberry.field
    def transactions(self, first: int) -> CreditRows:
        now = datetime.now(UTC)
        edges = [
            CreditEdge(
                node=CreditRow(
                    id=strawberry.ID(f"ctx_{n}"),
                    kind=Kind.CONSUME,
                    credits=-10,
                    balance_after=1000,
                    created_at=now,
                    payment=p,
                )
            )
            for n, p in enumerate(PAYMENTS[:first])
        ]
        return CreditRows(edges=edges, page_info=PageInfo(has_next_page=True, end_cursor="c"))


@strawberry.type
class Organization:
    @strawberry.field
    def wallet(self, currency: str) -> Wallet:
        return Wallet()

    @strawberry.field
    def payments(self, first: int) -> Payments:
        edges = [PaymentEdge(node=p) for p in PAYMENTS[:first]]
        return Payments(edges=edges, page_info=PageInfo(has_next_page=True, end_cursor="c"))

    @strawberry.field
    def orders(self, first: int) -> Orders:
        edges = [OrderEdge(node=p.order) for p in PAYMENTS[:first] if p.order]
        return Orders(edges=edges, page_info=PageInfo(has_next_page=True, end_cursor="c"))

    @strawberry.field
    def credits(self) -> Credits:
        return Credits(balance=1000)


@strawberry.type
class SameShape:
    @strawberry.field
    def organization(self, id: strawberry.ID) -> Organization:
        return Organization()


def ceiling_app(name: str) -> GraphQL[None, None]:
    query = Hello if name == "hello" else SameShape
    schema = strawberry.Schema(query=query, extensions=[ParserCache, ValidationCache])
    return GraphQL(schema, graphql_ide=None)


def serve_ceiling(name: str, port: int) -> None:
    uvicorn.run(ceiling_app(name), host=HOST, port=port, log_level="warning", access_log=False)


# -- kassa's data ----------------------------------------------------------------------------


async def seed(database_url: str) -> None:
    """The organization the token names, with ROWS of everything the queries list."""
    from tortoise import Tortoise
    from tortoise.transactions import in_transaction

    from kassa import models
    from kassa.db import tortoise_config
    from kassa.services import credit_lots, ledger, organizations

    await Tortoise.init(config=tortoise_config(database_url))
    try:
        organization = await organizations.provision(ORGANIZATION)
        wallet = ledger.wallet_account(organization.id, "usd")
        clearing = ledger.stripe_clearing_account("usd")
        credits = credit_lots.credits_account(organization.id)
        async with in_transaction() as conn:
            for n in range(ROWS):
                payment = await _payment(conn, organization, models.PaymentPurpose.WALLET_TOP_UP)
                await ledger.post_transfer(
                    conn,
                    ledger.Transfer(
                        clearing,
                        wallet,
                        2500,
                        models.TransferKind.TOP_UP,
                        f"bench:top-up:{n}",
                        payment.id,
                    ),
                )
            for n in range(LOTS):
                payment = await _payment(conn, organization, models.PaymentPurpose.CREDIT_PACKAGE)
                await models.CreditLot.create(
                    organization=organization,
                    payment=payment,
                    credits=1000,
                    remaining=1000,
                    expires_at=datetime.now(UTC) + timedelta(days=365),
                    using_db=conn,
                )
                await ledger.post_transfer(
                    conn,
                    ledger.Transfer(
                        credit_lots.CREDITS_ISSUED,
                        credits,
                        1000,
                        models.TransferKind.PURCHASE,
                        f"bench:lot:{n}",
                        payment.id,
                    ),
                )
            for n in range(ROWS - LOTS):
                await ledger.post_transfer(
                    conn,
                    ledger.Transfer(
                        credits,
                        credit_lots.CREDITS_CONSUMED,
                        10,
                        models.TransferKind.CONSUME,
                        f"bench:consume:{n}",
                        reason="bench",
                    ),
                )
            for n in range(ROWS):
                order = await models.Order.create(
                    organization=organization,
                    reference=f"bench-{n}",
                    amount=4900,
                    currency="usd",
                    status=models.OrderStatus.PAID,
                    using_db=conn,
                )
                await _payment(conn, organization, models.PaymentPurpose.ORDER, order)
    finally:
        await Tortoise.close_connections()


async def _payment(conn: Any, organization: Any, purpose: Any, order: Any = None) -> Any:
    from kassa import models

    return await models.Payment.create(
        organization=organization,
        purpose=purpose,
        order=order,
        status=models.PaymentStatus.SUCCEEDED,
        amount=2500,
        currency="usd",
        stripe_payment_intent_id=f"pi_bench_{uuid.uuid4().hex}",
        card_brand="visa",
        card_last4="4242",
        card_exp_month=12,
        card_exp_year=2030,
        paid_at=datetime.now(UTC),
        using_db=conn,
    )


# -- load ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    failed: int  # answers that were not 2xx, or broken connections
    cpu_ms: float  # the server process's CPU time per request: steady on a busy machine


LUA = """
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
{auth}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d\\n", summary.requests, summary.duration,
    e.status + e.connect + e.read + e.write,
    latency:percentile(50), latency:percentile(99)))
end
"""


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        print("installing wrk with apt-get …", flush=True)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)
        found = shutil.which("wrk")
    if found is None:
        raise BenchError("wrk is missing and apt-get could not install it")
    return found


def drive(wrk: str, server: Server, body: str, connections: int, seconds: int, work: Path) -> Load:
    url, token = server.url, server.token
    script = work / f"wrk-{secrets.token_hex(4)}.lua"
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    script.write_text(LUA.format(body=body, auth=auth))
    threads = min(connections, 2)
    # A long timeout: on a busy machine a slow answer is measured, not dropped.
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        url,
    ]
    before = server.process.cpu_times()
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    after = server.process.cpu_times()
    found = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+)", out)
    if found is None:
        raise BenchError(f"wrk printed no result:\n{out}")
    requests, duration_us, failed, p50, p99 = (int(v) for v in found.groups())
    cpu = (after.user + after.system) - (before.user + before.system)
    return Load(
        requests / (duration_us / 1e6),
        p50 / 1000,
        p99 / 1000,
        failed,
        cpu * 1000 / max(requests, 1),
    )


def body_of(query: str, organization_id: str | None) -> str:
    variables = {"org": organization_id} if organization_id else {}
    return json.dumps({"query": query, "variables": variables})


# -- SQL statements and profiles, in this process ---------------------------------------------


class Statements:
    """Counts the statements asyncpg sends while installed (the whole process)."""

    METHODS = ("execute", "executemany", "fetch", "fetchrow", "fetchval")

    def __init__(self) -> None:
        self.count = 0
        self._saved: dict[str, Callable[..., Any]] = {}

    @contextlib.contextmanager
    def counting(self) -> Iterator[Statements]:
        for name in self.METHODS:
            original = self._saved[name] = getattr(asyncpg.Connection, name)
            setattr(asyncpg.Connection, name, self._counted(original))
        try:
            yield self
        finally:
            for name, original in self._saved.items():
                setattr(asyncpg.Connection, name, original)

    def _counted(self, original: Callable[..., Any]) -> Callable[..., Any]:
        async def counted(connection: Any, query: str, *args: Any, **kwargs: Any) -> Any:
            # asyncpg's reset of a connection going back to its pool is not kassa's own.
            self.count += not query.startswith("SELECT pg_advisory_unlock_all()")
            return await original(connection, query, *args, **kwargs)

        return counted


@dataclass(frozen=True, slots=True)
class InProcess:
    base_url: str
    app: Any


@contextlib.asynccontextmanager
async def kassa_in_process(env: dict[str, str], database_url: str) -> AsyncIterator[InProcess]:
    from kassa.app import create_app
    from kassa.config import Settings

    os.environ.update(env)
    app = create_app(Settings(), database_url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.02)
    try:
        yield InProcess(f"http://{HOST}:{sock.getsockname()[1]}", app)
    finally:
        server.should_exit = True
        await serving
        sock.close()


async def statements_per_request(base_url: str, token: str, organization_id: str) -> dict[str, int]:
    counted: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as client:
        for name, query in {"{ __typename }": "{ __typename }", **LISTS}.items():
            body = json.loads(body_of(query, organization_id))
            await client.post("/graphql", json=body)  # warm: the first request of a kind
            with Statements().counting() as statements:
                await client.post("/graphql", json=body)
            counted[name] = statements.count
    return counted


async def cpu_per_request(app: Any, token: str, organization_id: str, name: str) -> None:
    """kassa's own CPU per request: its ASGI app called directly in this process, no
    sockets and no client, 5 rounds; for comparing two versions of kassa on a machine too
    busy for wall-clock numbers."""
    query = LISTS.get(name, "{ __typename }")
    body = body_of(query, organization_id if name in LISTS else None).encode()
    count = 300 if name in LISTS else 2000
    for _ in range(50):
        await _asgi_post(app, body, token)
    rounds = []
    for _ in range(5):
        started = time.process_time()
        for _ in range(count):
            await _asgi_post(app, body, token)
        rounds.append((time.process_time() - started) * 1000 / count)
    rounds.sort()
    print(f"{name}: server CPU per request min {rounds[0]:.3f} ms, median {rounds[2]:.3f} ms")


async def _asgi_post(app: Any, body: bytes, token: str) -> None:
    headers = [
        (b"host", HOST.encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"authorization", f"Bearer {token}".encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": (HOST, 1),
        "server": (HOST, 80),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    answer = bytearray()

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client never leaves
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise BenchError(f"kassa answered {message['status']}")
        answer.extend(message.get("body", b""))

    await app(scope, receive, send)
    if b'"errors"' in answer:
        raise BenchError(f"kassa answered {bytes(answer[:300])!r}")


async def profile(base_url: str, token: str, organization_id: str, name: str) -> None:
    query = LISTS.get(name, "{ __typename }")
    body = json.loads(body_of(query, organization_id))
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as client:
        for _ in range(20):
            await client.post("/graphql", json=body)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(200):
            await client.post("/graphql", json=body)
        profiler.disable()
    profiler.dump_stats(LOG_DIR / "graphql.prof")
    print(f"profile of 200 requests (server and client) in {LOG_DIR / 'graphql.prof'}")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(30)


# -- the run ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    url: str
    token: str | None
    process: psutil.Process


async def wait_ready(url: str, child: Any) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if child.process.poll() is not None:
                raise BenchError(f"{child.name} exited; see {child.log_path}")
            with contextlib.suppress(httpx.HTTPError):
                answer = await client.post(url, json={"query": "{ __typename }"})
                if answer.status_code < 500:
                    return
            await asyncio.sleep(0.2)
    raise BenchError(f"{child.name} was not ready within {READY_TIMEOUT:.0f} s")


async def check(url: str, token: str | None, body: str) -> bool:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(timeout=10.0) as client:
        answer = await client.post(url, content=body, headers=headers)
    fine = answer.status_code == 200 and "errors" not in answer.json()
    if not fine:
        print(f"  {url} answered {answer.status_code}: {answer.text[:300]}")
    return fine


async def organization_of(url: str, token: str) -> str:
    async with httpx.AsyncClient(timeout=10.0) as client:
        answer = await client.post(
            url,
            json={"query": "{ viewer { organizations { organization { id } } } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
    found: str = answer.json()["data"]["viewer"]["organizations"][0]["organization"]["id"]
    return found


def row(name: str, connections: int, load: Load, ratio: float | None, goal: str = "") -> str:
    shown = f"{ratio:6.2f}" if ratio is not None else "      "
    failed = f" FAILED {load.failed}" if load.failed else ""
    return (
        f"{name:40} {connections:5} {load.requests_per_second:7.0f} {load.p50_ms:7.1f} "
        f"{load.p99_ms:7.1f} {load.cpu_ms:7.2f} {shown}  {goal}{failed}"
    )


def measure(
    wrk: str, servers: dict[str, Server], organization_id: str, seconds: int, work: Path
) -> bool:
    hello, shape, kassa = servers["hello"], servers["same-shape"], servers["kassa"]
    print(
        f"{'query':40} {'conns':>5} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU ms':>7} "
        f"{'ratio':>6}  (ratio of req/s)"
    )
    fine = True
    for connections in CONNECTIONS:
        floor = drive(wrk, hello, body_of("{ hello }", None), connections, seconds, work)
        print(row("hello (plain strawberry)", connections, floor, None))
        typename = drive(wrk, kassa, body_of("{ __typename }", None), connections, seconds, work)
        ratio = typename.requests_per_second / floor.requests_per_second
        print(row("kassa { __typename } / hello", connections, typename, ratio, _goal(ratio, 0.7)))
        fine &= not typename.failed
        for name, query in LISTS.items():
            ceiling = drive(wrk, shape, body_of(query, organization_id), connections, seconds, work)
            print(row(f"{name} same-shape ceiling", connections, ceiling, None))
            load = drive(wrk, kassa, body_of(query, organization_id), connections, seconds, work)
            ratio = load.requests_per_second / ceiling.requests_per_second
            goal = _goal(ratio, 0.5) if name in ("wallet-50", "payments-50") else ""
            if name == "wallet-50" and connections == 8:
                goal += f" p99 {'<' if load.p99_ms < 50 else '>='} 50 ms"
            print(row(f"kassa {name} / ceiling", connections, load, ratio, goal))
            fine &= not load.failed
    return fine


def _goal(ratio: float, goal: float) -> str:
    return f"goal >= {goal}: {'met' if ratio >= goal else 'NOT met'}"


async def run(
    server_url: str, work: Path, seconds: int, profile_name: str | None, cpu_only: bool
) -> int:
    database_url = with_database(server_url, "kassa_bench_graphql")
    await ensure_database(database_url)
    await apply_migrations(database_url)
    await seed(database_url)
    env = kassa_env(database_url, free_port(), "whsec_" + secrets.token_hex(16), work / "data")
    env["KASSA_ENV"] = "production"
    token = issue_dev_token(
        secret=env["KASSA_JWT_SECRET"],
        issuer="kassa",
        audience="kassa",
        org_id=ORGANIZATION,
        role=OrgRole.OWNER,
        subject="bench",
        platform_admin=False,
        now=int(time.time()),
    )
    if profile_name is not None:
        async with kassa_in_process(env, database_url) as kassa:
            organization_id = await organization_of(f"{kassa.base_url}/graphql", token)
            if cpu_only:
                await cpu_per_request(kassa.app, token, organization_id, profile_name)
            else:
                await profile(kassa.base_url, token, organization_id, profile_name)
        return 0
    ports = {"hello": free_port(), "same-shape": free_port()}
    children = [
        start_child(name, [sys.executable, __file__, "--serve", name, str(port)], env, Path.cwd())
        for name, port in ports.items()
    ]
    children.append(start_child("kassa", [sys.executable, "-m", "kassa.cli", "serve"], env, work))
    try:
        processes = {child.name: psutil.Process(child.process.pid) for child in children}
        servers = {
            name: Server(name, f"http://{HOST}:{port}/graphql", None, processes[name])
            for name, port in ports.items()
        }
        servers["kassa"] = Server(
            "kassa", f"http://{HOST}:{env['KASSA_PORT']}/graphql", token, processes["kassa"]
        )
        for child in children:
            await wait_ready(servers[child.name].url, child)
        organization_id = await organization_of(servers["kassa"].url, token)
        fine = True
        for query in LISTS.values():
            body = body_of(query, organization_id)
            for server in (servers["same-shape"], servers["kassa"]):
                fine &= await check(server.url, server.token, body)
        fine &= measure(ensure_wrk(), servers, organization_id, seconds, work)
    finally:
        stop_children(children)
    async with kassa_in_process(env, database_url) as kassa:
        counted = await statements_per_request(kassa.base_url, token, organization_id)
    print(
        "\nSQL statements per request (kassa, counted in-process): "
        + ", ".join(f"{name} {count}" for name, count in counted.items())
    )
    return 0 if fine else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=8, help="per measurement (default 8)")
    parser.add_argument("--profile", choices=["typename", *LISTS], help="cProfile one query")
    parser.add_argument(
        "--cpu", action="store_true", help="with --profile: CPU ms per request instead"
    )
    parser.add_argument("--serve", nargs=2, metavar=("APP", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_ceiling(args.serve[0], int(args.serve[1]))
        return 0
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="kassa-bench-graphql-"))
    try:
        with embedded_postgres(work) as server_url:
            try:
                return asyncio.run(run(server_url, work, args.seconds, args.profile, args.cpu))
            except BenchError as exc:
                print(f"bench: {exc}", file=sys.stderr)
                return 2
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
