"""QR scan pages: light, mobile-first, one page per manifest that shows the right action.

``/m/<token>`` — the URL inside the manifest QR. A forged or altered token gets the "invalid
code" page; a logged-out visitor gets the verification view only.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from sqlalchemy.orm import selectinload

from hazwaste.extensions import db
from hazwaste.manifests.models import Manifest
from hazwaste.manifests.tokens import read_token

bp = Blueprint("scan", __name__)


def manifest_for_token(token: str) -> Manifest | None:
    parsed = read_token(token)
    if parsed is None:
        return None
    manifest_id, number = parsed
    manifest = db.session.get(Manifest, manifest_id, options=[selectinload(Manifest.lines)])
    if manifest is None or manifest.number != number:
        return None
    return manifest


@bp.get("/m/<token>")
def manifest(token: str) -> Any:
    found = manifest_for_token(token)
    if found is None:
        return render_template("scan/invalid.html"), 404
    return render_template("scan/verify.html", manifest=found)
