"""kassa's server-rendered pages (shared/PAGES.md): the demo storefront, Checkout's success
and cancel pages, the payment page behind a signed link, and invoice PDFs.

Pages are Jinja templates rendered by `kassa.web.render_page`, with small JavaScript modules
from `/static/pages/`. Pages reach kassa's domain through services only; the storefront, a
signed-in client like any other, goes through the public GraphQL API.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from kassa.config import Settings
from kassa.pages import checkout, invoices, pay, storefront


def routes(settings: Settings) -> list[BaseRoute]:
    pages: list[BaseRoute] = [
        Route("/checkout/success", checkout.success_page),
        Route("/checkout/status", checkout.session_status),
        Route("/checkout/cancel", checkout.cancel_page),
        Route("/pay/{token}", pay.payment_page),
        Route("/pay/{token}/status", pay.payment_status),
        Route("/pay/{token}/setup", pay.card_setup, methods=["POST"]),
        Route("/pay/{token}/confirm", pay.confirm, methods=["POST"]),
        Route("/invoices/{id}.pdf", invoices.invoice_document),
    ]
    if settings.storefront_enabled:
        pages.append(Route("/", storefront.storefront_page))
    return pages
