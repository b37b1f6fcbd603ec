"""The public transparency page: signed tree heads, the public key, how to check them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from sqlalchemy import select

from hazwaste.audit import signing
from hazwaste.audit.models import AuditCheckpoint
from hazwaste.extensions import db
from hazwaste.pagination import paginate

bp = Blueprint("audit", __name__)


@bp.get("/transparency")
def transparency() -> Any:
    """No login: anyone can copy tree heads and check proofs against them."""
    page_number = request.args.get("page", 1, type=int) or 1
    page = paginate(
        db.session,
        select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()),
        page_number,
        current_app.config["PAGE_SIZE"],
    )
    return render_template("audit/transparency.html", page=page, key=signing.public_key_info())
