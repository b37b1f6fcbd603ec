"""Flag pages: the list for the enterprise concerned and for regulators, and one flag."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user
from marshmallow import ValidationError

from hazwaste.accounts.permissions import login_required
from hazwaste.extensions import db
from hazwaste.pagination import paginate
from hazwaste.reconciliation import queries
from hazwaste.reconciliation.models import FlagStatus, Severity
from hazwaste.reconciliation.rules import REGISTRY
from hazwaste.reconciliation.schemas import FlagFilterSchema
from hazwaste.schemas import field_errors

bp = Blueprint("flags", __name__, url_prefix="/flags")


@bp.get("/")
@login_required
def index() -> Any:
    errors: dict[str, Any] = {}
    try:
        args = FlagFilterSchema().load(request.args)
    except ValidationError as exc:
        errors = field_errors(exc)
        args = FlagFilterSchema().load({})
    filters = queries.FlagFilters(
        **{
            k: args[k]
            for k in ("rule", "severity", "status", "region", "period", "organization_id")
        }
    )
    if "status" not in request.args:
        filters.status = FlagStatus.OPEN.value
    page = paginate(
        db.session,
        queries.list_query(current_user, filters),
        args["page"],
        args["per_page"] or current_app.config["PAGE_SIZE"],
        args={k: v for k, v in request.args.items() if k != "page"},
    )
    return render_template(
        "flags/list.html",
        page=page,
        args=request.args,
        errors=errors,
        rules=sorted(REGISTRY),
        severities=[s.value for s in Severity],
        statuses=[s.value for s in FlagStatus],
        status=filters.status or "",
    ), (422 if errors else 200)


@bp.get("/<int:flag_id>")
@login_required
def detail(flag_id: int) -> str:
    flag = queries.get_visible(db.session, current_user, flag_id)
    return render_template(
        "flags/detail.html",
        flag=flag,
        evidence=queries.evidence(flag),
        rule=REGISTRY.get(flag.rule),
    )
