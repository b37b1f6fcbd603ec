"""Security headers on every response: pages, API, static files, error pages, PDFs, images.

The Content-Security-Policy allows scripts, styles, fonts and connections from this origin
only — no inline script, no inline style (templates keep their styles in ``static/css`` and
their scripts in ``static/js``; server-drawn SVG uses presentation attributes and classes),
no plugins, no framing, forms posted only here. ``tests/e2e/test_csp_pages.py`` visits every
page of every kind of user in Chromium and fails on any policy violation.

Responses to a logged-in user (session), an API client (bearer token) and to any request that
is not a GET (a login, a new API token) are ``no-store``:
they name people and carry signed QR URLs, and must not stay in a browser's or a proxy's
cache after logout. Static assets keep their normal caching.
"""

from __future__ import annotations

from flask import Flask, Response, g, request
from flask_login import current_user

#: Scripts, styles, fonts and fetches from this origin only. ``img-src`` also allows
#: ``data:``/``blob:`` (pictures a page builds itself); ``media-src blob:`` is the camera
#: preview of the container scan. ``base-uri 'none'`` stops an injected ``<base>`` from
#: re-pointing relative links; ``form-action 'self'`` keeps forms (and their redirects) here.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "media-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)
#: Never shown in a frame (clickjacking); ``frame-ancestors 'none'`` says the same to
#: browsers that read CSP.
X_FRAME_OPTIONS = "DENY"
#: Browsers must not guess a type other than the one sent (an upload shown as HTML).
X_CONTENT_TYPE_OPTIONS = "nosniff"
#: The scan page's path is a signed QR token (``/m/<token>``): a link followed to another
#: site must not carry it, nor even this site's origin. Same-origin requests keep the full
#: referrer, which Flask-WTF's CSRF check needs over HTTPS.
REFERRER_POLICY = "same-origin"
#: Position (the driver's hand-offs) and camera (container QR scan) for this origin's pages
#: only; no microphone, payment or USB for anyone.
PERMISSIONS_POLICY = "camera=(self), geolocation=(self), microphone=(), payment=(), usb=()"
#: Windows this site opens, or that open it, share no browsing context group.
CROSS_ORIGIN_OPENER_POLICY = "same-origin"
#: Cache-Control of every response behind login.
NO_STORE = "no-store"

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": X_FRAME_OPTIONS,
    "X-Content-Type-Options": X_CONTENT_TYPE_OPTIONS,
    "Referrer-Policy": REFERRER_POLICY,
    "Permissions-Policy": PERMISSIONS_POLICY,
    "Cross-Origin-Opener-Policy": CROSS_ORIGIN_OPENER_POLICY,
}


def _behind_login() -> bool:
    """True when the request was answered for a logged-in user or an API token holder, or
    changed something (a login, ``POST /api/v1/auth/token`` whose body is a new token).

    A request carrying credentials counts even where the view reads them only optionally
    (the public audit proofs show more to a platform administrator's token)."""
    if g.get("api_user") is not None or request.method not in {"GET", "HEAD"}:
        return True
    if request.authorization is not None or request.headers.get("Authorization"):
        return True
    return bool(current_user and current_user.is_authenticated)


def add_security_headers(response: Response) -> Response:
    """``after_request`` hook: the headers above, and ``no-store`` behind login.

    A header a view set itself is kept (none does today); a ``Cache-Control`` without
    ``no-store`` on a response behind login is replaced.
    """
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    cached = NO_STORE not in (response.headers.get("Cache-Control") or "")
    if cached and request.endpoint != "static" and _behind_login():
        response.headers["Cache-Control"] = NO_STORE
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
