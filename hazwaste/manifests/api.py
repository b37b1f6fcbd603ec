"""Manifest endpoints of the JSON API: the same services and schemas as the pages.

Every state change accepts ``Idempotency-Key``; wrong state → 409 with the current status,
not visible → 404, visible but not this party's action → 403, invalid → 422 with fields.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

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
from hazwaste.extensions import db
from hazwaste.manifests import lifecycle, services
from hazwaste.manifests.schemas import (
    CancelSchema,
    CorrectionSchema,
    DeliverySchema,
    DisposalSchema,
    EventOutSchema,
    ListArgsSchema,
    ManifestDraftSchema,
    ManifestOutSchema,
    PickupSchema,
    ReceiptSchema,
)
from hazwaste.pagination import paginate

TAGS = ["manifests"]
CONFLICT = {409: "Wrong state for this action; `status` gives the current one"}


def _out(manifest: Any) -> dict[str, Any]:
    db.session.refresh(manifest)
    return dict(ManifestOutSchema().dump(manifest))


@bp.post("/manifests")
@token_required
@idempotent
@document(
    "/api/v1/manifests",
    "post",
    "Create a draft manifest",
    tags=TAGS,
    request=ManifestDraftSchema,
    response=ManifestOutSchema,
    idempotent=True,
    statuses={201: "Created"},
)
def create() -> Any:
    data = load_json(ManifestDraftSchema())
    manifest = service_call(services.create_draft, db.session, utcnow(), current_api_user(), data)
    db.session.commit()
    return ok(_out(manifest), 201)


@bp.get("/manifests")
@token_required
@document(
    "/api/v1/manifests",
    "get",
    "Manifests visible to the user (filters, pages)",
    tags=TAGS,
    query=ListArgsSchema,
    response=ManifestOutSchema,
    many=True,
)
def index() -> Any:
    args = load_query(ListArgsSchema())
    filters = services.ManifestFilters(
        status=args["status"],
        date_from=args["date_from"],
        date_to=args["date_to"],
        counterpart_id=args["counterpart_id"],
        waste_code=args["waste_code"],
        q=args["q"],
    )
    per_page = min(
        args["per_page"] or current_app.config["PAGE_SIZE"], current_app.config["PAGE_SIZE_MAX"]
    )
    page = paginate(
        db.session, services.list_query(current_api_user(), filters), args["page"], per_page
    )
    return ok(ManifestOutSchema(many=True).dump(page.items), **page.meta())


@bp.get("/manifests/<key>")
@token_required
@document(
    "/api/v1/manifests/{key}",
    "get",
    "One manifest, by id or 14-digit number",
    tags=TAGS,
    response=ManifestOutSchema,
)
def show(key: str) -> Any:
    return ok(ManifestOutSchema().dump(services.get_visible(db.session, current_api_user(), key)))


@bp.patch("/manifests/<int:manifest_id>")
@token_required
@idempotent
@document(
    "/api/v1/manifests/{manifest_id}",
    "patch",
    "Change a draft (fields not given keep their value; `lines` replaces all lines)",
    tags=TAGS,
    request=ManifestDraftSchema,
    response=ManifestOutSchema,
    idempotent=True,
    statuses=CONFLICT,
)
def patch(manifest_id: int) -> Any:
    user = current_api_user()
    manifest = services.get_visible(db.session, user, manifest_id)
    current = ManifestDraftSchema().dump(
        {
            "carrier_id": manifest.carrier_id,
            "receiver_id": manifest.receiver_id,
            "vehicle_id": manifest.vehicle_id,
            "driver_id": manifest.driver_id,
            "planned_date": manifest.planned_date,
            "emergency_measures": manifest.emergency_measures,
            "lines": [],
            "container_ids": [],
        }
    )
    current["lines"] = [
        {
            "waste_code": ln.waste_code,
            "waste_name": ln.waste_name,
            "physical_form": ln.physical_form.value,
            "hazards": ln.hazard_list,
            "packaging": ln.packaging,
            "container_count": ln.container_count,
            "declared_qty": str(ln.declared_kg),
            "declared_unit": "kg",
        }
        for ln in manifest.lines
    ]
    from flask import request

    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return load_json(ManifestDraftSchema())  # raises the uniform 422
    from marshmallow import ValidationError

    from hazwaste.errors import Invalid
    from hazwaste.schemas import field_errors

    try:
        data = ManifestDraftSchema().load({**current, **body})
    except ValidationError as exc:
        raise Invalid("", field_errors(exc)) from exc
    service_call(services.update_draft, db.session, utcnow(), user, manifest, data)
    db.session.commit()
    return ok(_out(manifest))


def _action(manifest_id: int, verb: Any, schema: Any = None) -> Any:
    user = current_api_user()
    manifest = services.get_visible(db.session, user, manifest_id)
    data = load_json(schema()) if schema is not None else None
    now = utcnow()
    if verb is lifecycle.submit:
        service_call(verb, db.session, now, manifest, user)
    elif verb is lifecycle.cancel:
        assert data is not None  # CancelSchema always given for cancel
        service_call(verb, db.session, now, manifest, user, data["reason"])
    else:
        service_call(verb, db.session, now, manifest, user, data)
    db.session.commit()
    return ok(_out(manifest))


def _register(name: str, verb: Any, schema: Any, summary: str) -> None:
    def view(manifest_id: int) -> Any:
        return _action(manifest_id, verb, schema)

    view.__name__ = f"manifest_{name}"
    decorated = document(
        f"/api/v1/manifests/{{manifest_id}}/{name}",
        "post",
        summary,
        tags=TAGS,
        request=schema,
        response=ManifestOutSchema,
        idempotent=True,
        statuses=CONFLICT,
    )(idempotent(view))
    bp.add_url_rule(
        f"/manifests/<int:manifest_id>/{name}",
        view.__name__,
        token_required(decorated),
        methods=["POST"],
    )


for _name, _verb, _schema, _summary in (
    ("submit", lifecycle.submit, None, "Validate, number and issue a draft"),
    ("pickup", lifecycle.pickup, PickupSchema, "Driver's pickup: vehicle, weights, GPS, scans"),
    ("delivery", lifecycle.deliver, DeliverySchema, "Arrival at the receiver's gate"),
    ("receipt", lifecycle.receive, ReceiptSchema, "Weighbridge quantities and decisions"),
    ("disposal", lifecycle.dispose, DisposalSchema, "Utilisation or disposal per line"),
    ("cancel", lifecycle.cancel, CancelSchema, "Cancel before pickup, with a reason"),
    ("correction", lifecycle.correct, CorrectionSchema, "A reasoned correction after submit"),
):
    _register(_name, _verb, _schema, _summary)


@bp.get("/manifests/<int:manifest_id>/events")
@token_required
@document(
    "/api/v1/manifests/{manifest_id}/events",
    "get",
    "The hand-off timeline",
    tags=TAGS,
    response=EventOutSchema,
    many=True,
)
def events(manifest_id: int) -> Any:
    manifest = services.get_visible(db.session, current_api_user(), manifest_id)
    return ok(EventOutSchema(many=True).dump(manifest.events))
