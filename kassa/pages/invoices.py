"""`GET /invoices/{id}.pdf`: an invoice's PDF, for members of its organization (the same
Bearer token or API key as GraphQL) or for whoever holds the signed link of a receipt mail.

Whatever the request holds, the answer is the PDF, 401 (no or a bad credential), 404 (no
such invoice, another organization's, or a link kassa did not sign for it) or 410 (a link
past its expiry): never anything of another organization's, never a 500 for odd input.
"""

from __future__ import annotations

import uuid

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kassa.authentication import caller_of
from kassa.ids import IdKind, decode
from kassa.models import Invoice
from kassa.pages.common import runtime
from kassa.services import invoice_links, invoice_pdf, invoices, signed_links
from kassa.services.identity import AuthenticationError


class Refused(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


NOT_FOUND = Refused(404, "No such invoice.")


async def invoice_document(request: Request) -> Response:
    try:
        invoice = await _invoice(request)
    except Refused as exc:
        return _refused(exc)
    # Drawing takes tens of milliseconds of CPU: not on the event loop.
    pdf = await run_in_threadpool(invoice_pdf.render, invoice)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="invoice-{invoice.number}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )


async def _invoice(request: Request) -> Invoice:
    invoice_id = decode(IdKind.INVOICE, request.path_params["id"])
    if "signature" in request.query_params or "expires" in request.query_params:
        return await _linked(request, invoice_id)
    try:
        caller = await caller_of(request.headers.get("authorization"), runtime(request))
    except AuthenticationError as exc:
        raise Refused(401, str(exc)) from exc
    if caller is None:
        raise Refused(401, "authentication required: send Authorization: Bearer <token>")
    invoice = await invoices.visible_invoice(caller, invoice_id)
    if invoice is None:
        raise NOT_FOUND
    return invoice


async def _linked(request: Request, invoice_id: uuid.UUID | None) -> Invoice:
    key = invoice_links.signing_key(runtime(request).settings)
    if key is None or invoice_id is None:
        raise NOT_FOUND
    query = request.query_params
    try:
        invoice_links.check(key, invoice_id, query.get("expires", ""), query.get("signature", ""))
    except signed_links.InvalidLink as exc:
        raise NOT_FOUND from exc
    except signed_links.ExpiredLink as exc:
        raise Refused(410, "This invoice link has expired. Sign in to download it.") from exc
    invoice = await invoices.by_id(invoice_id)
    if invoice is None:  # signed by kassa, for an invoice since gone: as if never valid
        raise NOT_FOUND
    return invoice


def _refused(exc: Refused) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else {}
    return JSONResponse({"error": {"message": exc.message}}, exc.status_code, headers=headers)
