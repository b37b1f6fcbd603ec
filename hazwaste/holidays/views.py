"""The platform administrator's holiday page: where each year's working days come from, and
the upload of a year's official schedule."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from hazwaste import csvimport
from hazwaste.accounts.permissions import platform_admin_required
from hazwaste.db import utcnow
from hazwaste.errors import Invalid
from hazwaste.extensions import db
from hazwaste.holidays import schemas, services
from hazwaste.schemas import field_errors

bp = Blueprint("holidays", __name__)


def _page(values: dict[str, Any], errors: dict[str, Any]) -> str:
    now = utcnow()
    return render_template(
        "holidays/admin.html",
        years=services.status(db.session, services.years_around(now, back=3, ahead=2)),
        missing=services.missing_next_year(db.session, now),
        values=values,
        errors=errors,
        max_kb=services.MAX_FILE_BYTES // 1024,
    )


@bp.get("/admin/holidays")
@platform_admin_required
def admin() -> str:
    return _page({}, {})


@bp.post("/admin/holidays")
@platform_admin_required
def upload() -> Response | tuple[str, int]:
    """Load the uploaded schedule file (all or nothing; row-level errors)."""
    values = {"source": request.form.get("source", "")[:200]}
    upload = request.files.get("file")
    try:
        data = schemas.UploadSchema().load(values)
        if upload is None or not upload.filename:
            msg = _("Choose a schedule file (CSV).")
            raise Invalid(msg, {"file": [msg]})
        raw = upload.stream.read(services.MAX_FILE_BYTES + 1)
        text = csvimport.decode(raw)  # UTF-8 or GB18030, as Excel saves it
        written = services.load_text(db.session, utcnow(), text, data["source"], current_user)
    except ValidationError as exc:
        db.session.rollback()
        return _page(values, field_errors(exc)), 422
    except Invalid as exc:
        db.session.rollback()
        return _page(values, exc.fields), 422
    db.session.commit()
    loaded = [str(year) for year, changed in written.items() if changed]
    if loaded:
        flash(
            _(
                "Schedule loaded for %(years)s. Provisional due dates are being computed again.",
                years="、".join(loaded),
            )
        )
    else:
        flash(_("Nothing changed: the schedule was already loaded."))
    return redirect(url_for("holidays.admin"))
