"""Catalogue pages: search waste codes, list treatment methods and regions."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, jsonify, render_template, request
from marshmallow import ValidationError, fields

from hazwaste.accounts.permissions import login_required
from hazwaste.catalog import services
from hazwaste.catalog.schemas import RegionOutSchema, WasteCodeOutSchema
from hazwaste.extensions import db
from hazwaste.schemas import BaseSchema, field_errors, length

bp = Blueprint("catalog", __name__, url_prefix="/catalog")


class SearchArgs(BaseSchema):
    q = fields.String(load_default="", validate=length(max=100))
    category = fields.String(load_default=None, validate=length(max=4))
    on = fields.Date(load_default=None)


def _args() -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        return SearchArgs().load(request.args), {}
    except ValidationError as exc:
        return {"q": "", "category": None, "on": None}, field_errors(exc)


@bp.get("/waste-codes")
@login_required
def waste_codes() -> Any:
    args, errors = _args()
    on_date = args["on"] or date.today()
    edition = services.edition_on(db.session, on_date)
    rows = services.search_waste_codes(db.session, args["q"], on_date, args["category"], limit=None)
    return render_template(
        "catalog/waste_codes.html",
        rows=rows,
        q=args["q"],
        category=args["category"] or "",
        categories=services.categories(db.session, on_date),
        edition=edition,
        errors=errors,
    ), (422 if errors else 200)


@bp.get("/waste-codes/<code>")
@login_required
def waste_code(code: str) -> Any:
    on_date = date.today()
    row = services.get_waste_code(db.session, code, on_date)
    if row is None:
        from hazwaste.errors import NotFound

        raise NotFound()
    exemptions = list(services.exemptions_for(db.session, row.code, row.category, row.edition_code))
    return render_template("catalog/waste_code.html", row=row, exemptions=exemptions)


@bp.get("/waste-codes.json")
@login_required
def waste_codes_json() -> Any:
    """Autocomplete for forms (session-authenticated twin of ``/api/v1/waste-codes``)."""
    args, errors = _args()
    if errors:
        return jsonify({"error": {"code": "invalid", "message": "", "fields": errors}}), 422
    rows = services.search_waste_codes(
        db.session, args["q"], args["on"] or date.today(), args["category"], limit=20
    )
    return jsonify({"data": WasteCodeOutSchema(many=True).dump(rows)})


@bp.get("/methods")
@login_required
def methods() -> str:
    return render_template("catalog/methods.html", methods=services.methods(db.session))


@bp.get("/regions.json")
@login_required
def regions_json() -> Any:
    q = request.args.get("q", "")[:50]
    rows = services.search_regions(db.session, q)
    return jsonify({"data": RegionOutSchema(many=True).dump(rows)})
