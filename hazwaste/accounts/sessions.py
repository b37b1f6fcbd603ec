"""Server-side login sessions: a browser login is valid only while its record is.

Flask's session cookie is signed, not stored, so on its own a copied cookie stays valid until
it expires, whatever the user does. Each login therefore creates a :class:`UserSession` row
and the cookie carries ``"<id>.<secret>"`` next to Flask-Login's user id; the user loader
accepts the cookie only while the row exists, is not ended, is not idle for longer than the
session lifetime, and belongs to the same active user. Ending the row (logout, "log out
everywhere", password change, deactivation) refuses the cookie from the next request on.

Every function takes the session and ``now``; none commits.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, joinedload

from hazwaste.accounts.models import ApiToken, User, UserSession
from hazwaste.errors import NotFound

#: Key of ``flask.session`` holding ``"<record id>.<secret>"``.
SESSION_KEY = "hz_session"
USER_AGENT_MAX = 300
ADDRESS_MAX = 64


@dataclass(frozen=True)
class StartedSession:
    record: UserSession
    #: The value to put under :data:`SESSION_KEY`; the secret in it is not stored anywhere.
    cookie_value: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start_session(
    session: Session,
    now: datetime,
    user: User,
    user_agent: str,
    address: str,
    retention: timedelta,
) -> StartedSession:
    """Create the record of a new login of ``user`` (flushed, so it has its id).

    The user's own records that ended or went idle more than ``retention`` ago are deleted
    on the way, so the table holds a bounded history per user (only this user's rows).
    """
    session.execute(
        delete(UserSession)
        .where(
            UserSession.user_id == user.id,
            or_(UserSession.ended_at < now - retention, UserSession.last_seen_at < now - retention),
        )
        .execution_options(synchronize_session=False)
    )
    secret = secrets.token_urlsafe(32)
    record = UserSession(
        user_id=user.id,
        secret_hash=_digest(secret),
        created_at=now,
        last_seen_at=now,
        user_agent=(user_agent or "")[:USER_AGENT_MAX],
        address=(address or "")[:ADDRESS_MAX],
    )
    session.add(record)
    session.flush()
    return StartedSession(record, f"{record.id}.{secret}")


_BROWSERS = (
    ("MicroMessenger", "WeChat"),
    ("Edg", "Edge"),
    ("Firefox", "Firefox"),
    ("Chrome", "Chrome"),
    ("Chromium", "Chromium"),
    ("Safari", "Safari"),
)
_PLATFORMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def device_label(user_agent: str) -> str:
    """A short "browser · system" for a User-Agent header, or the header itself, shortened.

    Only for showing the user which session is which: never used for a decision.
    """
    browser = next((name for token, name in _BROWSERS if token in user_agent), "")
    platform = next((name for token, name in _PLATFORMS if token in user_agent), "")
    label = " · ".join(part for part in (browser, platform) if part)
    return label or user_agent[:60]


def _parse(cookie_value: object) -> tuple[int, str] | None:
    if not isinstance(cookie_value, str):
        return None
    raw_id, _, secret = cookie_value.partition(".")
    if not raw_id.isdigit() or len(raw_id) > 10 or not secret:
        return None
    return int(raw_id), secret


def live_session(
    session: Session, now: datetime, user_id: int, cookie_value: object, idle: timedelta
) -> UserSession | None:
    """The running session the cookie value names, if it belongs to ``user_id``, else None.

    None when the value is malformed, the record does not exist, its secret differs, it
    belongs to another user, it was ended, it has been idle for longer than ``idle``, or
    the user is deactivated.
    """
    parsed = _parse(cookie_value)
    if parsed is None:
        return None
    record_id, secret = parsed
    record = session.get(UserSession, record_id, options=[joinedload(UserSession.user)])
    if (
        record is None
        or record.user_id != user_id
        or not hmac.compare_digest(record.secret_hash, _digest(secret))
        or record.ended_at is not None
        or record.last_seen_at + idle <= now
        or not record.user.active
    ):
        return None
    return record


def touch_due(record: UserSession, now: datetime, interval: timedelta) -> bool:
    return record.last_seen_at + interval <= now


def touch(session: Session, now: datetime, record_id: int, interval: timedelta) -> None:
    """Set ``last_seen_at`` unless another request of the same session just did.

    Only this session's own row is written, and only when it was last seen more than
    ``interval`` ago, so the request path writes at most once per interval per session.
    """
    session.execute(
        update(UserSession)
        .where(
            UserSession.id == record_id,
            UserSession.ended_at.is_(None),
            UserSession.last_seen_at <= now - interval,
        )
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )


def running_sessions(
    session: Session, now: datetime, user: User, idle: timedelta
) -> list[UserSession]:
    """The user's sessions that a cookie can still use, most recently seen first."""
    return list(
        session.scalars(
            select(UserSession)
            .where(
                UserSession.user_id == user.id,
                UserSession.ended_at.is_(None),
                UserSession.last_seen_at > now - idle,
            )
            .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
        )
    )


def end_session(
    session: Session, now: datetime, user: User, record_id: int, reason: str = "logout"
) -> UserSession:
    """End one of ``user``'s own running sessions.

    Raises ``NotFound`` for a session of another user, an unknown id or one already ended
    (nobody learns whether another user's session id exists).
    """
    record = session.get(UserSession, record_id)
    if record is None or record.user_id != user.id or record.ended_at is not None:
        raise NotFound()
    record.ended_at = now
    record.end_reason = reason
    return record


def end_user_sessions(
    session: Session, now: datetime, user_id: int, reason: str, keep_id: int | None = None
) -> int:
    """End every running session of the user except ``keep_id``; return how many ended."""
    stmt = (
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
        .execution_options(synchronize_session="fetch")
    )
    if keep_id is not None:
        stmt = stmt.where(UserSession.id != keep_id)
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def touch_token(session: Session, now: datetime, token_id: int, interval: timedelta) -> None:
    """Set the token's ``last_used_at`` unless it was set less than ``interval`` ago."""
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - interval),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def revoke_user_tokens(session: Session, now: datetime, user_id: int) -> int:
    """Revoke every unrevoked API token of the user; return how many."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
