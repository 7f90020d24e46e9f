"""Invoice PDFs: what they show (read back with pypdf), who may download them, and the
signed link in receipt mails (through a real SMTP server)."""

from __future__ import annotations

import io
import re
import time
import uuid
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from kassa.ids import IdKind, encode
from kassa.models import CreditPackage
from kassa.services import api_keys, invoice_links, pay_links
from kassa.services.identity import OrgRole
from tests.e2e.test_credits import _buy
from tests.support import JSON, VISA, Inbox, Kassa, Member

PAYMENT_INVOICE = """
query($id: ID!) {
  payment(id: $id) {
    invoice { id number status total { amount currency } pdfUrl createdAt payment { id } }
  }
}
"""
SELLER = "Kassa Test 有限公司"


async def _invoice(kassa: Kassa, member: Member, payment_id: str) -> JSON:
    body = await kassa.gql(PAYMENT_INVOICE, {"id": payment_id}, member.token)
    invoice: JSON = body["data"]["payment"]["invoice"]
    return invoice


async def _get(kassa: Kassa, path: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await kassa.http.get(path, headers=headers)


def _text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)


async def _paid_top_up(kassa: Kassa, member: Member, amount: str, currency: str) -> JSON:
    paid = await kassa.top_up(member, amount, currency, paymentMethodId="pm_card_visa")
    assert paid["payment"]["status"] == "SUCCEEDED", paid
    return await _invoice(kassa, member, paid["payment"]["id"])


async def _paid_chinese_package(kassa: Kassa, member: Member) -> JSON:
    code = f"tiyan-{uuid.uuid4().hex[:8]}"
    await CreditPackage.create(code=code, name="体验包", credits=1000, price=9900, currency="cny")
    bought = await _buy(kassa, member, code)
    await kassa.confirm_with_card(bought["payment"]["stripePaymentIntentId"], VISA)
    paid = await kassa.wait_for_status(member, bought["payment"]["id"], "SUCCEEDED")
    assert paid["status"] == "SUCCEEDED"
    return await _invoice(kassa, member, paid["id"])


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("1234.56", "usd", "1,234.56 USD"),
        ("98000", "jpy", "98,000 JPY"),
        ("12.340", "kwd", "12.340 KWD"),
    ],
)
async def test_pdf_shows_number_amount_seller_and_buyer(
    kassa: Kassa, amount: str, currency: str, shown: str
) -> None:
    # given
    member = await kassa.member()
    invoice = await _paid_top_up(kassa, member, amount, currency)

    # when
    text = _text(await _get(kassa, invoice["pdfUrl"], member.token))

    # then
    assert invoice["number"].endswith("-000001")
    assert invoice["status"] == "paid"
    assert invoice["total"] == {"amount": amount, "currency": currency}
    assert invoice["number"] in text
    assert f"Wallet top-up ({currency.upper()})" in text
    assert f"Total {shown}" in text
    assert f"Paid in full by visa ending 4242: {shown}" in text
    assert SELLER in text and "CHE-123.456.789" in text
    assert member.external_id in text  # the buyer: the organization, by its name


async def test_pdf_of_a_chinese_package_holds_its_name_as_text(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    invoice = await _paid_chinese_package(kassa, member)

    # when
    response = await _get(kassa, invoice["pdfUrl"], member.token)

    # then: the name is text, set in the embedded font (so drawn by it, in any viewer)
    text = _text(response)
    assert "体验包" in text and "1,000 credits" in text
    assert "Total 99.00 CNY" in text and invoice["number"] in text
    page: Any = PdfReader(io.BytesIO(response.content)).pages[0]
    fonts = page["/Resources"]["/Font"]
    embedded = [
        font.get_object()["/DescendantFonts"][0].get_object()["/FontDescriptor"]
        for font in fonts.values()
    ]
    assert all("/FontFile2" in descriptor for descriptor in embedded)


async def test_the_same_invoice_renders_to_the_same_bytes(kassa: Kassa) -> None:
    member = await kassa.member()
    invoice = await _paid_top_up(kassa, member, "5.00", "usd")

    first = await _get(kassa, invoice["pdfUrl"], member.token)
    second = await _get(kassa, invoice["pdfUrl"], member.token)

    assert first.content == second.content


async def test_members_token_and_api_key_may_download_others_may_not(kassa: Kassa) -> None:
    # given
    member, stranger = await kassa.member(), await kassa.member()
    invoice = await _paid_top_up(kassa, member, "5.00", "usd")
    key = await api_keys.create(member.external_id, "accounting", OrgRole.MEMBER)
    stranger_key = await api_keys.create(stranger.external_id, "accounting", OrgRole.MEMBER)
    path = invoice["pdfUrl"]

    # when / then
    assert invoice["number"] in _text(await _get(kassa, path, member.token))
    assert invoice["number"] in _text(await _get(kassa, path, key.secret))
    assert (await _get(kassa, path, stranger.token)).status_code == 404
    assert (await _get(kassa, path, stranger_key.secret)).status_code == 404
    assert (await _get(kassa, path)).status_code == 401
    assert (await _get(kassa, path, "not-a-token")).status_code == 401
    assert (await kassa.http.get(path, headers={"Authorization": "Basic eDp5"})).status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/invoices/nothing.pdf",
        "/invoices/inv_.pdf",
        "/invoices/inv_zz.pdf",
        f"/invoices/inv_{'g' * 32}.pdf",
        f"/invoices/{encode(IdKind.INVOICE, uuid.uuid4())}.pdf",
        f"/invoices/{encode(IdKind.PAYMENT, uuid.uuid4())}.pdf",
        "/invoices/inv_%00%00.pdf",
        "/invoices/%F0%9F%92%B8.pdf",
        f"/invoices/inv_{'a' * 5000}.pdf",
        "/invoices/.pdf.pdf",
    ],
)
async def test_odd_ids_are_not_found(kassa: Kassa, path: str) -> None:
    member = await kassa.member()

    response = await _get(kassa, path, member.token)

    assert response.status_code == 404, response.text


def _key(kassa: Kassa) -> bytes:
    key = invoice_links.signing_key(kassa.settings)
    assert key is not None
    return key


async def test_a_signed_link_works_without_a_token_until_it_expires(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    invoice = await _paid_top_up(kassa, member, "5.00", "usd")
    invoice_id = uuid.UUID(invoice["id"].removeprefix("inv_"))
    good = invoice_links.signed_path(_key(kassa), invoice_id, int(time.time()) + 600)
    expired = invoice_links.signed_path(_key(kassa), invoice_id, int(time.time()) - 1)

    # when / then
    assert invoice["number"] in _text(await _get(kassa, good))
    assert (await _get(kassa, expired)).status_code == 410


def _with(path: str, **query: str) -> str:
    base, _, _ = path.partition("?")
    return f"{base}?{'&'.join(f'{name}={value}' for name, value in query.items())}"


async def test_tampered_or_odd_links_are_not_found(kassa: Kassa) -> None:
    # given: a good link to A's invoice, and B's invoice
    a, b = await kassa.member(), await kassa.member()
    invoice = await _paid_top_up(kassa, a, "5.00", "usd")
    other = await _paid_top_up(kassa, b, "6.00", "usd")
    invoice_id = uuid.UUID(invoice["id"].removeprefix("inv_"))
    expires = int(time.time()) + 600
    good = invoice_links.signed_path(_key(kassa), invoice_id, expires)
    signature = good.rpartition("signature=")[2]
    pay_key = pay_links.signing_key(kassa.settings)
    assert pay_key is not None
    pay_token = pay_links.mint(pay_key, invoice_id, expires)
    links = [
        _with(good, expires=str(expires), signature=_altered(signature)),
        _with(good, expires=str(expires + 1), signature=signature),  # extended
        _with(other["pdfUrl"], expires=str(expires), signature=signature),  # another's
        _with(good, expires=str(expires), signature=pay_token.rpartition(".")[2]),  # pay link's
        _with(good, expires=str(expires)),
        _with(good, signature=signature),
        _with(good, expires="", signature=""),
        _with(good, expires="-1", signature=signature),
        _with(good, expires="abc", signature=signature),
        _with(good, expires="9" * 5000, signature=signature),
        _with(good, expires="\uff11\uff12\uff13", signature=signature),  # full-width digits
        _with(good, expires=str(expires), signature="%00%ff"),
        _with(good, expires=str(expires), signature="é" * 300),
    ]

    # when
    statuses = [(await _get(kassa, link)).status_code for link in links]

    # then
    assert statuses == [404] * len(links)
    assert (await _get(kassa, good)).status_code == 200


async def test_receipt_mail_carries_a_working_signed_link(kassa: Kassa, smtp: Inbox) -> None:
    # given
    member = await kassa.member()
    address = f"ada-{uuid.uuid4().hex[:8]}@example.com"

    # when
    paid = await kassa.top_up(
        member, "42.00", "usd", paymentMethodId="pm_card_visa", receiptEmail=address
    )
    await smtp.wait_for(address, "Receipt")

    # then
    public_url = kassa.settings.public_url
    assert public_url
    invoice = await _invoice(kassa, member, paid["payment"]["id"])
    [mail] = smtp.to(address, "Receipt")
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    links = re.findall(r"Invoice:\s+(\S+)", text.get_content())
    assert len(links) == 1 and links[0].startswith(f"{public_url}{invoice['pdfUrl']}?")
    assert links[0].replace("&", "&amp;") in html.get_content()
    pdf = _text(await _get(kassa, links[0].removeprefix(public_url)))
    assert invoice["number"] in pdf and "42.00 USD" in pdf


def _altered(signature: str) -> str:
    """The signature with its last character changed (whatever that character was)."""
    return signature[:-1] + ("B" if signature.endswith("A") else "A")
