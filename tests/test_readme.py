"""README as a tested artifact: every GraphQL block is a named operation valid against the
schema that says why it was refused; the test cards do what the table says; and "Trying
it by hand" works as written, pasted in order, against a live `kassa demo`."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphql
import httpx
import jwt
import pytest

from kassa.demo.local_stripe import SECRET_KEY
from tests.support import JSON, Kassa, Member

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SCHEMA = graphql.build_schema((ROOT / "schema.graphql").read_text())
WALK_THROUGH = "## Trying it by hand"
BLOCK = re.compile(r"^ *```(\w*)\n(.*?)^ *```", re.MULTILINE | re.DOTALL)
PLACEHOLDER = re.compile(r"\b(org|pay|ord|card|seti|cs|evt)_…")
ID = re.compile(r"^(org|pay|ord|card|seti|cs|evt)_(?:test_)?[A-Za-z0-9]+$")
BANNER_STRIPE = re.compile(r"local Stripe-compatible server at (http://[\d.:]+)")
BANNER_TOKEN = re.compile(r"Bearer ([\w.-]+)")
# Where the README's own banner puts the local Stripe server, replaced by the real one.
README_STRIPE = "http://127.0.0.1:40123"
WALK_SECONDS = 60


@dataclass(frozen=True)
class Block:
    language: str
    text: str
    line: int
    # The prose before it tells the reader to give Stripe's webhook a second.
    waits: bool = False


def _blocks(section: str | None = None) -> list[Block]:
    text = README.read_text()
    start, end = 0, len(text)
    if section is not None:
        start = text.index(section)
        following = text.find("\n## ", start + len(section))
        end = following if following != -1 else end
    blocks, prose_from = [], start
    for match in BLOCK.finditer(text, start, end):
        line = text.count("\n", 0, match.start()) + 1
        waits = "a second later" in text[prose_from : match.start()]
        blocks.append(Block(match.group(1), match.group(2), line, waits))
        prose_from = match.end()
    return blocks


# --- every block ---------------------------------------------------------------------------


def _error_selected(selection_set: graphql.SelectionSetNode | None) -> bool:
    for selection in selection_set.selections if selection_set else ():
        if not isinstance(selection, graphql.InlineFragmentNode):
            continue
        condition = selection.type_condition.name.value if selection.type_condition else None
        fields = {
            item.name.value
            for item in selection.selection_set.selections
            if isinstance(item, graphql.FieldNode)
        }
        if condition == "Error" and {"code", "message", "field"} <= fields:
            return True
    return False


def _has_user_error(named: graphql.GraphQLNamedType | None) -> bool:
    if not isinstance(named, graphql.GraphQLUnionType):
        return False
    return "UserError" in {member.name for member in named.types}


def _fields_missing_errors(document: graphql.DocumentNode) -> list[str]:
    """Fields answering a union with UserError that do not select `... on Error`."""
    info = graphql.TypeInfo(SCHEMA)
    missing: list[str] = []

    class Visitor(graphql.Visitor):
        def enter_field(self, node: graphql.FieldNode, *_: object) -> None:
            named = graphql.get_named_type(info.get_type())
            if _has_user_error(named) and not _error_selected(node.selection_set):
                missing.append(node.name.value)

    graphql.visit(document, graphql.TypeInfoVisitor(info, Visitor()))
    return missing


@pytest.mark.parametrize(
    "block",
    [block for block in _blocks() if block.language == "graphql"],
    ids=lambda block: f"line-{block.line}",
)
def test_a_graphql_block_is_one_named_valid_operation_that_selects_errors(block: Block) -> None:
    document = graphql.parse(block.text)

    operations = [
        node for node in document.definitions if isinstance(node, graphql.OperationDefinitionNode)
    ]
    assert len(operations) == 1, f"README line {block.line}: one operation per block"
    assert operations[0].name is not None, f"README line {block.line}: name the operation"
    assert graphql.validate(SCHEMA, document) == [], f"README line {block.line}"
    assert _fields_missing_errors(document) == [], (
        f"README line {block.line}: select ... on Error {{ code message field }}"
    )


def test_the_readme_has_graphql_blocks_and_a_walk_through() -> None:
    assert len([b for b in _blocks() if b.language == "graphql"]) >= 20
    assert len(_blocks(WALK_THROUGH)) >= 15


# --- the test-card table -------------------------------------------------------------------


@dataclass(frozen=True)
class CardRow:
    name: str
    payment_method: str | None
    number: str
    paying: str
    saving: str


def _test_cards() -> list[CardRow]:
    text = README.read_text()
    table = text[text.index("| card | id | number |") :].split("\n\n", 1)[0]
    cards = []
    for row in table.splitlines()[2:]:
        name, method, number, paying, saving = (cell.strip() for cell in row.strip("|").split("|"))
        cards.append(
            CardRow(
                name,
                method.strip("`") if method.startswith("`") else None,
                number.replace(" ", ""),
                paying,
                saving,
            )
        )
    return cards


TOP_UP = """
mutation TopUp($org: ID!, $card: ID!) {
  topUpWallet(input: {organizationId: $org, amount: "3.00", currency: "usd",
                      paymentMethodId: $card}) {
    ... on PaymentIntentCreated { payment { id status failureCode } }
    ... on Error { code message field }
  }
}
"""
SETUP = """
mutation Setup($org: ID!) {
  createSetupIntent(input: {organizationId: $org}) {
    ... on SetupIntentCreated { setupIntentId }
    ... on Error { code message field }
  }
}
"""
LATEST = """
query Latest($org: ID!) {
  organization(id: $org) { payments(first: 1) { edges { node { status failureCode } } } }
}
"""


async def _pay(kassa: Kassa, member: Member, payment_method: str) -> str:
    """The payment's status and failure code as the table words them."""
    variables = {"org": member.organization_id, "card": payment_method}
    await kassa.gql(TOP_UP, variables, member.token)
    body = await kassa.gql(LATEST, {"org": member.organization_id}, member.token)
    node = body["data"]["organization"]["payments"]["edges"][0]["node"]
    if node["failureCode"]:
        return f"`{node['status']}`, `failureCode` `{node['failureCode']}`"
    return f"`{node['status']}`"


async def _save(kassa: Kassa, member: Member, payment_method: str) -> str:
    body = await kassa.gql(SETUP, {"org": member.organization_id}, member.token)
    intent_id = body["data"]["createSetupIntent"]["setupIntentId"]
    response = await kassa.http.post(
        f"{kassa.settings.stripe_api_base}/v1/setup_intents/{intent_id}/confirm",
        data={"payment_method": payment_method},
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
    )
    answer: JSON = response.json()
    if response.status_code != 200:
        return f"`{answer['error']['code']}`"
    return "saved" if answer["status"] == "succeeded" else f"`{answer['status']}`"


@pytest.mark.parametrize("card", _test_cards(), ids=lambda card: card.name)
async def test_a_test_card_does_what_the_readme_table_says(kassa: Kassa, card: CardRow) -> None:
    member = await kassa.member()
    typed = await kassa.stripe.v1.payment_methods.create_async(
        {
            "type": "card",
            "card": {"number": card.number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )

    assert await _pay(kassa, member, typed.id) == card.paying
    assert await _save(kassa, await kassa.member(), typed.id) == card.saving
    if card.payment_method is not None:
        assert await _pay(kassa, await kassa.member(), card.payment_method) == card.paying


# --- "Trying it by hand" against a live demo ------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Demo:
    """`kassa demo` as a person runs it: its own port and data dir, output read as printed."""

    data_dir: Path
    port: int
    deadline: float
    process: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)
    token: str = ""
    stripe_base: str = ""

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "KASSA_"))}
        env.pop("DATABASE_URL", None)
        return env | {"KASSA_DATA_DIR": str(self.data_dir), "KASSA_PORT": str(self.port)}

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kassa.cli", "demo"],
            env=self.env,
            cwd=self.data_dir.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        while not self.token:
            line = self.process.stdout.readline()
            self.output.append(line)
            if (not line and self.process.poll() is not None) or time.monotonic() > self.deadline:
                raise AssertionError("kassa demo did not start:\n" + "".join(self.output))
            if match := BANNER_STRIPE.search(line):
                self.stripe_base = match.group(1)
            if match := BANNER_TOKEN.search(line):
                self.token = match.group(1)

    def stop(self) -> None:
        """Ctrl+C, as a person stops it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        assert self.process.stdout is not None
        self.output.append(self.process.stdout.read())
        self.process.stdout.close()
        self.process, self.token = None, ""


@pytest.fixture
def demo() -> Iterator[Demo]:
    # Not under pytest's own temporary root: another pytest starting meanwhile makes that
    # private to root again, and the embedded PostgreSQL runs as a user of its own.
    with tempfile.TemporaryDirectory(prefix="kassa-walk-") as directory:
        running = Demo(Path(directory) / ".kassa", _free_port(), time.monotonic() + WALK_SECONDS)
        try:
            running.start()
            yield running
        finally:
            running.stop()


def _refusals(answer: Any) -> list[Any]:
    """The `Error`s (code and message) anywhere in an answer."""
    if isinstance(answer, dict):
        own = [answer] if {"code", "message"} <= answer.keys() else []
        return own + [found for value in answer.values() for found in _refusals(value)]
    if isinstance(answer, list):
        return [found for value in answer for found in _refusals(value)]
    return []


@dataclass
class Person:
    """Pastes each block, replacing `org_…` and the like by the id the last answers gave."""

    demo: Demo
    client: httpx.Client
    ids: dict[str, str] = field(default_factory=dict)
    answers: dict[str, JSON] = field(default_factory=dict)

    def fill_in(self, text: str) -> str:
        def known(match: re.Match[str]) -> str:
            assert match.group(1) in self.ids, f"no {match.group(0)} in any answer yet"
            return self.ids[match.group(1)]

        return PLACEHOLDER.sub(known, text).replace(README_STRIPE, self.demo.stripe_base)

    def remember(self, answer: Any) -> None:
        if isinstance(answer, dict):
            for value in answer.values():
                self.remember(value)
        elif isinstance(answer, list):
            for value in answer:
                self.remember(value)
        elif isinstance(answer, str) and (match := ID.match(answer)):
            self.ids[match.group(1)] = answer

    def run(self, block: Block) -> None:
        if block.language == "graphql":
            self.graphql(block)
        elif block.language == "sh":
            for line in block.text.splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    self.command(self.fill_in(line.strip()), block)

    def graphql(self, block: Block) -> None:
        document = self.fill_in(block.text)
        name = graphql.get_operation_ast(graphql.parse(document))
        assert name is not None and name.name is not None
        while True:
            response = self.client.post("/graphql", json={"query": document})
            assert response.status_code == 200, (block.line, response.text)
            answer: JSON = response.json()
            assert "errors" not in answer, (block.line, answer)
            # Told to give Stripe's webhook a second, a person runs the query again while
            # what it arrives with is not there yet.
            waiting = block.waits and "[]" in response.text
            if not waiting or time.monotonic() > self.demo.deadline:
                break
            time.sleep(0.3)
        assert not _refusals(answer["data"]), (block.line, answer)
        self.answers[name.name.value] = answer["data"]
        self.remember(answer["data"])

    def command(self, line: str, block: Block) -> None:
        words = shlex.split(line)
        if words[0] in ("kassa", ".venv/bin/kassa"):
            words = [sys.executable, "-m", "kassa.cli", *words[1:]]
        result = subprocess.run(
            words,
            env=self.demo.env,
            cwd=self.demo.data_dir.parent,
            capture_output=True,
            text=True,
            timeout=max(1.0, self.demo.deadline - time.monotonic()),
            check=False,
        )
        assert result.returncode == 0, (block.line, line, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, (block.line, line, result.stderr)
        if words[0] == "curl":
            assert '"status": "succeeded"' in result.stdout, (block.line, result.stdout)
        self.answers[line] = {"stdout": result.stdout, "stderr": result.stderr}


def test_trying_it_by_hand_works_as_written_against_a_live_demo(demo: Demo) -> None:
    with httpx.Client(
        base_url=f"http://127.0.0.1:{demo.port}",
        headers={"Authorization": f"Bearer {demo.token}"},
        timeout=20,
    ) as client:
        person = Person(demo, client)

        # when: every block of the walk-through, in order
        for block in _blocks(WALK_THROUGH):
            if block.language in ("graphql", "sh"):
                person.run(block)

        # then: the answers say what the text says
        answers = person.answers
        first = answers["TopUp"]["topUpWallet"]["payment"]
        assert first["status"] == "SUCCEEDED"
        assert answers["Order"]["order"]["status"] == "PAID"
        assert answers["Refund"]["refundPayment"]["payment"]["amountRefunded"]["amount"] == "20.00"
        cards = answers["Cards"]["organization"]["paymentMethods"]
        assert [(card["card"]["last4"], card["isDefault"]) for card in cards] == [("4242", True)]
        saved = answers["TopUpWithSavedCard"]["topUpWallet"]["payment"]
        assert (saved["status"], saved["card"]["last4"]) == ("SUCCEEDED", "4242")
        assert answers["ConsumeCredits"]["consumeCredits"]["balance"] == 300
        token_line = next(line for line in answers if "kassa token" in line)
        member_token = answers[token_line]["stdout"].strip()
        claims = jwt.decode(member_token, options={"verify_signature": False})
        assert (claims["org_id"], claims["email"]) == ("demo", "ada@example.com")
        assert 'existing organization "demo"' in answers[token_line]["stderr"]
        events_line = next(line for line in answers if "events list" in line)
        assert "payment_method.attached  PROCESSED" in answers[events_line]["stdout"]
        stripe_base, first_top_up = demo.stripe_base, first["id"]

    # when: Ctrl+C and `make run` again
    demo.stop()
    demo.start()

    # then: the local Stripe server kept its port and its objects
    assert demo.stripe_base == stripe_base
    with httpx.Client(
        base_url=f"http://127.0.0.1:{demo.port}",
        headers={"Authorization": f"Bearer {demo.token}"},
        timeout=20,
    ) as client:
        person = Person(demo, client, ids=person.ids)
        person.run(next(b for b in _blocks(WALK_THROUGH) if "mutation TopUp {" in b.text))
        assert person.answers["TopUp"]["topUpWallet"]["payment"]["id"] == first_top_up
        refund = client.post(
            "/graphql",
            json={
                "query": "mutation RefundOld($id: ID!) { refundPayment(input: "
                '{paymentId: $id, amount: "1.00"}) { ... on RefundCreated { refund { status } } '
                "... on Error { code message field } } }",
                "variables": {"id": first_top_up},
            },
        ).json()
        assert refund["data"]["refundPayment"] == {"refund": {"status": "SUCCEEDED"}}, refund
    assert time.monotonic() < demo.deadline, "the walk-through took longer than it may"
