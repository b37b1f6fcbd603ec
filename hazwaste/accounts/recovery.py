"""A way back into a lost account: password reset through a signed, single-use, expiring
link sent by e-mail.

The link carries ``{user id, fingerprint, issued at}`` signed with the app's secret key
(itsdangerous, its own salt). The fingerprint is a digest of the user's current password
hash and the time it was last changed, so the link stops working the moment any password is
set — by this link (single use), by the user on /account, or by another reset link — and a
link issued before the last change is dead too. ``issued at`` is checked against the
service's ``now`` (not the wall clock), so expiry is testable and follows the caller's time.

Asking for a link answers the same whether or not the address belongs to an account (no
account enumeration); the asking is throttled per address and per e-mail, in the rate
limiter's storage like the login counters.
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
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hazwaste import mail
from hazwaste.accounts import verification
from hazwaste.accounts.models import User
from hazwaste.accounts.services import check_password_rules, set_password
from hazwaste.audit import services as audit
from hazwaste.errors import Invalid
from hazwaste.extensions import limiter
from hazwaste.public_url import external_url

log = logging.getLogger(__name__)

SALT = "hazwaste.password-reset"
_ACCOUNT = "reset-account"
_ADDRESS = "reset-address"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _fingerprint(user: User) -> str:
    changed = user.password_changed_at.isoformat() if user.password_changed_at else ""
    return hashlib.sha256(f"{user.password_hash}|{changed}".encode()).hexdigest()[:24]


def _naive_utc(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


def make_token(user: User, now: datetime) -> str:
    """The reset token of ``user`` issued at ``now``."""
    issued = int(_naive_utc(now).replace(tzinfo=UTC).timestamp())
    return str(_serializer().dumps({"u": user.id, "f": _fingerprint(user), "t": issued}))


def throttled(email: str, address: str | None) -> int | None:
    """Count one reset request for the e-mail and the address; the seconds to wait if
    either has none left (``PASSWORD_RESET_RATE_LIMIT``), else None. A storage outage is
    logged and does not throttle (as for logins)."""
    if not (current_app.config.get("RATELIMIT_ENABLED", True) and limiter.enabled):
        return None
    item = parse(str(current_app.config["PASSWORD_RESET_RATE_LIMIT"]))
    keys = {_ACCOUNT: (email or "").strip().lower(), _ADDRESS: address or "-"}
    try:
        strategy = limiter.limiter
        waits = []
        for scope, key in keys.items():
            if not strategy.hit(item, scope, key):
                reset_at = strategy.get_window_stats(item, scope, key).reset_time
                waits.append(max(1, math.ceil(reset_at - time.time())))
    except Exception:  # any storage backend's error
        log.exception("reset throttling storage unavailable; not throttling")
        return None
    return max(waits) if waits else None


def throttle_message(seconds: int) -> str:
    return ngettext(
        "Too many reset requests. Please try again in %(num)d minute.",
        "Too many reset requests. Please try again in %(num)d minutes.",
        max(1, math.ceil(seconds / 60)),
    )


def request_reset(
    session: Session,
    now: datetime,
    email: str,
    locale: str,
) -> bool:
    """Send a reset link to the active account with this e-mail address, after commit.

    The link is built from the public base URL (needs a request context); the message is
    written in ``locale``.
    Returns whether a message was queued — for tests and logs only: the caller must answer
    the same either way.
    """
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None or not user.active:
        return False
    ttl: timedelta = current_app.config["PASSWORD_RESET_TTL"]
    link = external_url("accounts.reset_confirm", token=make_token(user, now))
    with force_locale(locale):
        subject = _("Reset your hazwaste password")
        text = _(
            "Hello %(name)s,\n\nsomeone (hopefully you) asked to reset the password of "
            "your account %(email)s. Open this link within %(minutes)s minutes to choose a "
            "new password:\n\n%(link)s\n\nThe link works once. If you did not ask for it, "
            "ignore this message: your password stays as it is.",
            name=user.name,
            email=user.email,
            minutes=int(ttl.total_seconds() // 60),
            link=link,
        )
    mail.send(session, now, user.email, subject, text)
    audit.record(
        session,
        now,
        actor_user_id=None,
        action="user.password_reset_requested",
        object_type="user",
        object_id=user.id,
        payload={},
    )
    return True


def user_for_token(session: Session, now: datetime, token: str) -> User:
    """The user a live reset token belongs to; ``Invalid`` (field ``token``) if the token is
    forged, expired, already used or issued before the last password change."""
    dead = _("This reset link is invalid, expired or already used. Ask for a new one.")
    try:
        data = _serializer().loads(token)
        user_id, fingerprint, issued = int(data["u"]), str(data["f"]), int(data["t"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise Invalid(dead, {"token": [dead]}) from None
    ttl: timedelta = current_app.config["PASSWORD_RESET_TTL"]
    issued_at = datetime.fromtimestamp(issued, UTC).replace(tzinfo=None)
    current = _naive_utc(now)
    user = session.get(User, user_id)
    if (
        user is None
        or not user.active
        or _fingerprint(user) != fingerprint
        or not issued_at <= current <= issued_at + ttl
    ):
        raise Invalid(dead, {"token": [dead]})
    return user


def reset_password(
    session: Session, now: datetime, token: str, new: str, min_password: int
) -> User:
    """Set a new password through a reset link: the link dies (single use), every login
    session of the user ends and every API token is revoked. ``Invalid`` (``token`` or
    ``new_password``) changes nothing."""
    user = user_for_token(session, now, token)
    check_password_rules(new, min_password, "new_password")
    set_password(session, now, user, new, "password_reset")
    # The link came by e-mail: whoever used it reads the mailbox.
    verification.mark_verified(session, now, user, "password_reset")
    return user
