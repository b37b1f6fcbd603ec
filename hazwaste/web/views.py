"""Landing pages: the public front page and each user's overview."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select

from hazwaste.extensions import db
from hazwaste.manifests import access
from hazwaste.manifests.models import Manifest, ManifestStatus

bp = Blueprint("web", __name__)

#: Manifests listed under "needs your attention" on the overview.
ATTENTION_LIMIT = 10


def _overview(user: Any) -> dict[str, Any]:
    visible = access.visible_filter(user)
    counts = dict(
        db.session.execute(
            select(Manifest.status, func.count()).where(visible).group_by(Manifest.status)
        ).all()
    )
    waiting: list[Any] = []
    org_id = user.organization_id
    if user.organization is not None and user.org_approved:
        # What this organization must do next: drivers pick up, receivers receive or dispose,
        # producers finish drafts.
        conditions = []
        if user.organization.is_carrier:
            conditions.append(
                (Manifest.carrier_id == org_id)
                & Manifest.status.in_([ManifestStatus.SUBMITTED, ManifestStatus.IN_TRANSIT])
            )
        if user.organization.is_receiver and user.role.value != "driver":
            conditions.append(
                (Manifest.receiver_id == org_id)
                & Manifest.status.in_(
                    [ManifestStatus.IN_TRANSIT, ManifestStatus.DELIVERED, ManifestStatus.RECEIVED]
                )
            )
        if user.organization.is_producer and user.role.value != "driver":
            conditions.append(
                (Manifest.producer_id == org_id) & (Manifest.status == ManifestStatus.DRAFT)
            )
        if conditions:
            from sqlalchemy import or_

            waiting = list(
                db.session.scalars(
                    select(Manifest)
                    .where(visible, or_(*conditions))
                    .order_by(Manifest.planned_date)
                    .limit(ATTENTION_LIMIT)
                )
            )
    return {"counts": {s.value: counts.get(s, 0) for s in ManifestStatus}, "waiting": waiting}


@bp.get("/")
def home() -> Any:
    """Public front page for visitors; a personal overview once logged in."""
    if not current_user.is_authenticated:
        return render_template("web/home.html")
    if current_user.active and current_user.regulator_body is not None:
        # Regulators land on their jurisdiction's dashboard.
        return redirect(url_for("oversight.index"))
    return render_template("web/dashboard.html", **_overview(current_user))


@bp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    """Liveness probe for the load balancer (no database access)."""
    return {"status": "ok"}, 200
