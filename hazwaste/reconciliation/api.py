"""``GET /api/v1/flags`` and ``GET /api/v1/flags/{id}``."""

from __future__ import annotations

from typing import Any

from flask import current_app

from hazwaste.api.core import bp, current_api_user, load_query, ok, token_required
from hazwaste.api.spec import document
from hazwaste.db import utcnow
from hazwaste.extensions import db
from hazwaste.pagination import paginate
from hazwaste.reconciliation import queries
from hazwaste.reconciliation.schemas import FlagFilterSchema, FlagOutSchema


@bp.get("/flags")
@token_required
@document(
    "/api/v1/flags",
    "get",
    "Reconciliation flags visible to the user; regulators filter the case queue by "
    "case_status, assignee (mine/none/id), age_days, min_tonnes, region, organization_id "
    "and sort (severity/age/tonnage/rule/enterprise)",
    tags=["reconciliation"],
    query=FlagFilterSchema,
    response=FlagOutSchema,
    many=True,
)
def flags() -> Any:
    args = load_query(FlagFilterSchema())
    filters = queries.filters_from_args(args, utcnow())
    per_page = min(
        args["per_page"] or current_app.config["PAGE_SIZE"], current_app.config["PAGE_SIZE_MAX"]
    )
    page = paginate(
        db.session, queries.list_query(current_api_user(), filters), args["page"], per_page
    )
    return ok(FlagOutSchema(many=True).dump(page.items), **page.meta())


@bp.get("/flags/<int:flag_id>")
@token_required
@document(
    "/api/v1/flags/{flag_id}",
    "get",
    "One flag with its evidence",
    tags=["reconciliation"],
    response=FlagOutSchema,
)
def flag(flag_id: int) -> Any:
    return ok(FlagOutSchema().dump(queries.get_visible(db.session, current_api_user(), flag_id)))
