"""Oversight API: balances, risk ratings and 双随机 inspection draws (regulators only;
enterprises get 403, objects of another body or outside the jurisdiction 404)."""

from __future__ import annotations

import json
from typing import Any

from hazwaste.api.core import (
    bp,
    commit,
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
from hazwaste.oversight import balances, draws, risk, scope
from hazwaste.oversight.models import InspectionDraw
from hazwaste.oversight.schemas import (
    BalanceFilterSchema,
    BalanceRowOutSchema,
    DrawOutSchema,
    DrawSchema,
    RatingOutSchema,
    RiskFilterSchema,
)


def _filters(args: dict[str, Any]) -> balances.BalanceFilters:
    result: balances.BalanceFilters = scope.balance_filters(db.session, current_api_user(), args)
    return result


@bp.get("/balances")
@token_required
@document(
    "/api/v1/balances",
    "get",
    "Tonnage balances per enterprise (or region), month and waste code; kg as decimal strings",
    tags=["oversight"],
    query=BalanceFilterSchema,
    response=BalanceRowOutSchema,
    many=True,
)
def balance_rows() -> Any:
    scope.prefix_of(current_api_user())
    args = load_query(BalanceFilterSchema())
    rows = balances.rows(db.session, _filters(args), limit=balances.EXPORT_MAX)
    return ok(BalanceRowOutSchema(many=True).dump(rows), count=len(rows))


@bp.get("/risk")
@token_required
@document(
    "/api/v1/risk",
    "get",
    "Risk score and grade of every enterprise in the jurisdiction (formula in the docs)",
    tags=["oversight"],
    query=RiskFilterSchema,
    response=RatingOutSchema,
    many=True,
)
def risk_ratings() -> Any:
    user = current_api_user()
    scope.prefix_of(user)
    args = load_query(RiskFilterSchema())
    ratings = risk.ratings(db.session, utcnow(), scope.region_prefix(user, args["region"]))
    if args["grade"]:
        ratings = [r for r in ratings if r.grade == args["grade"]]
    return ok(RatingOutSchema(many=True).dump(ratings), count=len(ratings))


def _out(draw: InspectionDraw, verified: bool | None = None) -> dict[str, Any]:
    return dict(
        DrawOutSchema().dump(
            {
                "id": draw.id,
                "regulator_body_id": draw.regulator_body_id,
                "created_by_id": draw.created_by_id,
                "created_at": draw.created_at,
                "seed": draw.seed,
                "inputs": json.loads(draw.inputs),
                "result": json.loads(draw.result),
                "verified": verified,
            }
        )
    )


@bp.get("/inspections/draws")
@token_required
@document(
    "/api/v1/inspections/draws",
    "get",
    "The latest inspection draws of the user's regulator body",
    tags=["oversight"],
    response=DrawOutSchema,
    many=True,
)
def draw_list() -> Any:
    items = draws.listing(db.session, current_api_user())
    return ok([_out(d) for d in items], count=len(items))


@bp.post("/inspections/draws")
@token_required
@idempotent
@document(
    "/api/v1/inspections/draws",
    "post",
    "Draw N enterprises and their inspectors at random (seed from `secrets` unless given)",
    tags=["oversight"],
    request=DrawSchema,
    response=DrawOutSchema,
    idempotent=True,
    statuses={201: "Created"},
)
def draw_create() -> Any:
    user = current_api_user()
    scope.prefix_of(user)
    data = load_json(DrawSchema())
    draw = service_call(draws.create, db.session, utcnow(), user, draws.DrawRequest(**data))
    return commit(ok(_out(draw), 201))


@bp.get("/inspections/draws/<int:draw_id>")
@token_required
@document(
    "/api/v1/inspections/draws/{draw_id}",
    "get",
    "One draw with its seed, inputs and result, re-run to verify it (`verified`)",
    tags=["oversight"],
    response=DrawOutSchema,
)
def draw_show(draw_id: int) -> Any:
    draw = draws.get(db.session, current_api_user(), draw_id)
    verified, _again = draws.verify(draw)
    return ok(_out(draw, verified))
