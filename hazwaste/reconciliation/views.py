"""Flag pages: the list for the enterprise concerned and for regulators, and one flag."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from hazwaste.accounts.permissions import login_required
from hazwaste.cases import services as cases
from hazwaste.cases.schemas import ResponseSchema
from hazwaste.db import utcnow
from hazwaste.errors import Invalid
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


def _render_detail(flag: Any, values: Any = None, errors: Any = None) -> Any:
    return render_template(
        "flags/detail.html",
        flag=flag,
        evidence=queries.evidence(flag),
        evidence_rows=cases.evidence_rows(queries.evidence(flag)),
        rule=REGISTRY.get(flag.rule),
        responses=cases.responses(db.session, flag),
        can_respond=cases.can_respond(current_user, flag),
        values=values or {},
        errors=errors or {},
    ), (422 if errors else 200)


@bp.get("/<int:flag_id>")
@login_required
def detail(flag_id: int) -> Any:
    """One flag: the enterprise concerned sees it with its answers and the answer form;
    regulators in the jurisdiction see it too (the case page is theirs to work it)."""
    return _render_detail(queries.get_visible(db.session, current_user, flag_id))


@bp.post("/<int:flag_id>/responses")
@login_required
def respond(flag_id: int) -> Any:
    """The enterprise concerned answers the flag; 404 if it does not see the flag, 403 if it
    sees it but is not a party (regulators), 422 with the form kept on bad input."""
    flag = queries.get_visible(db.session, current_user, flag_id)
    try:
        data = ResponseSchema().load(request.form)
        cases.respond(db.session, utcnow(), current_user, flag, data)
    except ValidationError as exc:
        return _render_detail(flag, request.form, field_errors(exc))
    except Invalid as exc:
        db.session.rollback()
        flag = queries.get_visible(db.session, current_user, flag_id)
        return _render_detail(flag, request.form, exc.fields)
    db.session.commit()
    flash(_("Your explanation was sent to the regulator."), "success")
    return redirect(url_for("flags.detail", flag_id=flag_id))
