"""Signed QR tokens: the manifest QR carries a URL with an HMAC-signed token.

The token names the manifest id and number; it cannot be forged without ``SECRET_KEY``, and
an altered token fails verification (the scan page then says "invalid code").
"""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from hazwaste.public_url import external_url

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
    """Absolute URL of the scan page on ``PUBLIC_BASE_URL`` (never the request's host)."""
    return external_url("scan.manifest", token=make_token(manifest_id, number))
