"""Signed QR tokens: the manifest QR carries a URL with an HMAC-signed token.

The token names the manifest id and number; it cannot be forged without ``SECRET_KEY``, and
an altered token fails verification (the scan page then says "invalid code").
"""

from __future__ import annotations

from flask import current_app, url_for
from itsdangerous import BadSignature, URLSafeSerializer

SALT = "hazwaste.manifest-qr.v1"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def make_token(manifest_id: int, number: str) -> str:
    return _serializer().dumps([manifest_id, number])


def read_token(token: str) -> tuple[int, str] | None:
    """``(manifest_id, number)`` for a genuine token, None for a forged or altered one."""
    try:
        value = _serializer().loads(token)
    except BadSignature:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], int)
        or not isinstance(value[1], str)
    ):
        return None
    return value[0], value[1]


def scan_url(manifest_id: int, number: str) -> str:
    """Absolute URL of the scan page, using ``PUBLIC_BASE_URL`` when configured."""
    path = url_for("scan.manifest", token=make_token(manifest_id, number))
    base = current_app.config.get("PUBLIC_BASE_URL") or ""
    if base:
        return base.rstrip("/") + path
    return url_for("scan.manifest", token=make_token(manifest_id, number), _external=True)
