"""Landing pages."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

bp = Blueprint("web", __name__)


@bp.get("/")
def home() -> str:
    """Public front page for visitors; a personal overview once logged in."""
    if not current_user.is_authenticated:
        return render_template("web/home.html")
    return render_template("web/dashboard.html")


@bp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    """Liveness probe for the load balancer (no database access)."""
    return {"status": "ok"}, 200
