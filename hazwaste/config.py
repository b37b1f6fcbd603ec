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

#: Failed logins allowed per account (e-mail address), from any client address; the web form
#: and ``POST /api/v1/auth/token`` share the counter. Successful logins are not counted.
LOGIN_RATE_LIMIT = "10 per 15 minutes"
#: Failed logins allowed per client address, whatever accounts they try (same counter for
#: web and API). Higher than the per-account limit: an office may share one address.
LOGIN_ADDRESS_RATE_LIMIT = "30 per 15 minutes"
#: Reverse proxies in front of the app that append to ``X-Forwarded-For`` (nginx alone: 1).
#: The client address (login throttling per address, the session list) is read from that
#: header for this many hops; 0 trusts no header. Behind a proxy, 0 would make every client
#: share the proxy's address, and so one per-address login counter.
PROXY_HOPS = 0
#: A login session's ``last_seen_at`` is written at most this often (not on every request).
SESSION_TOUCH_INTERVAL = timedelta(minutes=5)
#: Ended or expired login-session records are deleted at the user's next login after this.
SESSION_RECORD_RETENTION = timedelta(days=30)
#: Lifetime of an API bearer token issued by ``POST /api/v1/auth/token``.
API_TOKEN_TTL = timedelta(hours=12)
#: The longest life a named API token may be given (HAZWASTE_API_TOKEN_MAX_TTL_DAYS).
API_TOKEN_MAX_TTL_DAYS = 365
#: Minimum password length (NIST SP 800-63B: at least 8; we ask for 10).
PASSWORD_MIN_LENGTH = 10
#: A password reset link works once, for this long.
PASSWORD_RESET_TTL = timedelta(hours=1)
#: Reset requests allowed per e-mail address and per client address.
PASSWORD_RESET_RATE_LIMIT = "5 per hour"
#: An e-mail verification link works once, for this long.
EMAIL_VERIFICATION_TTL = timedelta(days=3)
#: Verification e-mails a user may ask for.
EMAIL_VERIFICATION_RATE_LIMIT = "5 per hour"
#: A manifest beyond its producer's management plan: "warn" (at submission, recorded in
#: the event) or "block" (refused at submission and at pickup).
PLAN_CHECK = "warn"
#: China-time hour from which the daily notification digest is e-mailed.
NOTIFICATION_DIGEST_HOUR = 8
#: Page size of list pages and API lists unless the client asks for less.
PAGE_SIZE = 25
PAGE_SIZE_MAX = 200
#: A licence expiring within this many days is shown as "expiring soon".
LICENCE_EXPIRY_WARNING_DAYS = 60
#: Largest request body of any kind (pages and file uploads: the container CSV import takes
#: files up to 8 MiB, 10,000 containers are about 1.5 MB). Refused with 413 before parsing.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
#: Largest body of an API request (JSON, or a plan CSV of at most 1 MiB): a bulk registration
#: of the 5,000 containers it allows is about 2 MB.
MAX_API_REQUEST_BYTES = 4 * 1024 * 1024
#: Werkzeug's form limits: parts of a multipart form, and bytes of one non-file field — also
#: the largest page post that is not a file upload (a manifest form with 50 lines and 1,000
#: chosen containers is well below both).
MAX_FORM_PARTS = 2000
MAX_FORM_MEMORY_SIZE = 512 * 1024


#: Reconciliation tolerances and deadlines, each overridable as HAZWASTE_RECON_<NAME>.
RECONCILIATION_DEFAULTS: dict[str, float | int] = {
    # TRANSIT_OVERDUE: hours from pickup to arrival before a load counts as overdue.
    "TRANSIT_HOURS": 48,
    # RECEIPT_OVERDUE: working days (Chinese calendar) from arrival to confirmed receipt.
    "RECEIPT_WORKING_DAYS": 5,
    # WEIGHT_GAP: relative tolerance between loaded and received weight, per physical form,
    # and an absolute floor in kg below which a difference is never flagged.
    "WEIGHT_TOLERANCE_PCT_LIQUID": 5,
    "WEIGHT_TOLERANCE_PCT_SOLID": 2,
    "WEIGHT_FLOOR_KG": 10,
    # PRODUCER_BALANCE: tolerance of the monthly mass balance (the larger of the two).
    "BALANCE_TOLERANCE_PCT": 1,
    "BALANCE_TOLERANCE_KG": 50,
    # OVER_CAPACITY: share of the licensed annual capacity that warns / is high.
    "CAPACITY_WARN_PCT": 100,
    "CAPACITY_HIGH_PCT": 120,
    # STORAGE_OVERDUE: days in storage before waste must have left (固废法: one year).
    "STORAGE_DAYS": 365,
    # OVER_PLAN: tonnage above the management plan that is flagged, in percent.
    "PLAN_EXCESS_PCT": 10,
    # LOCATION_MISMATCH: distance between a hand-off's GPS and the party's site.
    "LOCATION_KM": 2,
    # NEVER_PICKED_UP: days after submission without pickup or cancellation.
    "NEVER_PICKED_UP_DAYS": 30,
    # LICENCE_EXPIRING: days before a licence's end (without a renewal) that it is flagged.
    "LICENCE_EXPIRY_FLAG_DAYS": 30,
    # Severity by unexplained quantity; ≥ CRITICAL_KG is the criminal-referral tier (3 t).
    "MEDIUM_KG": 100,
    "HIGH_KG": 1000,
    "CRITICAL_KG": 3000,
}


#: PostgreSQL work_mem for a reconciliation run's transaction: the balance rules sort and
#: hash millions of lines, which spill to disk at the server's default of 4 MB.
RECONCILIATION_WORK_MEM = "256MB"

#: Rules a full run from ``flask reconcile`` evaluates at the same time, each on its own
#: database connection (the rules are independent read-only queries; flags are still written
#: by one transaction). One per core of the database server is the useful maximum.
RECONCILIATION_WORKERS = 2

#: After-commit jobs (hazwaste.jobs): a failing job is tried this many times in all, waiting
#: JOB_RETRY_BASE_DELAY × 2^(failures − 1) between tries (at most JOB_RETRY_MAX_DELAY), then
#: it lands on the dead-letter list (/admin/jobs). HAZWASTE_JOB_MAX_ATTEMPTS and
#: HAZWASTE_JOB_RETRY_BASE_DELAY (seconds) override the first two.
#: How often the job workers sign a new audit tree head over the entries recorded since.
AUDIT_CHECKPOINT_EVERY = timedelta(seconds=10)
JOB_MAX_ATTEMPTS = 8
JOB_RETRY_BASE_DELAY = timedelta(seconds=5)
JOB_RETRY_MAX_DELAY = timedelta(hours=1)
#: A job that cannot run yet without failing (a full reconciliation holds the lock) waits this.
JOB_DEFER_DELAY = timedelta(seconds=30)
#: The sweeper runs this often and re-pushes pending jobs overdue by JOB_SWEEP_GRACE (their
#: push after commit was lost), each at most once per JOB_SWEEP_REPUSH, JOB_SWEEP_BATCH a time.
JOB_SWEEP_INTERVAL = timedelta(seconds=5)
JOB_SWEEP_GRACE = timedelta(seconds=5)
JOB_SWEEP_REPUSH = timedelta(minutes=1)
JOB_SWEEP_BATCH = 500
#: Threads of one ``flask jobs worker`` (HAZWASTE_JOB_WORKERS); run more workers for more.
JOB_WORKERS = 2


def _reconciliation_settings() -> dict[str, float | int]:
    settings = dict(RECONCILIATION_DEFAULTS)
    for name, default in RECONCILIATION_DEFAULTS.items():
        raw = os.environ.get(f"HAZWASTE_RECON_{name}")
        if raw is not None:
            settings[name] = type(default)(float(raw)) if isinstance(default, int) else float(raw)
    return settings


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


def _list(value: str) -> list[str] | None:
    items = [item.strip() for item in value.split(",") if item.strip()]
    return items or None


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
        LOGIN_ADDRESS_RATE_LIMIT=os.environ.get(
            "HAZWASTE_LOGIN_ADDRESS_RATE_LIMIT", LOGIN_ADDRESS_RATE_LIMIT
        ),
        SESSION_TOUCH_INTERVAL=SESSION_TOUCH_INTERVAL,
        SESSION_RECORD_RETENTION=SESSION_RECORD_RETENTION,
        PROXY_HOPS=int(os.environ.get("HAZWASTE_PROXY_HOPS", PROXY_HOPS)),
        API_TOKEN_TTL=API_TOKEN_TTL,
        API_TOKEN_MAX_TTL_DAYS=int(
            os.environ.get("HAZWASTE_API_TOKEN_MAX_TTL_DAYS", API_TOKEN_MAX_TTL_DAYS)
        ),
        PASSWORD_MIN_LENGTH=PASSWORD_MIN_LENGTH,
        PASSWORD_RESET_TTL=PASSWORD_RESET_TTL,
        PASSWORD_RESET_RATE_LIMIT=os.environ.get(
            "HAZWASTE_PASSWORD_RESET_RATE_LIMIT", PASSWORD_RESET_RATE_LIMIT
        ),
        EMAIL_VERIFICATION_TTL=EMAIL_VERIFICATION_TTL,
        PLAN_CHECK=os.environ.get("HAZWASTE_PLAN_CHECK", PLAN_CHECK).strip().lower(),
        NOTIFICATION_DIGEST_HOUR=int(
            os.environ.get("HAZWASTE_NOTIFICATION_DIGEST_HOUR", NOTIFICATION_DIGEST_HOUR)
        ),
        EMAIL_VERIFICATION_RATE_LIMIT=os.environ.get(
            "HAZWASTE_EMAIL_VERIFICATION_RATE_LIMIT", EMAIL_VERIFICATION_RATE_LIMIT
        ),
        PAGE_SIZE=PAGE_SIZE,
        PAGE_SIZE_MAX=PAGE_SIZE_MAX,
        LICENCE_EXPIRY_WARNING_DAYS=LICENCE_EXPIRY_WARNING_DAYS,
        MAX_CONTENT_LENGTH=int(os.environ.get("HAZWASTE_MAX_REQUEST_BYTES", MAX_REQUEST_BYTES)),
        MAX_API_REQUEST_BYTES=int(
            os.environ.get("HAZWASTE_MAX_API_REQUEST_BYTES", MAX_API_REQUEST_BYTES)
        ),
        MAX_FORM_PARTS=MAX_FORM_PARTS,
        MAX_FORM_MEMORY_SIZE=MAX_FORM_MEMORY_SIZE,
        RECONCILIATION=_reconciliation_settings(),
        RECONCILIATION_WORK_MEM=os.environ.get("HAZWASTE_RECON_WORK_MEM", RECONCILIATION_WORK_MEM),
        RECONCILIATION_WORKERS=int(
            os.environ.get("HAZWASTE_RECON_WORKERS", RECONCILIATION_WORKERS)
        ),
        # Ed25519 key signing the audit log's tree heads: PEM text or a file's path; unset,
        # instance/audit_signing_key (generated on first use, mode 0600).
        AUDIT_SIGNING_KEY=os.environ.get("HAZWASTE_AUDIT_SIGNING_KEY", ""),
        AUDIT_CHECKPOINT_EVERY=timedelta(
            seconds=float(
                os.environ.get(
                    "HAZWASTE_AUDIT_CHECKPOINT_SECONDS", AUDIT_CHECKPOINT_EVERY.total_seconds()
                )
            )
        ),
        # The job queue (hazwaste.jobs.queue): SQLite file in instance/ by default, redis://…
        # in production, "off" to run the outbox from cron (flask jobs run-pending) only.
        QUEUE_URL=os.environ.get("HAZWASTE_QUEUE_URL", ""),
        JOB_MAX_ATTEMPTS=int(os.environ.get("HAZWASTE_JOB_MAX_ATTEMPTS", JOB_MAX_ATTEMPTS)),
        JOB_RETRY_BASE_DELAY=timedelta(
            seconds=float(
                os.environ.get(
                    "HAZWASTE_JOB_RETRY_BASE_DELAY", JOB_RETRY_BASE_DELAY.total_seconds()
                )
            )
        ),
        JOB_RETRY_MAX_DELAY=JOB_RETRY_MAX_DELAY,
        JOB_DEFER_DELAY=JOB_DEFER_DELAY,
        JOB_SWEEP_INTERVAL=JOB_SWEEP_INTERVAL,
        JOB_SWEEP_GRACE=JOB_SWEEP_GRACE,
        JOB_SWEEP_REPUSH=JOB_SWEEP_REPUSH,
        JOB_SWEEP_BATCH=JOB_SWEEP_BATCH,
        JOB_WORKERS=int(os.environ.get("HAZWASTE_JOB_WORKERS", JOB_WORKERS)),
        # Outgoing e-mail (hazwaste.mail): smtp://user:password@host:port, smtps://…, or
        # "console" (the log; the default, so a development machine needs no mail server).
        MAIL_URL=os.environ.get("HAZWASTE_MAIL_URL", "console"),
        MAIL_FROM=os.environ.get("HAZWASTE_MAIL_FROM", "hazwaste@localhost"),
        # External base URL for QR codes and links in PDFs, never the request's Host header;
        # required in production (hazwaste.public_url).
        PUBLIC_BASE_URL=os.environ.get("HAZWASTE_PUBLIC_BASE_URL", ""),
        # Webhook URLs may point at private/loopback addresses (development, tests only).
        WEBHOOKS_ALLOW_PRIVATE=_flag("HAZWASTE_WEBHOOKS_ALLOW_PRIVATE", False),
        # Host names the site answers to (comma-separated); others get 400. Unset: any.
        TRUSTED_HOSTS=_list(os.environ.get("HAZWASTE_TRUSTED_HOSTS", "")),
    )
    if overrides:
        app.config.update(overrides)
