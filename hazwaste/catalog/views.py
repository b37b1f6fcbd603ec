"""Catalogue pages: search waste codes, list treatment methods and regions."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError, fields

from hazwaste import csvimport
from hazwaste.accounts.permissions import login_required, platform_admin_required
from hazwaste.catalog import editions, services
from hazwaste.catalog.schemas import RegionOutSchema, WasteCodeOutSchema
from hazwaste.db import utcnow
from hazwaste.errors import Invalid
from hazwaste.extensions import db
from hazwaste.pagination import Page
from hazwaste.schemas import BaseSchema, PageNumber, field_errors, length

bp = Blueprint("catalog", __name__, url_prefix="/catalog")


#: Waste codes per page of the catalogue page.
CATALOGUE_PAGE_SIZE = 50


class SearchArgs(BaseSchema):
    q = fields.String(load_default="", validate=length(max=100))
    category = fields.String(load_default=None, validate=length(max=4))
    on = fields.Date(load_default=None)
    page = PageNumber()


def _args() -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        return SearchArgs().load(request.args), {}
    except ValidationError as exc:
        return {"q": "", "category": None, "on": None, "page": 1}, field_errors(exc)


@bp.get("/waste-codes")
@login_required
def waste_codes() -> Any:
    args, errors = _args()
    on_date = args["on"] or date.today()
    edition = services.edition_on(db.session, on_date)
    size = CATALOGUE_PAGE_SIZE
    found = services.rank_waste_codes(
        db.session, args["q"], on_date, args["category"], (args["page"] - 1) * size, size
    )
    filters = {
        k: v
        for k, v in {"q": args["q"], "category": args["category"], "on": args["on"]}.items()
        if v not in (None, "")
    }
    page = Page(found.rows, args["page"], size, found.total, filters)
    return render_template(
        "catalog/waste_codes.html",
        rows=found.rows,
        page=page,
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
    found = services.rank_waste_codes(
        db.session, args["q"], args["on"] or date.today(), args["category"], 0, 20
    )
    return jsonify(
        {"data": WasteCodeOutSchema(many=True).dump(found.rows), "meta": {"total": found.total}}
    )


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


class EditionForm(BaseSchema):
    code = fields.String(required=True, validate=length(1, 16))
    name = fields.String(required=True, validate=length(1, 200))
    decree = fields.String(load_default="", validate=length(max=200))
    effective_from = fields.Date(required=True)
    keep_exemptions = fields.Boolean(load_default=False)
    action = fields.String(load_default="preview", validate=length(max=10))


def _editions_page(values: dict[str, Any], errors: dict[str, Any], result: Any = None) -> str:
    return render_template(
        "catalog/editions.html",
        editions=services.editions(db.session),
        values=values,
        errors=errors,
        result=result,
        max_kb=editions.MAX_FILE_BYTES // 1024,
    )


@bp.get("/editions")
@platform_admin_required
def editions_admin() -> str:
    return _editions_page({"keep_exemptions": "1"}, {})


@bp.post("/editions")
@platform_admin_required
def editions_import() -> Any:
    """Preview the differences of an uploaded edition table, or import it (all or nothing)."""
    values = {
        k: request.form.get(k, "")[:200] for k in ("code", "name", "decree", "effective_from")
    }
    values["keep_exemptions"] = request.form.get("keep_exemptions", "")[:5]
    values["action"] = request.form.get("action", "preview")[:10]
    upload = request.files.get("file")
    try:
        data = EditionForm().load({k: v for k, v in values.items() if v != ""})
        if upload is None or not upload.filename:
            msg = _("Choose the edition's table (CSV).")
            raise Invalid(msg, {"file": [msg]})
        raw = upload.stream.read(editions.MAX_FILE_BYTES + 1)
        text = csvimport.decode(raw)  # UTF-8 or GB18030, as Excel saves it
        dry_run = data["action"] != "import"
        result = editions.import_edition(
            db.session, utcnow(), current_user, data, text, dry_run, data["keep_exemptions"]
        )
    except ValidationError as exc:
        db.session.rollback()
        return _editions_page(values, field_errors(exc)), 422
    except Invalid as exc:
        db.session.rollback()
        return _editions_page(values, exc.fields), 422
    if dry_run:
        db.session.rollback()
        return _editions_page(values, {}, result)
    db.session.commit()
    flash(
        _(
            "Edition %(code)s loaded: %(n)s codes, in force from %(d)s.",
            code=data["code"],
            n=result.total,
            d=data["effective_from"].isoformat(),
        )
    )
    return redirect(url_for("catalog.editions_admin"))
