"""Mail to customers, written to the outbox with the change it tells of, sent by workers.

Templates are files (`kassa/templates/mail/<name>.subject.txt`, `.txt`, `.html`). With no
SMTP_HOST the mail is logged instead of sent, so a development machine needs no server.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from email.message import EmailMessage

import aiosmtplib
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from tortoise.backends.base.client import BaseDBAsyncClient

from kassa.config import Settings
from kassa.services import invoice_links, outbox

log = logging.getLogger(__name__)

MAIL = "mail"
# Mail to the platform's operators (KASSA_ADMIN_EMAILS), addressed when it is sent.
ADMIN_ALERT = "mail.admin_alert"
TEMPLATES = Environment(
    loader=PackageLoader("kassa", "templates/mail"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)


async def queue_mail(
    conn: BaseDBAsyncClient,
    *,
    template: str,
    about: str,
    to: str,
    context: Mapping[str, object],
) -> None:
    """Write one mail per (template, subject of it, recipient); repeats write nothing."""
    payload = {"template": template, "to": to, "context": dict(context)}
    await outbox.add(conn, MAIL, f"{MAIL}:{template}:{about}:{to.lower()}", payload)


async def queue_admin_alert(
    conn: BaseDBAsyncClient, *, template: str, about: str, context: Mapping[str, object]
) -> None:
    """Tell the platform's admins, once per (template, subject of it)."""
    payload = {"template": template, "context": dict(context)}
    await outbox.add(conn, ADMIN_ALERT, f"{ADMIN_ALERT}:{template}:{about}", payload)


def render(payload: Mapping[str, object], sender: str) -> EmailMessage:
    template, context = str(payload["template"]), payload["context"]
    assert isinstance(context, Mapping)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = str(payload["to"])
    subject = TEMPLATES.get_template(f"{template}.subject.txt").render(context)
    message["Subject"] = subject.strip()
    message.set_content(TEMPLATES.get_template(f"{template}.txt").render(context))
    message.add_alternative(
        TEMPLATES.get_template(f"{template}.html").render(context), subtype="html"
    )
    return message


def readable(message: EmailMessage) -> str:
    """The mail as a person reads it: its headers and text, decoded (its links whole, not
    folded by quoted-printable), for a log in place of sending."""
    text = message.get_body(preferencelist=("plain",))
    body = text.get_content() if isinstance(text, EmailMessage) else ""
    return f"To: {message['To']}\nSubject: {message['Subject']}\n\n{body}"


class Mailer:
    """Sends the outbox's mail through the configured SMTP server."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def send_admin_alert(self, payload: Mapping[str, object]) -> None:
        if not self._settings.admin_emails:
            log.warning("admin alert not mailed (KASSA_ADMIN_EMAILS unset): %s", payload)
        for address in self._settings.admin_emails:
            await self.send({**payload, "to": address})

    async def send(self, payload: Mapping[str, object]) -> None:
        settings = self._settings
        context = payload["context"]
        assert isinstance(context, Mapping)
        linked = {**payload, "context": invoice_links.with_link(settings, context)}
        message = render(linked, settings.smtp_from)
        if not settings.smtp_host:
            log.info("mail not sent (SMTP_HOST unset)\n%s", readable(message))
            return
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_user,
            password=settings.smtp_password,
            timeout=30,
        )
