"""Catalogue API: the waste-code search, the editions (any token) and the import of an
edition with its differences (platform administrators; ``dry_run`` to see them only)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hazwaste.api.core import (
    bp,
    current_api_user,
    load_json,
    load_query,
    ok,
    service_call,
    token_required,
)
from hazwaste.api.spec import document
from hazwaste.catalog import editions, services
from hazwaste.catalog.schemas import (
    DiffOutSchema,
    EditionImportSchema,
    EditionOutSchema,
    WasteCodeOutSchema,
    WasteCodeQuerySchema,
)
from hazwaste.db import utcnow
from hazwaste.errors import Forbidden
from hazwaste.extensions import db

TAGS = ["reference"]


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


@bp.get("/waste-codes")
@token_required
@document(
    "/api/v1/waste-codes",
    "get",
    "Search the catalogue in force, best match first: code or its start, HW category, "
    "everyday name (废机油, 实验室废液) or words of the description; `meta.total` counts "
    "every match, `offset` pages on",
    tags=["reference"],
    query=WasteCodeQuerySchema,
    response=WasteCodeOutSchema,
    many=True,
)
def waste_codes() -> Any:
    args = load_query(WasteCodeQuerySchema())
    on_date = args["on"] or date.today()
    limit = max(1, min(int(args["limit"]), 500))
    found = services.rank_waste_codes(
        db.session, args["q"], on_date, args["category"], int(args["offset"]), limit
    )
    return ok(
        WasteCodeOutSchema(many=True).dump(found.rows), count=len(found.rows), total=found.total
    )
