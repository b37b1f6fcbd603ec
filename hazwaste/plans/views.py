"""Management plan pages for producer office staff: the year's plan with plan versus actual
and the supervision tier, the add/edit form (tonnes), deletion, and the CSV import.

Only admins and members of an approved producer reach these pages; others get 403 and
anonymous visitors the login page.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from hazwaste.accounts.models import UserRole
from hazwaste.accounts.permissions import enterprise_required
from hazwaste.db import KG_PER_TONNE, utcnow
from hazwaste.errors import Invalid
from hazwaste.extensions import db
from hazwaste.ledger.services import local_date
from hazwaste.plans import services
from hazwaste.plans.models import ManagementPlan
from hazwaste.plans.schemas import CSV_COLUMNS, PlanFormSchema, YearArgsSchema
from hazwaste.schemas import field_errors

bp = Blueprint("plans", __name__, url_prefix="/plans")

#: Office staff of an approved producer: the only users of the plan pages.
producer_staff = enterprise_required("producer", user_roles=(UserRole.ADMIN, UserRole.MEMBER))


def _this_year() -> int:
    return local_date(utcnow()).year


def _year_arg() -> tuple[int, dict[str, Any]]:
    """``?year=`` (the current year if absent) and its errors, if it is not a valid year."""
    try:
        year = YearArgsSchema().load(request.args)["year"]
        errors: dict[str, Any] = {}
    except ValidationError as exc:
        year, errors = None, field_errors(exc)
    return year or _this_year(), errors


def _tonnes(kg: Decimal) -> str:
    return format((kg / KG_PER_TONNE).normalize(), "f")


@bp.get("/")
@producer_staff
def index() -> Any:
    year, errors = _year_arg()
    producer_id = current_user.organization_id
    rows = services.plan_vs_actual(db.session, producer_id, year)
    return render_template(
        "plans/index.html",
        year=year,
        rows=rows,
        totals=services.totals(rows),
        tier=services.compute_tier(db.session, producer_id, year),
        tier_labels=services.TIER_LABELS,
        errors=errors,
    ), (422 if errors else 200)


def _form(
    values: dict[str, Any], errors: dict[str, Any], plan: ManagementPlan | None, status: int = 200
) -> Any:
    return render_template(
        "plans/form.html",
        values=values,
        errors=errors,
        plan=plan,
        receivers=services.approved_receivers(db.session),
    ), status


def _save(plan: ManagementPlan | None) -> Any:
    """Validate and save the posted form; re-render it with 422 and the typed values if not."""
    values = request.form.to_dict()
    try:
        data = PlanFormSchema().load(request.form)
        result = services.save_plan(
            db.session, utcnow(), current_user, data, plan.id if plan is not None else None
        )
    except ValidationError as exc:
        # Also report the rules broken by the fields that did parse: every problem at once.
        parsed = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        errors = {**services.check_plan(db.session, parsed), **field_errors(exc)}
        db.session.rollback()
        return _form(values, errors, plan, 422)
    except Invalid as exc:
        db.session.rollback()
        return _form(values, exc.fields or {"_schema": [exc.message]}, plan, 422)
    db.session.commit()
    saved = result.plan
    if result.created:
        flash(_("Plan row for %(code)s added.", code=saved.waste_code))
    else:
        flash(_("Plan row for %(code)s saved.", code=saved.waste_code))
    for warning in result.warnings:
        flash(warning, "warning")
    return redirect(url_for("plans.index", year=saved.year))


@bp.route("/new", methods=["GET", "POST"])
@producer_staff
def new() -> Any:
    if request.method == "POST":
        return _save(None)
    year, _errors = _year_arg()
    return _form({"year": year}, {}, None)


@bp.route("/<int:plan_id>/edit", methods=["GET", "POST"])
@producer_staff
def edit(plan_id: int) -> Any:
    plan = services.get_plan(db.session, current_user, plan_id)
    if request.method == "POST":
        return _save(plan)
    values = {
        "year": plan.year,
        "waste_code": plan.waste_code,
        "planned_generation_t": _tonnes(plan.planned_generation_kg),
        "planned_transfer_t": _tonnes(plan.planned_transfer_kg),
        "intended_receiver_id": plan.intended_receiver_id or "",
        "note": plan.note,
    }
    return _form(values, {}, plan)


@bp.post("/<int:plan_id>/delete")
@producer_staff
def delete(plan_id: int) -> Any:
    plan = services.get_plan(db.session, current_user, plan_id)
    year, code = plan.year, plan.waste_code
    services.delete_plan(db.session, utcnow(), current_user, plan_id)
    db.session.commit()
    flash(_("Plan row for %(code)s deleted.", code=code))
    return redirect(url_for("plans.index", year=year))


# -- CSV import --------------------------------------------------------------------------------


def _messages(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [m for v in value.values() for m in _messages(v)]
    if isinstance(value, list | tuple):
        return [m for v in value for m in _messages(v)]
    return [str(value)]


def _import_page(
    year: int,
    errors: dict[str, Any],
    message: str = "",
    status: int = 200,
    invalid_rows: int = 0,
) -> Any:
    """The upload form; after a failed import, a table of CSV line → column → message."""
    found = errors.get("rows")
    rows: dict[Any, Any] = found if isinstance(found, dict) else {}
    problems = [
        (line, column, msg)
        for line, columns in sorted(rows.items(), key=lambda item: int(item[0]))
        for column, msgs in (columns.items() if isinstance(columns, dict) else [("", columns)])
        for msg in _messages(msgs)
    ]
    return render_template(
        "plans/import.html",
        year=year,
        columns=CSV_COLUMNS,
        errors=errors,
        message=message,
        problems=problems,
        # Rows with errors beyond the ones listed (the import lists the first ones only).
        more_rows=max(invalid_rows - len(rows), 0),
        receivers=services.approved_receivers(db.session),
        max_rows=services.MAX_IMPORT_ROWS,
    ), status


@bp.route("/import", methods=["GET", "POST"])
@producer_staff
def import_plans() -> Any:
    year, _errors = _year_arg()
    if request.method == "GET":
        return _import_page(year, {})
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        msg = _("Choose a CSV file.")
        return _import_page(year, {"file": [msg]}, msg, 422)
    raw = upload.read(services.MAX_IMPORT_BYTES + 1)
    try:
        result = services.import_plans(db.session, utcnow(), current_user, raw)
    except Invalid as exc:
        db.session.rollback()
        return _import_page(year, exc.fields, exc.message, 422, exc.extra.get("invalid_rows", 0))
    db.session.commit()
    flash(
        _(
            "Plan imported: %(created)s rows added, %(updated)s rows updated.",
            created=result.created,
            updated=result.updated,
        )
    )
    for line, warnings in sorted(result.warnings.items()):
        for warning in warnings:
            flash(_("Line %(line)s: %(message)s", line=line, message=warning), "warning")
    shown = result.years[0] if len(result.years) == 1 else year
    return redirect(url_for("plans.index", year=shown))


@bp.get("/import/template.csv")
@producer_staff
def import_template() -> Response:
    year, _errors = _year_arg()
    receivers = services.approved_receivers(db.session)
    body = "\ufeff" + services.template_csv(year, receivers[0].uscc if receivers else "")
    response = Response(body.encode("utf-8"), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="plan-{year}-template.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
