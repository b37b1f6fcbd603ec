"""Catalogue editions through the API: the list (any token) and an import with its
differences (platform administrators; ``dry_run`` to see them only)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from hazwaste.api.core import bp, current_api_user, load_json, ok, service_call, token_required
from hazwaste.api.spec import document
from hazwaste.catalog import editions, services
from hazwaste.db import utcnow
from hazwaste.errors import Forbidden
from hazwaste.extensions import db
from hazwaste.schemas import BaseSchema, length

TAGS = ["reference"]


class EditionOutSchema(Schema):
    code = fields.String()
    name = fields.String()
    decree = fields.String()
    effective_from = fields.Date()
    waste_codes = fields.Integer()


class EditionImportSchema(BaseSchema):
    code = fields.String(required=True, validate=length(1, 16))
    name = fields.String(required=True, validate=length(1, 200))
    decree = fields.String(load_default="", validate=length(max=200))
    effective_from = fields.Date(required=True)
    csv = fields.String(required=True, validate=length(1, editions.MAX_FILE_BYTES))
    dry_run = fields.Boolean(load_default=True)
    keep_exemptions = fields.Boolean(load_default=True)


class ChangeOutSchema(Schema):
    code = fields.String()
    field = fields.String()
    before = fields.String()
    after = fields.String()


class DiffOutSchema(Schema):
    base = fields.String(allow_none=True)
    total = fields.Integer()
    added = fields.List(fields.String())
    removed = fields.List(fields.String())
    changed = fields.List(fields.Nested(ChangeOutSchema))
    loaded = fields.Boolean()


@bp.get("/catalog/editions")
@token_required
@document(
    "/api/v1/catalog/editions",
    "get",
    "The catalogue editions, newest first, with the day each comes into force",
    tags=TAGS,
    response=EditionOutSchema,
    many=True,
)
def catalog_editions() -> Any:
    rows = [
        {
            "code": e.code,
            "name": e.name,
            "decree": e.decree,
            "effective_from": e.effective_from,
            "waste_codes": n,
        }
        for e, n in services.editions(db.session)
    ]
    return ok(EditionOutSchema(many=True).dump(rows), count=len(rows))


@bp.post("/catalog/editions")
@token_required
@document(
    "/api/v1/catalog/editions",
    "post",
    "Import a new catalogue edition (platform administrators): the table as CSV text; "
    "`dry_run` (default true) answers the differences with the edition before it and loads "
    "nothing",
    tags=TAGS,
    request=EditionImportSchema,
    response=DiffOutSchema,
    statuses={
        200: "The differences (and whether it was loaded)",
        403: "Not a platform administrator",
    },
)
def import_catalog_edition() -> Any:
    user = current_api_user()
    if not user.is_platform_admin:
        raise Forbidden()
    data = load_json(EditionImportSchema())
    result = service_call(
        editions.import_edition,
        db.session,
        utcnow(),
        user,
        data,
        data["csv"],
        data["dry_run"],
        data["keep_exemptions"],
    )
    if data["dry_run"]:
        db.session.rollback()
    else:
        db.session.commit()
    return ok(DiffOutSchema().dump({**result.as_dict(), "loaded": not data["dry_run"]}))
