"""Failed-login throttling shared by the login page and ``POST /api/v1/auth/token``.

Two counters, both in the rate limiter's storage (``RATELIMIT_STORAGE_URI``: memory by
default, Redis in production), never in the database:

* per account — failures for one e-mail address from any client address
  (``LOGIN_RATE_LIMIT``), so spreading guesses over many addresses does not help;
* per address — failures from one client address for any accounts
  (``LOGIN_ADDRESS_RATE_LIMIT``), so trying one password on many accounts does not either.

Only failed credential checks are counted. While either counter is exhausted every attempt
is refused before the password is checked, with the seconds left until the counter resets.

If the storage cannot be reached (Redis down) the error is logged and logins go on without
throttling: refusing every login of every user would be worse than the brute-force risk for
the minutes of an outage, and a login must never answer 500.
"""

from __future__ import annotations

import logging
import math
import time

from flask import current_app
from flask_babel import ngettext
from limits import RateLimitItem, parse

from hazwaste.extensions import limiter

log = logging.getLogger(__name__)

_ACCOUNT = "login-account"
_ADDRESS = "login-address"


def _limits() -> list[tuple[RateLimitItem, str]]:
    return [
        (parse(str(current_app.config["LOGIN_RATE_LIMIT"])), _ACCOUNT),
        (parse(str(current_app.config["LOGIN_ADDRESS_RATE_LIMIT"])), _ADDRESS),
    ]


def _enabled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED", True)) and limiter.enabled


def _keys(email: str, address: str | None) -> dict[str, str]:
    return {_ACCOUNT: (email or "").strip().lower(), _ADDRESS: address or "-"}


def retry_after(email: str, address: str | None) -> int | None:
    """Seconds to wait if the account or the address has no attempt left, else None."""
    if not _enabled():
        return None
    keys = _keys(email, address)
    waits = []
    try:
        strategy = limiter.limiter
        for item, scope in _limits():
            if not strategy.test(item, scope, keys[scope]):
                reset_at = strategy.get_window_stats(item, scope, keys[scope]).reset_time
                waits.append(max(1, math.ceil(reset_at - time.time())))
    except Exception:  # any storage backend's error (redis, memcached, …)
        log.exception("login throttling storage unavailable; not throttling")
        return None
    return max(waits) if waits else None


def record_failure(email: str, address: str | None) -> None:
    """Count one failed login against the account and the address."""
    if not _enabled():
        return
    keys = _keys(email, address)
    try:
        for item, scope in _limits():
            limiter.limiter.hit(item, scope, keys[scope])
    except Exception:  # any storage backend's error (redis, memcached, …)
        log.exception("login throttling storage unavailable; failure not counted")


def minutes(seconds: int) -> int:
    """The waiting time in whole minutes, rounded up (a person reads minutes, not seconds)."""
    return max(1, math.ceil(seconds / 60))


def message(seconds: int) -> str:
    """What a throttled user reads: why, and how long to wait."""
    return ngettext(
        "Too many failed login attempts. Please try again in %(num)d minute.",
        "Too many failed login attempts. Please try again in %(num)d minutes.",
        minutes(seconds),
    )
