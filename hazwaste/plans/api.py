"""Management plan API: ``/api/v1/plans``.

Producer office staff read the year's plan (plan versus actual per waste code, with the
supervision tier and its working), create or update one row, delete a row, and import a
CSV plan all-or-nothing. Quantities are decimal strings in kg (the CSV file, as on the
page, gives tonnes).
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_babel import gettext as _
from marshmallow import fields

from hazwaste.api.core import (
    bp,
    current_api_user,
    idempotent,
    load_json,
    load_query,
    ok,
    service_call,
    token_required,
)
from hazwaste.api.spec import document
from hazwaste.db import utcnow
from hazwaste.errors import Invalid
from hazwaste.extensions import db
from hazwaste.ledger.services import local_date, producer_of
from hazwaste.plans import services
from hazwaste.plans.schemas import (
    ImportOutSchema,
    PlanSchema,
    PlanYearOutSchema,
    SavedPlanOutSchema,
    YearArgsSchema,
)
from hazwaste.schemas import ROW_ERRORS_MAX, BaseSchema

TAGS = ["plans"]


class DeletedOutSchema(BaseSchema):
    id = fields.Integer()
    deleted = fields.Boolean()


@bp.get("/plans")
@token_required
@document(
    "/api/v1/plans",
    "get",
    "The year's management plan (default: this year): planned versus actual generation "
    "(ledger) and shipments (weighed pickups) per waste code, and the supervision tier with "
    "the yearly figures it was computed from",
    tags=TAGS,
    query=YearArgsSchema,
    response=PlanYearOutSchema,
)
def list_plans() -> Any:
    producer = producer_of(current_api_user())
    year = load_query(YearArgsSchema())["year"] or local_date(utcnow()).year
    rows = services.plan_vs_actual(db.session, producer.id, year)
    tier = services.compute_tier(db.session, producer.id, year)
    return ok(PlanYearOutSchema().dump({"year": year, "rows": rows, "tier": tier}))


@bp.post("/plans")
@token_required
@idempotent
@document(
    "/api/v1/plans",
    "post",
    "Create the plan row for a year and waste code, or update it if it exists (201 when "
    "created, 200 when updated); ``warnings`` says if the receiver's licence does not cover "
    "the code on 1 January",
    tags=TAGS,
    request=PlanSchema,
    response=SavedPlanOutSchema,
    idempotent=True,
    statuses={200: "An existing row (same year and waste code) updated", 201: "Created"},
)
def save_plan() -> Any:
    user = current_api_user()
    producer_of(user)
    data = load_json(PlanSchema())
    result = service_call(services.save_plan, db.session, utcnow(), user, data)
    db.session.commit()
    return ok(SavedPlanOutSchema().dump(result), 201 if result.created else 200)


@bp.delete("/plans/<int:plan_id>")
@token_required
@document(
    "/api/v1/plans/{id}",
    "delete",
    "Delete one of the producer's plan rows",
    tags=TAGS,
    response=DeletedOutSchema,
)
def delete_plan(plan_id: int) -> Any:
    user = current_api_user()
    producer_of(user)
    service_call(services.delete_plan, db.session, utcnow(), user, plan_id)
    db.session.commit()
    return ok(DeletedOutSchema().dump({"id": plan_id, "deleted": True}))


def _csv_body() -> bytes:
    """The CSV file: a multipart upload's ``file`` part, or the raw body (``text/csv``)."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            msg = _("Choose a CSV file.")
            raise Invalid(msg, {"file": [msg]})
        return upload.read(services.MAX_IMPORT_BYTES + 1)
    if request.mimetype not in ("text/csv", "text/plain", "application/csv"):
        msg = _("Send the CSV file as text/csv or as multipart/form-data with a file part.")
        raise Invalid(msg, {"file": [msg]})
    return request.get_data()[: services.MAX_IMPORT_BYTES + 1]


#: The import's body: the CSV itself, or a form upload with a ``file`` part.
CSV_UPLOAD = {
    "text/csv": {"schema": {"type": "string"}},
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "properties": {"file": {"type": "string", "format": "binary"}},
            "required": ["file"],
        }
    },
}


@bp.post("/plans/import")
@token_required
@document(
    "/api/v1/plans/import",
    "post",
    "Import a plan CSV (text/csv body, or multipart/form-data with a ``file`` part; UTF-8 or "
    "GB18030) with the columns year, waste_code, planned_generation_t, planned_transfer_t, "
    "intended_receiver_uscc, note (tonnes). All-or-nothing: errors are under "
    "``fields.rows.<line>.<column>`` with the file's line numbers (header = 1), for the "
    f"first {ROW_ERRORS_MAX} rows with errors; ``invalid_rows`` counts them all",
    tags=TAGS,
    response=ImportOutSchema,
    request_content=CSV_UPLOAD,
    statuses={422: "Some rows are invalid (nothing saved) or the file is unusable"},
)
def import_plans() -> Any:
    user = current_api_user()
    producer_of(user)
    raw = _csv_body()
    result = service_call(services.import_plans, db.session, utcnow(), user, raw)
    db.session.commit()
    body = ImportOutSchema().dump(result)
    body["warnings"] = {str(line): msgs for line, msgs in sorted(result.warnings.items())}
    return ok(body)
