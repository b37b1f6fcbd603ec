"""Containers and ledger API: ``/api/v1/containers`` and ``/api/v1/ledger``.

Producer office staff register containers (one, or many all-or-nothing), list and read
them, record self-disposal, read and add ledger entries, and read monthly summaries.
A container can also be read by anyone allowed to see it (manifest parties, regulators in
the producer's region). Quantities are decimal strings in kg.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import fields, validate

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
from hazwaste.ledger import queries, services
from hazwaste.ledger.schemas import (
    BULK_CONTAINERS_MAX,
    BulkContainersSchema,
    ContainerFilterSchema,
    ContainerOutSchema,
    ContainerSchema,
    LedgerEntryOutSchema,
    LedgerEntrySchema,
    LedgerFilterSchema,
    MonthBalanceOutSchema,
    SelfDisposalSchema,
    SummaryArgsSchema,
)
from hazwaste.pagination import paginate
from hazwaste.schemas import ROW_ERRORS_MAX, BaseSchema, capped_rows

TAGS = ["containers"]
LEDGER_TAGS = ["ledger"]


class ContainerListQuerySchema(ContainerFilterSchema):
    per_page = fields.Integer(load_default=None, validate=validate.Range(min=1, max=200))


class LedgerListQuerySchema(LedgerFilterSchema):
    per_page = fields.Integer(load_default=None, validate=validate.Range(min=1, max=200))

    class Meta(LedgerFilterSchema.Meta):
        exclude = ("format",)  # exports are for the pages; the API gives JSON


class SummaryQuerySchema(SummaryArgsSchema):
    class Meta(SummaryArgsSchema.Meta):
        exclude = ("format",)


class StepOutSchema(BaseSchema):
    kind = fields.String()
    on = fields.Date(allow_none=True)
    at = fields.AwareDateTime(allow_none=True)
    actor = fields.String()
    quantity_kg = fields.Decimal(as_string=True, allow_none=True)
    manifest_id = fields.Integer(allow_none=True)
    manifest_number = fields.String(allow_none=True)
    vehicle = fields.String()
    method_code = fields.String(allow_none=True)
    note = fields.String()


class ContainerDetailOutSchema(ContainerOutSchema):
    history = fields.List(fields.Nested(StepOutSchema))


class BulkResultOutSchema(BaseSchema):
    count = fields.Integer()
    containers = fields.List(fields.Nested(ContainerOutSchema))


class MonthSummaryOutSchema(BaseSchema):
    year = fields.Integer()
    month = fields.Integer()
    rows = fields.List(fields.Nested(MonthBalanceOutSchema))
    total = fields.Nested(MonthBalanceOutSchema)


def _per_page(args: dict[str, Any]) -> int:
    return min(
        args["per_page"] or current_app.config["PAGE_SIZE"], current_app.config["PAGE_SIZE_MAX"]
    )


def _register(rows: list[dict[str, Any]]) -> list[Any]:
    now = utcnow()
    created = service_call(
        services.register_containers,
        db.session,
        now,
        current_api_user(),
        rows,
        services.local_date(now),
    )
    db.session.commit()
    return list(created)


@bp.post("/containers")
@token_required
@idempotent
@document(
    "/api/v1/containers",
    "post",
    "Register one filled container; the response carries its 37-character digital code",
    tags=TAGS,
    request=ContainerSchema,
    response=ContainerOutSchema,
    idempotent=True,
    statuses={201: "Registered", 422: "Invalid fields (nothing saved)"},
)
def create_container() -> Any:
    services.producer_of(current_api_user())
    data = load_json(ContainerSchema())
    try:
        (container,) = _register([data])
    except Invalid as exc:
        rows = exc.fields.get("rows")
        if isinstance(rows, dict) and 0 in rows:
            raise Invalid(exc.message, rows[0]) from exc
        raise
    return ok(ContainerOutSchema().dump(container), 201)


@bp.post("/containers/bulk")
@token_required
@idempotent
@document(
    "/api/v1/containers/bulk",
    "post",
    'Register many containers all-or-nothing: ``{"containers": [...]}``, at most '
    f"{BULK_CONTAINERS_MAX}; errors are under ``fields.rows.<index>`` (the first "
    f"{ROW_ERRORS_MAX} rows with errors; ``invalid_rows`` counts them all)",
    tags=TAGS,
    request=BulkContainersSchema,
    response=BulkResultOutSchema,
    idempotent=True,
    statuses={201: "All registered", 422: "Some rows are invalid; nothing was saved"},
)
def create_containers_bulk() -> Any:
    services.producer_of(current_api_user())
    try:
        data = load_json(BulkContainersSchema())
        created = _register(data["containers"])
    except Invalid as exc:
        nested = exc.fields.pop("containers", None)
        if isinstance(nested, dict) and all(str(k).isdigit() for k in nested):
            exc.fields["rows"] = nested  # per-row errors, the same shape the service uses
        elif nested is not None:
            exc.fields["containers"] = nested
        rows = exc.fields.get("rows")
        if isinstance(rows, dict) and all(str(k).isdigit() for k in rows):
            exc.fields["rows"], exc.extra["invalid_rows"] = capped_rows(rows)
        raise
    return ok(BulkResultOutSchema().dump({"count": len(created), "containers": created}), 201)


@bp.get("/containers")
@token_required
@document(
    "/api/v1/containers",
    "get",
    "The producer's containers (filters: status, waste_code, q = part of the code)",
    tags=TAGS,
    query=ContainerListQuerySchema,
    response=ContainerOutSchema,
    many=True,
)
def list_containers() -> Any:
    producer = services.producer_of(current_api_user())
    args = load_query(ContainerListQuerySchema())
    filters = queries.ContainerFilters(
        status=args["status"], waste_code=args["waste_code"], q=args["q"]
    )
    page = paginate(
        db.session,
        queries.container_list_query(producer.id, filters),
        args["page"],
        _per_page(args),
    )
    return ok(ContainerOutSchema(many=True).dump(page.items), **page.meta())


@bp.get("/containers/<key>")
@token_required
@document(
    "/api/v1/containers/{id_or_code}",
    "get",
    "One container by id or 37-character digital code, with its history",
    tags=TAGS,
    response=ContainerDetailOutSchema,
)
def get_container(key: str) -> Any:
    user = current_api_user()
    container = services.get_container(db.session, user, key)
    body = ContainerOutSchema().dump(container)
    steps = queries.container_history(db.session, user, container)
    for step in steps:  # a manifest the user may not open is not named
        if not step.manifest_visible:
            step.manifest_id = step.manifest_number = None
    body["history"] = StepOutSchema(many=True).dump(steps)
    return ok(body)


@bp.post("/containers/<int:container_id>/self-disposal")
@token_required
@document(
    "/api/v1/containers/{id}/self-disposal",
    "post",
    "Record a stored container as used or disposed of on the producer's own site",
    tags=TAGS,
    request=SelfDisposalSchema,
    response=ContainerOutSchema,
    statuses={409: "The container is not in store", 422: "Invalid fields"},
)
def self_disposal(container_id: int) -> Any:
    user = current_api_user()
    services.producer_of(user)
    container = services.get_container(db.session, user, container_id)
    data = load_json(SelfDisposalSchema())
    service_call(
        services.self_dispose,
        db.session,
        utcnow(),
        user,
        container,
        data["method_code"],
        data["on"],
        data["note"],
    )
    db.session.commit()
    db.session.refresh(container)
    return ok(ContainerOutSchema().dump(container))


@bp.get("/ledger")
@token_required
@document(
    "/api/v1/ledger",
    "get",
    "The producer's ledger entries (filters: waste_code, kind, date_from, date_to)",
    tags=LEDGER_TAGS,
    query=LedgerListQuerySchema,
    response=LedgerEntryOutSchema,
    many=True,
)
def ledger_entries() -> Any:
    producer = services.producer_of(current_api_user())
    args = load_query(LedgerListQuerySchema())
    filters = queries.EntryFilters(
        waste_code=args["waste_code"],
        kind=args["kind"],
        date_from=args["date_from"],
        date_to=args["date_to"],
    )
    page = paginate(
        db.session,
        queries.entry_list_query(producer.id, filters),
        args["page"],
        _per_page(args),
        scalars=False,
    )
    items = []
    for entry, number in page.items:
        item = LedgerEntryOutSchema().dump(entry)
        item["manifest_number"] = number
        items.append(item)
    return ok(items, **page.meta())


@bp.post("/ledger")
@token_required
@idempotent
@document(
    "/api/v1/ledger",
    "post",
    "Add a ledger entry by hand (generated, self_used with method_code, or stock_count)",
    tags=LEDGER_TAGS,
    request=LedgerEntrySchema,
    response=LedgerEntryOutSchema,
    idempotent=True,
    statuses={201: "Added", 422: "Invalid fields"},
)
def add_ledger_entry() -> Any:
    user = current_api_user()
    services.producer_of(user)
    data = load_json(LedgerEntrySchema())
    entry = service_call(services.add_entry, db.session, utcnow(), user, data)
    db.session.commit()
    return ok(LedgerEntryOutSchema().dump(entry), 201)


@bp.get("/ledger/summary")
@token_required
@document(
    "/api/v1/ledger/summary",
    "get",
    "Monthly summary per waste code: opening, generated, shipped out, self-used, closing (kg)",
    tags=LEDGER_TAGS,
    query=SummaryQuerySchema,
    response=MonthSummaryOutSchema,
)
def ledger_summary() -> Any:
    producer = services.producer_of(current_api_user())
    args = load_query(SummaryQuerySchema())
    today = services.local_date(utcnow())
    year, month = args["year"] or today.year, args["month"] or today.month
    balances = services.monthly_summary(db.session, producer.id, year, month)
    return ok(
        MonthSummaryOutSchema().dump(
            {
                "year": year,
                "month": month,
                "rows": balances,
                "total": queries.summary_total(balances),
            }
        )
    )
