"""Producer pages for containers (一物一码) and the management ledger (管理台账).

Lists, registration (one by form, many by CSV), a container's life, self-disposal, ledger
entries with exports, and the monthly summary. Only the producer's own office staff reach
these pages, except a container's page, which everyone allowed to see the container may
open (manifest parties, regulators in the region), typically by scanning its label at
``/c/<code>``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from hazwaste.accounts.models import UserRole
from hazwaste.accounts.permissions import enterprise_required, login_required
from hazwaste.catalog import services as catalog
from hazwaste.catalog.models import HAZARD_CODES
from hazwaste.db import utcnow
from hazwaste.errors import Conflict, Invalid
from hazwaste.exports import download
from hazwaste.extensions import db, login_manager
from hazwaste.ledger import exports, imports, queries, services
from hazwaste.ledger.models import Container, ContainerStatus, LedgerKind, PackagingType
from hazwaste.ledger.schemas import (
    CSV_COLUMNS,
    ContainerFilterSchema,
    ContainerSchema,
    LedgerEntrySchema,
    LedgerFilterSchema,
    SelfDisposalSchema,
    SummaryArgsSchema,
)
from hazwaste.manifests.models import PhysicalForm
from hazwaste.pagination import paginate
from hazwaste.schemas import field_errors

bp = Blueprint("ledger", __name__)

#: Office staff of an approved producer: the only users of the producer pages.
producer_staff = enterprise_required("producer", user_roles=(UserRole.ADMIN, UserRole.MEMBER))


def _today() -> date:
    return services.local_date(utcnow())


def _args_without(*names: str) -> dict[str, Any]:
    return {k: v for k, v in request.args.items() if k not in names}


# -- containers ---------------------------------------------------------------------------------


@bp.get("/containers/")
@producer_staff
def containers() -> Any:
    errors: dict[str, Any] = {}
    try:
        args = ContainerFilterSchema().load(request.args)
    except ValidationError as exc:
        errors = field_errors(exc)
        args = ContainerFilterSchema().load({})
    producer_id = current_user.organization_id
    filters = queries.ContainerFilters(
        status=args["status"], waste_code=args["waste_code"], q=args["q"]
    )
    page = paginate(
        db.session,
        queries.container_list_query(producer_id, filters),
        args["page"],
        current_app.config["PAGE_SIZE"],
        args=_args_without("page"),
    )
    return render_template(
        "ledger/containers.html",
        page=page,
        args=request.args,
        errors=errors,
        totals=queries.store_totals(db.session, producer_id),
        statuses=[s.value for s in ContainerStatus],
    ), (422 if errors else 200)


def _container_form(values: dict[str, Any], errors: dict[str, Any], status: int = 200) -> Any:
    return render_template(
        "ledger/container_form.html",
        values=values,
        errors=errors,
        forms=[f.value for f in PhysicalForm],
        packagings=[p.value for p in PackagingType],
        hazard_codes=HAZARD_CODES,
    ), status


@bp.route("/containers/new", methods=["GET", "POST"])
@producer_staff
def new_container() -> Any:
    if request.method == "GET":
        return _container_form({"generation_date": _today().isoformat()}, {})
    values = {**request.form.to_dict(), "hazards": request.form.getlist("hazards")}
    try:
        data = ContainerSchema().load(request.form)
        (container,) = services.register_containers(
            db.session, utcnow(), current_user, [data], _today()
        )
    except ValidationError as exc:
        db.session.rollback()
        return _container_form(values, field_errors(exc), 422)
    except Invalid as exc:
        db.session.rollback()
        rows = exc.fields.get("rows")
        errors: dict[str, Any] = rows[0] if isinstance(rows, dict) and 0 in rows else exc.fields
        return _container_form(values, errors, 422)
    db.session.commit()
    flash(_("Container registered: %(code)s", code=container.code))
    return redirect(url_for("ledger.container", key=container.id))


@bp.get("/containers/import/template.csv")
@producer_staff
def import_template() -> Response:
    body = ("\ufeff" + imports.template_csv()).encode("utf-8")
    return download(body, exports.CSV_MIMETYPE, "containers-template.csv")


def _messages(value: Any) -> list[str]:
    """Every message in a (possibly nested, e.g. per list item) error structure."""
    if isinstance(value, dict):
        return [m for v in value.values() for m in _messages(v)]
    if isinstance(value, list | tuple):
        return [m for v in value for m in _messages(v)]
    return [str(value)]


def _import_page(
    errors: dict[str, Any], message: str = "", status: int = 200, invalid_rows: int = 0
) -> Any:
    """The import form; after a failed import, a table of CSV line → column → message."""
    found = errors.get("rows")
    rows: dict[Any, Any] = found if isinstance(found, dict) else {}
    problems = [
        (line, name, msg)
        for line, fields in sorted(rows.items(), key=lambda item: int(item[0]))
        for name, msgs in (fields.items() if isinstance(fields, dict) else [("", fields)])
        for msg in _messages(msgs)
    ]
    general = [m for name, msgs in errors.items() if name != "rows" for m in _messages(msgs)]
    return render_template(
        "ledger/import.html",
        columns=CSV_COLUMNS,
        optional=imports.OPTIONAL_COLUMNS,
        errors=errors,
        message=message,
        problems=problems,
        # Rows with errors beyond the ones listed (the import lists the first ones only).
        more_rows=max(invalid_rows - len(rows), 0),
        general=general,
        max_rows=imports.MAX_IMPORT_ROWS,
        packagings=[p.value for p in PackagingType],
        forms=[f.value for f in PhysicalForm],
        hazard_codes=HAZARD_CODES,
    ), status


@bp.route("/containers/import", methods=["GET", "POST"])
@producer_staff
def import_containers() -> Any:
    if request.method == "GET":
        return _import_page({})
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        msg = _("Choose a CSV file.")
        return _import_page({"file": [msg]}, msg, 422)
    raw = upload.read(imports.MAX_IMPORT_BYTES + 1)
    try:
        created = imports.import_containers(db.session, utcnow(), current_user, raw, _today())
    except Invalid as exc:
        db.session.rollback()
        return _import_page(exc.fields, exc.message, 422, exc.extra.get("invalid_rows", 0))
    db.session.commit()
    flash(_("%(n)s containers registered.", n=len(created)))
    return redirect(url_for("ledger.containers", status=ContainerStatus.STORED.value))


def _container_page(
    container: Container, values: dict[str, Any], errors: dict[str, Any], status: int = 200
) -> Any:
    can_act = (
        container.producer_id == current_user.organization_id
        and current_user.role in (UserRole.ADMIN, UserRole.MEMBER)
        and container.status is ContainerStatus.STORED
    )
    return render_template(
        "ledger/container.html",
        container=container,
        steps=queries.container_history(db.session, current_user, container),
        can_self_dispose=can_act,
        methods=catalog.methods(db.session) if can_act else [],
        values=values,
        errors=errors,
    ), status


@bp.get("/containers/<key>")
@login_required
def container(key: str) -> Any:
    found = services.get_container(db.session, current_user, key)
    return _container_page(found, {"on": _today().isoformat()}, {})


@bp.post("/containers/<key>/self-dispose")
@producer_staff
def self_dispose(key: str) -> Any:
    found = services.get_container(db.session, current_user, key)
    try:
        data = SelfDisposalSchema().load(request.form)
        services.self_dispose(
            db.session, utcnow(), current_user, found, data["method_code"], data["on"], data["note"]
        )
    except ValidationError as exc:
        db.session.rollback()
        return _container_page(found, request.form.to_dict(), field_errors(exc), 422)
    except (Invalid, Conflict) as exc:
        db.session.rollback()
        db.session.refresh(found)
        errors = exc.fields or {"_schema": [exc.message]}
        return _container_page(found, request.form.to_dict(), errors, exc.status)
    db.session.commit()
    flash(_("Recorded as used or disposed of on site."))
    return redirect(url_for("ledger.container", key=found.id))


@bp.get("/c/<code>")
def container_by_code(code: str) -> Any:
    """Where a label's QR code leads: the container's page for whoever may see it."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    found = services.get_container(db.session, current_user, code)
    return redirect(url_for("ledger.container", key=found.id))


# -- ledger ---------------------------------------------------------------------------------


def _ledger_page(entry_values: dict[str, Any], entry_errors: dict[str, Any]) -> Any:
    """The filtered entry list (or its export) with the direct-entry form below it."""
    errors: dict[str, Any] = {}
    try:
        args = LedgerFilterSchema().load(request.args)
    except ValidationError as exc:
        errors = field_errors(exc)
        args = LedgerFilterSchema().load({})
    producer_id = current_user.organization_id
    filters = queries.EntryFilters(
        waste_code=args["waste_code"],
        kind=args["kind"],
        date_from=args["date_from"],
        date_to=args["date_to"],
    )
    if args["format"] and not errors:
        rows = queries.entries_for_export(db.session, producer_id, filters)
        stamp = _today().strftime("%Y%m%d")
        if args["format"] == "xlsx":
            return download(
                exports.entries_xlsx(rows), exports.XLSX_MIMETYPE, f"ledger-{stamp}.xlsx"
            )
        return download(exports.entries_csv(rows), exports.CSV_MIMETYPE, f"ledger-{stamp}.csv")
    page = paginate(
        db.session,
        queries.entry_list_query(producer_id, filters),
        args["page"],
        current_app.config["PAGE_SIZE"],
        args=_args_without("page", "format"),
        scalars=False,
    )
    return render_template(
        "ledger/entries.html",
        page=page,
        args=request.args,
        export_args=_args_without("page", "format"),
        errors=errors,
        kinds=[k.value for k in LedgerKind],
        direct_kinds=[k.value for k in services.DIRECT_KINDS],
        methods=catalog.methods(db.session),
        values=entry_values,
        entry_errors=entry_errors,
    ), (422 if errors or entry_errors else 200)


@bp.get("/ledger/")
@producer_staff
def entries() -> Any:
    return _ledger_page(
        {"occurred_on": _today().isoformat(), "kind": LedgerKind.GENERATED.value}, {}
    )


@bp.post("/ledger/")
@producer_staff
def add_entry() -> Any:
    try:
        data = LedgerEntrySchema().load(request.form)
        services.add_entry(db.session, utcnow(), current_user, data)
    except ValidationError as exc:
        db.session.rollback()
        return _ledger_page(request.form.to_dict(), field_errors(exc))
    except Invalid as exc:
        db.session.rollback()
        return _ledger_page(request.form.to_dict(), exc.fields)
    db.session.commit()
    flash(_("Ledger entry added."))
    return redirect(url_for("ledger.entries"))


def _shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


@bp.get("/ledger/summary")
@producer_staff
def summary() -> Any:
    errors: dict[str, Any] = {}
    try:
        args = SummaryArgsSchema().load(request.args)
    except ValidationError as exc:
        errors = field_errors(exc)
        args = SummaryArgsSchema().load({})
    today = _today()
    year, month = args["year"] or today.year, args["month"] or today.month
    balances = services.monthly_summary(db.session, current_user.organization_id, year, month)
    total = queries.summary_total(balances)
    if args["format"] and not errors:
        name = f"ledger-summary-{year}-{month:02d}"
        if args["format"] == "xlsx":
            return download(
                exports.summary_xlsx(balances, total), exports.XLSX_MIMETYPE, f"{name}.xlsx"
            )
        return download(exports.summary_csv(balances, total), exports.CSV_MIMETYPE, f"{name}.csv")
    prev_year, prev_month = _shift_month(year, month, -1)
    next_year, next_month = _shift_month(year, month, 1)
    return render_template(
        "ledger/summary.html",
        year=year,
        month=month,
        balances=balances,
        total=total,
        errors=errors,
        prev={"year": prev_year, "month": prev_month},
        next={"year": next_year, "month": next_month}
        if (next_year, next_month) <= (today.year, today.month)
        else None,
    ), (422 if errors else 200)
