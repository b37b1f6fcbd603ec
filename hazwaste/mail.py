"""Outgoing e-mail, always after commit: :func:`send` enqueues a ``mail.send`` outbox job in
the caller's transaction; a worker hands the message to the SMTP server.

Low-level like :mod:`hazwaste.jobs`: it imports no domain. ``MAIL_URL``
(``HAZWASTE_MAIL_URL``) chooses the transport:

- ``smtp://[user:password@]host[:port]`` — plain SMTP, upgraded with STARTTLS when the
  server offers it; ``smtps://…`` — SMTP over TLS (port 465 by default);
- ``console`` (the default) — the message is written to the log, so ``make run`` needs no
  mail server.

A send that fails (server down, refused) raises in the job, which the outbox retries with
backoff and finally puts on the dead-letter list; the caller's hand-off never waits on mail.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask, current_app, has_app_context
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

#: Outbox job kind that sends one message.
SEND = "mail.send"
#: Default transport: the log.
CONSOLE = "console"
#: Seconds to wait for the SMTP server before the attempt counts as failed.
SMTP_TIMEOUT = 20


class MessageSchema(Schema):
    to = fields.Email(required=True)
    subject = fields.String(required=True)
    text = fields.String(required=True)
    html = fields.String(load_default=None, allow_none=True)


def send(
    session: Session,
    now: datetime,
    to: str,
    subject: str,
    text: str,
    *,
    html: str | None = None,
    key: str | None = None,
) -> int:
    """Send one message after the caller's transaction commits (one outbox INSERT; never
    commits). ``subject`` and ``text`` are already in the recipient's language. With
    ``key``, a second call with the same key sends nothing more. Returns the job id."""
    from hazwaste.jobs import outbox

    payload: dict[str, Any] = {"to": to, "subject": str(subject), "text": str(text)}
    if html is not None:
        payload["html"] = html
    return outbox.enqueue(session, now, SEND, payload, key=None if key is None else f"mail:{key}")


def _setting(name: str, default: str) -> str:
    if has_app_context():
        return str(current_app.config.get(name) or default)
    return default


def build_message(payload: dict[str, Any]) -> EmailMessage:
    sender = _setting("MAIL_FROM", "hazwaste@localhost")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = payload["to"]
    message["Subject"] = payload["subject"]
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    message.set_content(payload["text"])
    if payload.get("html"):
        message.add_alternative(payload["html"], subtype="html")
    return message


def deliver(message: EmailMessage, url: str) -> None:
    """Hand ``message`` to the transport named by ``url``; raises on any failure."""
    if url == CONSOLE:
        log.info("e-mail (console transport):\n%s", message.as_string())
        return
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(f"unsupported MAIL_URL {parts.scheme!r}")
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if parts.scheme == "smtps":
        smtp = smtplib.SMTP_SSL(
            parts.hostname, parts.port or 465, timeout=SMTP_TIMEOUT, context=context
        )
    else:
        smtp = smtplib.SMTP(parts.hostname, parts.port or 25, timeout=SMTP_TIMEOUT)
    with smtp:
        if parts.scheme == "smtp":
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        smtp.send_message(message)


def send_job(session: Session, now: datetime, payload: dict[str, Any]) -> None:
    """Job handler. Not transactional with the SMTP server: a message whose job commit was
    lost may be sent twice (at least once, like every delivery here)."""
    deliver(build_message(payload), _setting("MAIL_URL", CONSOLE))


def _summary(payload: dict[str, Any]) -> str:
    return f"{payload.get('to')}: {payload.get('subject')}"[:200]


def init_app(app: Flask) -> None:
    from hazwaste.jobs import outbox

    outbox.register(SEND, send_job, schema=MessageSchema, summary=_summary, label=_l("E-mail"))
