"""Stripe Checkout's success and cancel pages, for anyone holding the session id."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kassa.models import PaymentStatus
from kassa.pages.common import ASKS, amount_text, card_text, runtime
from kassa.services import checkout
from kassa.services.receipts import Receipt
from kassa.web import render_page

# A session's state in the words of the success page (PAGES.md); anything still under
# way is `processing`.
CHECKOUT_STATE = {
    PaymentStatus.SUCCEEDED: "paid",
    PaymentStatus.FAILED: "failed",
    PaymentStatus.CANCELED: "expired",
}
UNKNOWN = "unknown"


async def _receipt(request: Request) -> Receipt | None:
    session_id = request.query_params.get("session_id", "")
    if not session_id:
        return None
    return await checkout.session_receipt(
        runtime(request).gateway, session_id, ask_stripe=ASKS.allow(f"checkout:{session_id}")
    )


def _shown(receipt: Receipt | None) -> dict[str, object]:
    """What the page and its status endpoint show: Stripe's receipt, nothing more."""
    if receipt is None:
        return {"status": UNKNOWN}
    return {
        "status": CHECKOUT_STATE.get(receipt.status, "processing"),
        "amount": amount_text(receipt),
        "description": receipt.description,
        "creditsAdded": receipt.credits,
        "orderReference": receipt.order_reference,
        "card": card_text(receipt),
    }


async def success_page(request: Request) -> Response:
    shown = _shown(await _receipt(request))
    return render_page(
        "checkout_success.html",
        status_code=404 if shown["status"] == UNKNOWN else 200,
        shown=shown,
        session_id=request.query_params.get("session_id", ""),
    )


async def session_status(request: Request) -> Response:
    """The success page's poll while the payment is under way."""
    shown = _shown(await _receipt(request))
    return JSONResponse(shown, headers={"Cache-Control": "no-store"})


async def cancel_page(request: Request) -> Response:
    # Stripe fills {CHECKOUT_SESSION_ID} only into success_url: the cancel page needs no
    # session, and shows none (the session stays open until it expires, as on Stripe).
    return render_page(
        "checkout_cancel.html", storefront=runtime(request).settings.storefront_enabled
    )
