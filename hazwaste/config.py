"""Configuration: SQLite file by default, ``DATABASE_URL`` for PostgreSQL.

Every policy number lives here with its documented default, so operators can change it
through the environment (``HAZWASTE_<NAME>``) without touching code.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

#: Failed logins allowed per e-mail address and per client address before refusal.
LOGIN_RATE_LIMIT = "10 per 15 minutes"
#: Lifetime of an API bearer token issued by ``POST /api/v1/auth/token``.
API_TOKEN_TTL = timedelta(hours=12)
#: Minimum password length (NIST SP 800-63B: at least 8; we ask for 10).
PASSWORD_MIN_LENGTH = 10
#: Page size of list pages and API lists unless the client asks for less.
PAGE_SIZE = 25
PAGE_SIZE_MAX = 200
#: A licence expiring within this many days is shown as "expiring soon".
LICENCE_EXPIRY_WARNING_DAYS = 60


def _secret_key(instance: Path) -> str:
    """Return ``SECRET_KEY`` from the environment, or a per-installation random key.

    The key is kept in ``instance/secret_key`` so sessions and QR tokens survive restarts.
    """
    env = os.environ.get("SECRET_KEY")
    if env:
        return env
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _database_url(instance: Path) -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url:
        return url
    instance.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{instance / 'hazwaste.db'}"


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_config(app: Flask, overrides: dict[str, Any] | None = None) -> None:
    """Fill ``app.config`` from defaults, the environment, then ``overrides``."""
    instance = Path(app.instance_path)
    app.config.update(
        SECRET_KEY=_secret_key(instance),
        SQLALCHEMY_DATABASE_URI=_database_url(instance),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        # Cookies: never readable by scripts, not sent on cross-site posts, and only over
        # HTTPS unless the operator serves plain HTTP on a development machine.
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=_flag("HAZWASTE_SECURE_COOKIES", True),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=_flag("HAZWASTE_SECURE_COOKIES", True),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        WTF_CSRF_TIME_LIMIT=None,  # bound to the session instead: long forms must not expire
        BABEL_DEFAULT_LOCALE="zh_CN",
        BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
        LANGUAGES=("zh_CN", "en"),
        RATELIMIT_STORAGE_URI=os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        RATELIMIT_HEADERS_ENABLED=True,
        LOGIN_RATE_LIMIT=os.environ.get("HAZWASTE_LOGIN_RATE_LIMIT", LOGIN_RATE_LIMIT),
        API_TOKEN_TTL=API_TOKEN_TTL,
        PASSWORD_MIN_LENGTH=PASSWORD_MIN_LENGTH,
        PAGE_SIZE=PAGE_SIZE,
        PAGE_SIZE_MAX=PAGE_SIZE_MAX,
        LICENCE_EXPIRY_WARNING_DAYS=LICENCE_EXPIRY_WARNING_DAYS,
        # External base URL for QR codes and links in PDFs; falls back to the request's host.
        PUBLIC_BASE_URL=os.environ.get("HAZWASTE_PUBLIC_BASE_URL", ""),
    )
    if overrides:
        app.config.update(overrides)
