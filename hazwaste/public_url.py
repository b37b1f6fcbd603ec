"""Absolute links printed outside the site (QR codes, PDFs, labels, later e-mails).

They are built from ``PUBLIC_BASE_URL`` (``HAZWASTE_PUBLIC_BASE_URL``) only, never from the
request's ``Host`` header: a client choosing its own ``Host`` must not get its host printed
into a manifest's QR code.

Without the variable:

- a server in production — not ``DEBUG`` nor ``TESTING``, secure cookies on — refuses to
  start (gunicorn importing ``app:app``, or ``flask run``), naming the variable;
- development (``DEBUG``, ``TESTING`` or ``HAZWASTE_SECURE_COOKIES=0``) uses
  :data:`DEVELOPMENT_BASE_URL`, the address ``make run`` serves;
- other CLI commands (``flask db upgrade``, ``seed-demo``, ``reconcile``…) build no links and
  run as before; :func:`external_url` raises :class:`PublicBaseUrlMissing` if one ever tried.

``HAZWASTE_TRUSTED_HOSTS`` (comma-separated, optional) becomes Flask's ``TRUSTED_HOSTS``: a
request naming another host is answered 400.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import click
from flask import Flask, Response, current_app, url_for
from werkzeug.exceptions import SecurityError

#: The environment variable operators set; named in every error about it.
ENV_VAR = "HAZWASTE_PUBLIC_BASE_URL"
#: Where the development server of ``make run`` listens.
DEVELOPMENT_BASE_URL = "http://127.0.0.1:5000"


class PublicBaseUrlMissing(RuntimeError):
    """Production configuration without a usable public base URL."""


def _is_production(app: Flask) -> bool:
    return not (app.debug or app.testing) and bool(app.config.get("SESSION_COOKIE_SECURE"))


def _serving() -> bool:
    """True unless a Flask CLI command other than ``run`` is loading the app.

    gunicorn (or any WSGI server) imports the app outside click; ``flask run`` loads it inside
    its own command. Maintenance commands (migrations, seeding, reconciliation) build no
    links and must work on a production configuration without the variable.
    """
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return True
    return ctx.command.name == "run"


def check_base_url(value: str) -> str:
    """``value`` without a trailing slash; ``ValueError`` unless it is ``http(s)://host[/path]``
    with no query or fragment."""
    parts = urlsplit(value.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"{ENV_VAR} must be an absolute http:// or https:// URL, not {value!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{ENV_VAR} must not carry credentials, a query or a fragment")
    return value.strip().rstrip("/")


def untrusted_host(exc: SecurityError) -> Any:
    """400 for a ``Host`` outside ``TRUSTED_HOSTS``, without the error page: that template
    builds links, and no URL can be built for a host the site does not answer to."""
    from hazwaste.errors import MESSAGES, api_error, wants_json

    if wants_json():
        return api_error(400)
    return Response(str(MESSAGES[400]), 400, mimetype="text/plain")


def init_app(app: Flask) -> None:
    """Validate ``PUBLIC_BASE_URL`` and settle it for development; refuse to serve in
    production without it (:class:`PublicBaseUrlMissing`)."""
    app.register_error_handler(SecurityError, untrusted_host)
    base = (app.config.get("PUBLIC_BASE_URL") or "").strip()
    if base:
        app.config["PUBLIC_BASE_URL"] = check_base_url(base)
    elif not _is_production(app):
        app.config["PUBLIC_BASE_URL"] = DEVELOPMENT_BASE_URL
    elif _serving():
        raise PublicBaseUrlMissing(
            f"{ENV_VAR} is not set. Set it to the address users reach this site at, e.g. "
            f"{ENV_VAR}=https://hazwaste.example.gov.cn — QR codes, PDFs and labels print "
            "links built from it, never from the request's Host header."
        )


def external_url(endpoint: str, **values: Any) -> str:
    """Absolute URL of ``endpoint``: the configured public base URL + the endpoint's path.

    Needs a request context (for the path only: the request's host is never read).
    ``PublicBaseUrlMissing`` when no base URL is configured (possible only in a production CLI
    command, which builds no links today).
    """
    base = current_app.config.get("PUBLIC_BASE_URL") or ""
    if not base:
        raise PublicBaseUrlMissing(f"{ENV_VAR} is not set: cannot build an external link")
    return str(base) + url_for(endpoint, **values)
