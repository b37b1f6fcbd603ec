"""Regulator pages: dashboard, balances and flows, risk grades, inspection draws, dossiers.

Every page is for regulator users only (others get 403) and shows its jurisdiction only;
an object outside it is a 404.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from hazwaste.accounts.models import UserRole
from hazwaste.accounts.permissions import enterprise_required, regulator_required
from hazwaste.db import utcnow
from hazwaste.errors import Invalid
from hazwaste.exports import CSV_MIMETYPE, XLSX_MIMETYPE, download
from hazwaste.extensions import db
from hazwaste.oversight import balances, charts, dashboard, draws, exports, risk, scope
from hazwaste.oversight.schemas import BalanceFilterSchema, DrawSchema, RiskFilterSchema
from hazwaste.schemas import field_errors

bp = Blueprint("oversight", __name__, url_prefix="/oversight")


def _now() -> datetime:
    return utcnow()


def _balances_chart(totals: list[Any]) -> Any:
    """Monthly generated / shipped / received / disposed tonnes as grouped bars."""
    return charts.bar_chart(
        [t.month for t in totals],
        [
            (_("Generated quantity"), [t.values["generated"] for t in totals]),
            (_("Shipped quantity"), [t.values["shipped"] for t in totals]),
            (_("Received quantity"), [t.values["received"] for t in totals]),
            (_("Disposed quantity"), [t.values["disposed"] for t in totals]),
        ],
        title=_("Monthly generated, shipped, received and disposed tonnage"),
        unit=_("Tonnes"),
    )


def balance_filters(args: dict[str, Any]) -> balances.BalanceFilters:
    result: balances.BalanceFilters = scope.balance_filters(db.session, current_user, args)
    return result


def _load_filters(schema: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        return schema.load(request.args), {}
    except ValidationError as exc:
        return schema.load({}), field_errors(exc)


@bp.get("/")
@regulator_required
def index() -> str:
    data = dashboard.build(db.session, _now(), scope.prefix_of(current_user))
    chart = charts.bar_chart(
        [t.month for t in data.trend],
        [(_("Tonnes completed"), [t.kg for t in data.trend])],
        title=_("Manifests completed per month"),
        unit=_("Tonnes"),
    )
    return render_template("oversight/dashboard.html", data=data, chart=chart)


@bp.get("/balances")
@regulator_required
def balances_page() -> Any:
    args, errors = _load_filters(BalanceFilterSchema())
    try:
        filters = balance_filters(args)
    except Invalid as exc:
        errors.update(exc.fields)
        args = BalanceFilterSchema().load({})
        filters = balance_filters(args)
    if args["format"] and not errors:
        data = balances.rows(db.session, filters, limit=balances.EXPORT_MAX)
        if args["format"] == "csv":
            return download(exports.balances_csv(data), CSV_MIMETYPE, "balances.csv")
        return download(exports.balances_xlsx(data), XLSX_MIMETYPE, "balances.xlsx")
    data = balances.rows(db.session, filters)
    totals = balances.month_totals(db.session, filters)
    chart = _balances_chart(totals)
    query = {k: v for k, v in request.args.items() if k != "format"}
    return render_template(
        "oversight/balances.html",
        rows=data,
        totals=totals,
        chart=chart,
        args=request.args,
        errors=errors,
        enterprises=scope.enterprises(db.session, current_user),
        prefix=scope.prefix_of(current_user),
        query=query,
        truncated=len(data) >= balances.PAGE_ROWS,
    ), (422 if errors else 200)


@bp.get("/flows")
@regulator_required
def flows() -> Any:
    args, errors = _load_filters(BalanceFilterSchema())
    try:
        filters = balance_filters(args)
    except Invalid as exc:
        errors.update(exc.fields)
        filters = balance_filters(BalanceFilterSchema().load({}))
    matrix = balances.flow_matrix(db.session, filters)
    diagram = charts.sankey(
        matrix.producers, matrix.receivers, matrix.cells, title=_("Flow matrix")
    )
    return render_template(
        "oversight/flows.html",
        matrix=matrix,
        diagram=diagram,
        args=request.args,
        errors=errors,
        enterprises=scope.enterprises(db.session, current_user),
        prefix=scope.prefix_of(current_user),
    ), (422 if errors else 200)


@bp.get("/risk")
@regulator_required
def risk_page() -> Any:
    args, errors = _load_filters(RiskFilterSchema())
    try:
        prefix = scope.region_prefix(current_user, args["region"])
    except Invalid as exc:
        errors.update(exc.fields)
        prefix = scope.prefix_of(current_user)
    ratings = risk.ratings(db.session, _now(), prefix)
    counts = {code: 0 for code, _b in risk.GRADES}
    for r in ratings:
        counts[r.grade] += 1
    if args["grade"] and not errors:
        ratings = [r for r in ratings if r.grade == args["grade"]]
    return render_template(
        "oversight/risk.html",
        ratings=ratings,
        counts=counts,
        risk=risk,
        args=request.args,
        errors=errors,
        prefix=scope.prefix_of(current_user),
    ), (422 if errors else 200)


@bp.get("/inspections")
@regulator_required
def inspections() -> str:
    return render_template(
        "oversight/inspections.html",
        draws=draws.listing(db.session, current_user),
        values={},
        errors={},
        prefix=scope.prefix_of(current_user),
    )


@bp.post("/inspections")
@regulator_required
def draw() -> Any:
    errors: dict[str, Any] = {}
    try:
        data = DrawSchema().load(request.form)
        created = draws.create(db.session, _now(), current_user, draws.DrawRequest(**data))
    except ValidationError as exc:
        errors = field_errors(exc)
    except Invalid as exc:
        db.session.rollback()
        errors = exc.fields or {"_schema": [exc.message]}
    if errors:
        return render_template(
            "oversight/inspections.html",
            draws=draws.listing(db.session, current_user),
            values=request.form,
            errors=errors,
            prefix=scope.prefix_of(current_user),
        ), 422
    db.session.commit()
    return redirect(url_for("oversight.draw_detail", draw_id=created.id))


def _draw_page(draw_id: int, check: bool, public: bool = False) -> str:
    if public:
        item = draws.get_public(db.session, draw_id)
    else:
        item = draws.get(db.session, current_user, draw_id)
    verified = None
    if check:
        verified, _again = draws.verify(item)
    return render_template(
        "oversight/draw.html",
        draw=item,
        inputs=json.loads(item.inputs),
        result=json.loads(item.result),
        names=draws.names(db.session, item),
        verified=verified,
        public=public,
    )


@bp.get("/inspections/<int:draw_id>")
@regulator_required
def draw_detail(draw_id: int) -> str:
    return _draw_page(draw_id, check=False)


@bp.get("/inspections/<int:draw_id>/verify")
@regulator_required
def draw_verify(draw_id: int) -> str:
    """Re-run the draw from its stored seed and inputs (changes nothing)."""
    return _draw_page(draw_id, check=True)


@bp.get("/public/inspections/<int:draw_id>")
def public_draw(draw_id: int) -> str:
    """The published draw, for anyone (no login): seed, method, candidates, result, and a
    button that re-runs it (``?verify=1``) and says whether the same list comes out."""
    return _draw_page(draw_id, check=request.args.get("verify") == "1", public=True)


@bp.get("/dossiers/flag/<int:flag_id>.pdf")
@regulator_required
def flag_dossier(flag_id: int) -> Response:
    from hazwaste.oversight import dossier

    body = dossier.flag_pdf(db.session, _now(), current_user, flag_id)
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="flag-{flag_id}.pdf"'
    return response


@bp.get("/dossiers/enterprise/<int:org_id>.pdf")
@regulator_required
def enterprise_dossier(org_id: int) -> Response:
    from hazwaste.oversight import dossier

    body = dossier.enterprise_pdf(db.session, _now(), current_user, org_id)
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="enterprise-{org_id}.pdf"'
    return response


@bp.get("/own")
@enterprise_required(user_roles=(UserRole.ADMIN, UserRole.MEMBER))
def own() -> Any:
    """An enterprise's own balances and risk grade (the same figures its regulator sees)."""
    args, errors = _load_filters(BalanceFilterSchema())
    org = current_user.organization
    filters = balances.BalanceFilters(
        prefix=org.region_code,
        organization_id=org.id,
        waste_code=args["waste_code"],
        month_from=args["month_from"],
        month_to=args["month_to"],
    )
    data = balances.rows(db.session, filters)
    totals = balances.month_totals(db.session, filters)
    chart = _balances_chart(totals)
    rating = risk.ratings(db.session, _now(), org.region_code, organization_id=org.id)[0]
    return render_template(
        "oversight/own.html",
        org=org,
        rows=data,
        chart=chart,
        rating=rating,
        risk=risk,
        args=request.args,
        errors=errors,
    ), (422 if errors else 200)
