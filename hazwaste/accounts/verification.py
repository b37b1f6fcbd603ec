"""Proof that a user reads the mailbox of their e-mail address, before anything is e-mailed
to it (notifications go to verified addresses only).

A verification link carries ``{user id, fingerprint, issued at}`` signed with the app's
secret key (itsdangerous, salt ``hazwaste.email-verification``). The fingerprint is a digest
of the address and of the current verification state, so a link is single use (verifying
changes the state), and a link sent to an earlier address dies when the address changes.
``issued at`` is checked against the service's ``now`` (``EMAIL_VERIFICATION_TTL``).

A link goes out when an account is made (registration, an admin adding a colleague or an
inspector) and on the user's request from /account or the API, throttled per user
(``EMAIL_VERIFICATION_RATE_LIMIT``). A password reset through an e-mailed link proves the
mailbox too, and marks the address verified (``recovery.reset_password``).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from limits import parse
from sqlalchemy.orm import Session

from hazwaste import mail
from hazwaste.accounts.models import User
from hazwaste.audit import services as audit
from hazwaste.errors import Invalid
from hazwaste.extensions import limiter
from hazwaste.public_url import external_url

log = logging.getLogger(__name__)

SALT = "hazwaste.email-verification"
_SCOPE = "email-verification"
#: Longest verification token accepted (a real one is about 110 characters).
MAX_TOKEN_LENGTH = 400


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _fingerprint(user: User) -> str:
    verified = user.email_verified_at.isoformat() if user.email_verified_at else ""
    return hashlib.sha256(f"{user.email.lower()}|{verified}".encode()).hexdigest()[:24]


def _naive_utc(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


def make_token(user: User, now: datetime) -> str:
    """The verification token of ``user``'s current address, issued at ``now``."""
    issued = int(_naive_utc(now).replace(tzinfo=UTC).timestamp())
    return str(_serializer().dumps({"u": user.id, "f": _fingerprint(user), "t": issued}))


def throttled(user: User) -> int | None:
    """Count one request for a link for ``user``; the seconds to wait if none is left, else
    None. A storage outage is logged and does not throttle (as for logins)."""
    if not (current_app.config.get("RATELIMIT_ENABLED", True) and limiter.enabled):
        return None
    item = parse(str(current_app.config["EMAIL_VERIFICATION_RATE_LIMIT"]))
    try:
        strategy = limiter.limiter
        if strategy.hit(item, _SCOPE, str(user.id)):
            return None
        reset_at = strategy.get_window_stats(item, _SCOPE, str(user.id)).reset_time
    except Exception:  # any storage backend's error
        log.exception("verification throttling storage unavailable; not throttling")
        return None
    return max(1, math.ceil(reset_at - time.time()))


def throttle_message(seconds: int) -> str:
    return ngettext(
        "Too many verification e-mails. Please try again in %(num)d minute.",
        "Too many verification e-mails. Please try again in %(num)d minutes.",
        max(1, math.ceil(seconds / 60)),
    )


def send_link(session: Session, now: datetime, user: User, locale: str | None = None) -> bool:
    """Queue a verification link for ``user``'s address (sent after commit), written in
    ``locale`` (default: the user's language). Needs a request or app context with a public
    base URL. Returns False, sending nothing, when the address is already verified or the
    account is inactive."""
    if user.email_verified_at is not None or not user.active:
        return False
    ttl: timedelta = current_app.config["EMAIL_VERIFICATION_TTL"]
    link = external_url("accounts.verify_email", token=make_token(user, now))
    with force_locale(locale or user.locale or "zh_CN"):
        subject = _("Confirm your e-mail address for hazwaste")
        text = _(
            "Hello %(name)s,\n\nplease confirm that %(email)s is your address by opening "
            "this link within %(days)s days:\n\n%(link)s\n\nUntil you do, hazwaste e-mails "
            "you nothing (notifications stay in your inbox on the site). If you have no "
            "hazwaste account, ignore this message.",
            name=user.name,
            email=user.email,
            days=max(1, ttl.days),
            link=link,
        )
    mail.send(session, now, user.email, subject, text)
    audit.record(
        session,
        now,
        actor_user_id=None,
        action="user.email_verification_sent",
        object_type="user",
        object_id=user.id,
        payload={},
    )
    return True


def verify(session: Session, now: datetime, token: str) -> User:
    """Mark the address of the token's user verified at ``now``.

    ``Invalid`` (field ``token``) if the token is forged, too long, expired, already used or
    was sent to an address the user no longer has; nothing changes then.
    """
    dead = _("This verification link is invalid, expired or already used. Ask for a new one.")
    if len(token) > MAX_TOKEN_LENGTH:
        raise Invalid(dead, {"token": [dead]})
    try:
        data = _serializer().loads(token)
        user_id, fingerprint, issued = int(data["u"]), str(data["f"]), int(data["t"])
    except (BadSignature, KeyError, TypeError, ValueError, OverflowError):
        raise Invalid(dead, {"token": [dead]}) from None
    ttl: timedelta = current_app.config["EMAIL_VERIFICATION_TTL"]
    try:
        issued_at = datetime.fromtimestamp(issued, UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        raise Invalid(dead, {"token": [dead]}) from None
    current = _naive_utc(now)
    user = session.get(User, user_id) if 0 < user_id < 2**63 else None
    if (
        user is None
        or not user.active
        or _fingerprint(user) != fingerprint
        or not issued_at <= current <= issued_at + ttl
    ):
        raise Invalid(dead, {"token": [dead]})
    mark_verified(session, now, user, "link")
    return user


def mark_verified(session: Session, now: datetime, user: User, how: str) -> None:
    """Record that ``user`` proved their mailbox (``how``: "link" or "password_reset");
    nothing happens if the address is already verified."""
    if user.email_verified_at is not None:
        return
    user.email_verified_at = now
    audit.record(
        session,
        now,
        actor_user_id=user.id,
        action="user.email_verified",
        object_type="user",
        object_id=user.id,
        payload={"how": how},
    )
