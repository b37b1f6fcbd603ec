"""Manifest pages for office staff: list, draft form, detail with timeline, lifecycle actions.

Drivers and receivers act from the QR scan pages (:mod:`hazwaste.manifests.scan`); both call
the same lifecycle verbs and schemas.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from hazwaste import exports as shared_exports
from hazwaste.accounts.models import User
from hazwaste.accounts.permissions import login_required
from hazwaste.catalog.models import HAZARD_CODES
from hazwaste.db import utcnow
from hazwaste.errors import Conflict, Forbidden, Invalid
from hazwaste.extensions import db
from hazwaste.manifests import access, lifecycle, services
from hazwaste.manifests import exports as manifest_exports
from hazwaste.manifests.models import Manifest, ManifestStatus, PhysicalForm
from hazwaste.manifests.schemas import (
    CancelSchema,
    CorrectionSchema,
    ListArgsSchema,
    ManifestDraftSchema,
)
from hazwaste.manifests.tokens import make_token
from hazwaste.pagination import paginate
from hazwaste.permits import services as permits
from hazwaste.schemas import field_errors, nested_form

bp = Blueprint("manifests", __name__, url_prefix="/manifests")

#: Blank line rows offered on the form for browsers without JavaScript.
SPARE_LINES = 2


def _can_create(user: Any) -> bool:
    return services.can_create(user)


def _list_args() -> tuple[dict[str, Any], dict[str, Any], services.ManifestFilters]:
    """The list's query arguments; invalid filters are reported and ignored."""
    try:
        args = ListArgsSchema().load(request.args)
        errors: dict[str, Any] = {}
    except ValidationError as exc:
        args = ListArgsSchema().load({})
        errors = field_errors(exc)
    filters = services.ManifestFilters(
        status=args["status"],
        date_from=args["date_from"],
        date_to=args["date_to"],
        counterpart_id=args["counterpart_id"],
        waste_code=args["waste_code"],
        q=args["q"],
    )
    return args, errors, filters


@bp.get("/")
@login_required
def index() -> Any:
    args, errors, filters = _list_args()
    per_page = args["per_page"] or current_app.config["PAGE_SIZE"]
    page = paginate(
        db.session,
        services.list_query(current_user, filters),
        args["page"],
        per_page,
        args={k: v for k, v in request.args.items() if k != "page"},
    )
    return render_template(
        "manifests/list.html",
        page=page,
        args=request.args,
        errors=errors,
        counterparts=services.counterparts(db.session, current_user),
        statuses=[s.value for s in ManifestStatus],
        can_create=_can_create(current_user),
        export_args={k: v for k, v in request.args.items() if k not in ("page", "per_page")},
    ), (422 if errors else 200)


@bp.get("/export.csv")
@login_required
def export_csv() -> Any:
    """The manifests the list shows with the same filters, every page, as CSV."""
    _args, _errors, filters = _list_args()
    user_id = current_user.id  # plain values only: the rows are read after the request

    def make_rows(session: Session) -> Iterator[list[Any]]:
        user = session.get(User, user_id)
        return manifest_exports.rows(session, user, filters) if user else iter(())

    return shared_exports.csv_download(manifest_exports.header(), make_rows, "manifests.csv")


@bp.get("/export.xlsx")
@login_required
def export_xlsx() -> Any:
    _args, _errors, filters = _list_args()
    rows = manifest_exports.rows(db.session, current_user, filters)
    body = shared_exports.xlsx_bytes(_("Manifests"), manifest_exports.header(), rows)
    return shared_exports.download(body, shared_exports.XLSX_MIMETYPE, "manifests.xlsx")


def _form_context(
    values: dict[str, Any], errors: dict[str, Any], manifest: Manifest | None = None
) -> dict[str, Any]:
    carriers = services.party_choices(db.session, "carrier")
    vehicles = {c.id: permits.org_vehicles(db.session, c.id, active_only=True) for c in carriers}
    drivers = {c.id: permits.org_drivers(db.session, c.id, active_only=True) for c in carriers}
    lines = list(values.get("lines") or [])
    lines += [{} for _ in range(SPARE_LINES if lines else SPARE_LINES + 1)]
    from hazwaste.ledger import services as ledger

    org_id = current_user.organization_id
    in_store = ledger.containers_in_store(db.session, org_id) if org_id else []
    if manifest is not None:
        in_store = ledger.manifest_containers(db.session, manifest.id) + in_store
    return {
        "values": values,
        "errors": errors,
        "manifest": manifest,
        "lines": lines,
        "receivers": services.party_choices(db.session, "receiver"),
        "carriers": carriers,
        "vehicles": vehicles,
        "drivers": drivers,
        "forms": [f.value for f in PhysicalForm],
        "hazard_codes": HAZARD_CODES,
        "containers": in_store,
        "chosen_containers": {str(c) for c in values.get("container_ids") or []},
    }


def _values_of(manifest: Manifest) -> dict[str, Any]:
    """Form values of a saved draft. Lines that came from containers are not repeated as
    typed lines: they are rebuilt from the containers still ticked."""
    from hazwaste.ledger import services as ledger

    containers = ledger.manifest_containers(db.session, manifest.id)
    container_codes = {c.waste_code for c in containers}
    return {
        "container_ids": [c.id for c in containers],
        "carrier_id": manifest.carrier_id,
        "receiver_id": manifest.receiver_id,
        "vehicle_id": manifest.vehicle_id or "",
        "driver_id": manifest.driver_id or "",
        "planned_date": manifest.planned_date.isoformat(),
        "emergency_measures": manifest.emergency_measures,
        "lines": [
            {
                "waste_code": ln.waste_code,
                "waste_name": ln.waste_name,
                "physical_form": ln.physical_form.value,
                "hazards": ln.hazard_list,
                "packaging": ln.packaging,
                "container_count": ln.container_count,
                "declared_qty": format(
                    (
                        ln.declared_kg / 1000 if ln.declared_unit == "t" else ln.declared_kg
                    ).normalize(),
                    "f",
                ),
                "declared_unit": ln.declared_unit,
            }
            for ln in manifest.lines
            if ln.waste_code not in container_codes
        ],
    }


def _save(manifest: Manifest | None) -> Any:
    """Create or update the draft from the posted form; submit too if asked."""
    raw = nested_form(request.form)
    raw["container_ids"] = request.form.getlist("container_ids")
    for row in raw["lines"]:
        if isinstance(row.get("hazards"), str):
            row["hazards"] = [row["hazards"]]
    values = raw
    now = utcnow()
    try:
        data = ManifestDraftSchema().load(raw)
        if manifest is None:
            manifest = services.create_draft(db.session, now, current_user, data)
        else:
            services.update_draft(db.session, now, current_user, manifest, data)
    except ValidationError as exc:
        db.session.rollback()
        return render_template(
            "manifests/form.html", **_form_context(values, field_errors(exc), manifest)
        ), 422
    except Invalid as exc:
        db.session.rollback()
        return render_template(
            "manifests/form.html", **_form_context(values, exc.fields, manifest)
        ), 422
    db.session.commit()
    if request.form.get("action") != "submit":
        flash(_("Draft saved."))
        return redirect(url_for("manifests.edit", manifest_id=manifest.id))
    try:
        lifecycle.submit(db.session, utcnow(), manifest, current_user)
    except Invalid as exc:
        db.session.rollback()
        flash(
            _(
                "The draft is saved, but it cannot be submitted yet: please correct the "
                "fields marked below."
            ),
            "error",
        )
        return render_template(
            "manifests/form.html", **_form_context(values, exc.fields, manifest)
        ), 422
    db.session.commit()
    for warning in lifecycle.warnings(db.session, manifest):
        flash(warning, "warning")
    flash(
        _(
            "Manifest %(number)s issued. Print it or send the QR code to the carrier.",
            number=manifest.number,
        )
    )
    return redirect(url_for("manifests.detail", manifest_id=manifest.id))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    if not _can_create(current_user):
        raise Forbidden(_("Only staff of an approved producer can create manifests."))
    if request.method == "POST":
        return _save(None)
    tomorrow = (services.local_date(utcnow()) + timedelta(days=1)).isoformat()
    return render_template("manifests/form.html", **_form_context({"planned_date": tomorrow}, {}))


@bp.route("/<int:manifest_id>/edit", methods=["GET", "POST"])
@login_required
def edit(manifest_id: int) -> Any:
    manifest = services.get_visible(db.session, current_user, manifest_id)
    if not lifecycle.can_edit(manifest, current_user):
        # Party before state: only the producer's staff learn that it is no longer a draft.
        if not access.acts_for_producer(current_user, manifest):
            raise Forbidden()
        raise Conflict(
            _("Only drafts can be edited; use a correction after submission."),
            status=manifest.status.value,
        )
    if request.method == "POST":
        return _save(manifest)
    return render_template(
        "manifests/form.html", **_form_context(_values_of(manifest), {}, manifest)
    )


@bp.get("/<int:manifest_id>")
@login_required
def detail(manifest_id: int) -> str:
    manifest = services.get_visible(db.session, current_user, manifest_id)
    return render_template(
        "manifests/detail.html",
        manifest=manifest,
        actions=lifecycle.available_actions(manifest, current_user),
        token=make_token(manifest.id, manifest.number) if manifest.number else None,
        is_party=current_user.organization_id in manifest.party_ids,
        errors={},
        values={},
    )


@bp.post("/<int:manifest_id>/submit")
@login_required
def submit(manifest_id: int) -> Any:
    manifest = services.get_visible(db.session, current_user, manifest_id)
    try:
        lifecycle.submit(db.session, utcnow(), manifest, current_user)
    except Invalid as exc:
        db.session.rollback()
        flash(
            _("The manifest cannot be submitted yet: please correct the fields marked below."),
            "error",
        )
        return render_template(
            "manifests/form.html", **_form_context(_values_of(manifest), exc.fields, manifest)
        ), 422
    db.session.commit()
    for warning in lifecycle.warnings(db.session, manifest):
        flash(warning, "warning")
    flash(_("Manifest %(number)s issued.", number=manifest.number))
    return redirect(url_for("manifests.detail", manifest_id=manifest.id))


@bp.post("/<int:manifest_id>/cancel")
@login_required
def cancel(manifest_id: int) -> Any:
    manifest = services.get_visible(db.session, current_user, manifest_id)
    lifecycle.ensure_allowed("cancel", manifest, current_user)  # 403/409 before the form
    try:
        data = CancelSchema().load(request.form)
        lifecycle.cancel(db.session, utcnow(), manifest, current_user, data["reason"])
    except (ValidationError, Invalid) as exc:
        db.session.rollback()
        errors = field_errors(exc) if isinstance(exc, ValidationError) else exc.fields
        return render_template(
            "manifests/detail.html",
            manifest=manifest,
            actions=lifecycle.available_actions(manifest, current_user),
            token=make_token(manifest.id, manifest.number) if manifest.number else None,
            is_party=True,
            errors=errors,
            values=request.form,
        ), 422
    db.session.commit()
    flash(_("Manifest cancelled."))
    return redirect(url_for("manifests.detail", manifest_id=manifest.id))


@bp.route("/<int:manifest_id>/correct", methods=["GET", "POST"])
@login_required
def correct(manifest_id: int) -> Any:
    manifest = services.get_visible(db.session, current_user, manifest_id)
    if not lifecycle.can_correct(manifest, current_user):
        if access.acts_for_producer(current_user, manifest):
            raise Conflict(
                _("This manifest can no longer be corrected."), status=manifest.status.value
            )
        raise Forbidden()
    carrier_vehicles = permits.org_vehicles(db.session, manifest.carrier_id, active_only=True)
    carrier_drivers = permits.org_drivers(db.session, manifest.carrier_id, active_only=True)
    context = {"manifest": manifest, "vehicles": carrier_vehicles, "drivers": carrier_drivers}
    if request.method == "GET":
        return render_template(
            "manifests/correct.html",
            errors={},
            values={
                **_values_of(manifest),
                "lines": [
                    {
                        "line_id": ln.id,
                        "waste_name": ln.waste_name,
                        "packaging": ln.packaging,
                        "container_count": ln.container_count,
                        "declared_kg": format(ln.declared_kg.normalize(), "f"),
                    }
                    for ln in manifest.lines
                ],
            },
            **context,
        )
    raw = nested_form(request.form)
    try:
        data = CorrectionSchema().load(raw)
        lifecycle.correct(db.session, utcnow(), manifest, current_user, data)
    except (ValidationError, Invalid) as exc:
        db.session.rollback()
        errors = field_errors(exc) if isinstance(exc, ValidationError) else exc.fields
        manifest = services.get_visible(db.session, current_user, manifest_id)
        context["manifest"] = manifest
        message = exc.message if isinstance(exc, Invalid) else ""
        return render_template(
            "manifests/correct.html", errors=errors, values=raw, message=message, **context
        ), 422
    db.session.commit()
    flash(_("Correction recorded; every party sees it in the timeline."))
    return redirect(url_for("manifests.detail", manifest_id=manifest.id))


@bp.app_template_global()
def manifest_overdue(manifest: Manifest) -> bool:
    """True when the receipt is late (shown in lists and on the detail page)."""
    return (
        manifest.status is ManifestStatus.DELIVERED
        and manifest.receipt_due_date is not None
        and manifest.receipt_due_date < services.local_date(utcnow())
    )
