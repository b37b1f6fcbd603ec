"""Permit pages: receivers' licences, carriers' transport permits, vehicles and drivers, and
the licence-coverage check.

Every user of the organization (admin, member, driver) may look at its permit pages; only
its administrators add or change anything (members who post get 403; the services enforce
that too). Other organizations' users and regulators get 403, another organization's object
is a 404, and anonymous visitors are sent to the login page. Bad input re-renders the form
with 422, the typed values and a message next to each field, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import Schema, ValidationError
from sqlalchemy.orm import Session

from hazwaste.accounts.models import User, UserRole
from hazwaste.accounts.permissions import enterprise_required, login_required
from hazwaste.catalog import services as catalog
from hazwaste.db import utcnow
from hazwaste.errors import Forbidden, Invalid
from hazwaste.extensions import db
from hazwaste.labels import licence_mode_label, method_name
from hazwaste.permits import services
from hazwaste.permits.models import MODES, Licence
from hazwaste.permits.schemas import (
    CarrierPermitSchema,
    CoverageQuerySchema,
    DriverSchema,
    LicenceSchema,
    RevokeSchema,
    VehicleSchema,
)
from hazwaste.schemas import field_errors, form_dict

bp = Blueprint("permits", __name__, url_prefix="/permits")

#: Badge class of each validity state (see ``services.validity_state``).
STATE_BADGES = {
    "valid": "badge-ok",
    "expiring": "badge-warn",
    "expired": "badge-bad",
    "revoked": "badge-bad",
    "future": "",
}


def _today() -> date:
    return services.local_today(utcnow())  # permits are dated in China, not in UTC


def _state(permit: services.Validity, today: date) -> str:
    return services.validity_state(permit, today, current_app.config["LICENCE_EXPIRY_WARNING_DAYS"])


def _admin_only() -> None:
    if current_user.role is not UserRole.ADMIN:
        raise Forbidden(_("Only your organization's administrators can manage permits."))


def _post(
    schema: Schema,
    create: Callable[..., Any],
    check: Callable[[Session, User, dict[str, Any]], dict[str, Any]],
    template: str,
    context: Callable[[], dict[str, Any]],
    endpoint: str,
    message: str,
    checkbox_groups: frozenset[str] = frozenset(),
) -> Any:
    """Parse the form, call the service, commit once; else re-render with 422 and the input.

    When some fields fail to parse, ``check`` judges the others by the service's rules, so
    the form reports every problem at once. ``checkbox_groups`` name the fields re-rendered
    as lists of every ticked value.
    """
    _admin_only()
    try:
        data = schema.load(request.form)
        create(db.session, utcnow(), current_user, data)
    except ValidationError as exc:
        parsed = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        errors = services.merge_errors(field_errors(exc), check(db.session, current_user, parsed))
    except Invalid as exc:
        errors = exc.fields or {"_schema": [exc.message]}
    else:
        db.session.commit()
        flash(message)
        return redirect(url_for(endpoint))
    db.session.rollback()
    values = form_dict(request.form, set(checkbox_groups))
    return render_template(template, values=values, errors=errors, **context()), 422


# -- licences ----------------------------------------------------------------------------------


def _method_order(method: Any) -> tuple[str, int]:
    """R2 before R10: by letter, then by number."""
    digits = "".join(ch for ch in method.code if ch.isdigit())
    return method.code.rstrip("0123456789"), int(digits or 0)


def _licence_context() -> dict[str, Any]:
    today = _today()
    return {
        "licences": services.org_licences(db.session, current_user.organization_id),
        "today": today,
        "state": _state,
        "badges": STATE_BADGES,
        "category_options": [
            (c.code, f"{c.code} {c.name}") for c in catalog.categories(db.session, today)
        ],
        "method_options": [
            (m.code, f"{m.code} {method_name(m)}")
            for m in sorted(catalog.methods(db.session), key=_method_order)
        ],
        "warning_days": current_app.config["LICENCE_EXPIRY_WARNING_DAYS"],
        "mode_options": [(m, licence_mode_label(m)) for m in MODES],
    }


@bp.route("/licences", methods=["GET", "POST"])
@enterprise_required("receiver")
def licences() -> Any:
    """The receiver's licences with their state; administrators record new ones."""
    if request.method == "POST":
        return _post(
            LicenceSchema(),
            services.create_licence,
            services.licence_errors,
            "permits/licences.html",
            _licence_context,
            "permits.licences",
            _("Licence recorded."),
            frozenset({"scope_categories", "methods", "modes"}),
        )
    return render_template("permits/licences.html", values={}, errors={}, **_licence_context())


def _licence_page(licence: Licence, errors: dict[str, Any], values: dict[str, Any]) -> Any:
    today = _today()
    categories = {c.code: c for c in catalog.categories(db.session, today)}
    codes = {code: catalog.get_waste_code(db.session, code, today) for code in licence.scope_codes}
    return render_template(
        "permits/licence.html",
        licence=licence,
        today=today,
        state=_state(licence, today),
        badges=STATE_BADGES,
        categories=categories,
        codes=codes,
        history=services.licence_history(db.session, licence.id),
        errors=errors,
        values=values,
    ), (422 if errors else 200)


@bp.get("/licences/<int:licence_id>")
@enterprise_required("receiver")
def licence(licence_id: int) -> Any:
    """One licence: scope with names, methods, capacity, history; the revoke form for admins."""
    return _licence_page(services.get_licence(db.session, current_user, licence_id), {}, {})


@bp.post("/licences/<int:licence_id>/revoke")
@enterprise_required("receiver", user_roles=(UserRole.ADMIN,))
def revoke(licence_id: int) -> Any:
    """Revoke a licence after the administrator ticked the confirmation (422 otherwise)."""
    licence = services.get_licence(db.session, current_user, licence_id)
    values = request.form.to_dict()
    errors: dict[str, Any] = {}
    try:
        data = RevokeSchema().load(request.form)
    except ValidationError as exc:
        errors = field_errors(exc)
    if request.form.get("confirm") != "1":
        errors["confirm"] = [_("Tick the box to confirm the revocation.")]
    if errors:
        return _licence_page(licence, errors, values)
    services.revoke_licence(db.session, utcnow(), current_user, licence.id, data["reason"])
    db.session.commit()
    flash(_("Licence %(number)s revoked.", number=licence.number))
    return redirect(url_for("permits.licence", licence_id=licence.id))


# -- carriers ----------------------------------------------------------------------------------


def _permit_context() -> dict[str, Any]:
    return {
        "permits": services.org_carrier_permits(db.session, current_user.organization_id),
        "today": _today(),
        "state": _state,
        "badges": STATE_BADGES,
    }


@bp.route("/carrier-permits", methods=["GET", "POST"])
@enterprise_required("carrier")
def carrier_permits() -> Any:
    """The carrier's road transport permits for dangerous goods; admins record new ones."""
    if request.method == "POST":
        return _post(
            CarrierPermitSchema(),
            services.create_carrier_permit,
            services.carrier_permit_errors,
            "permits/carrier_permits.html",
            _permit_context,
            "permits.carrier_permits",
            _("Permit recorded."),
        )
    return render_template(
        "permits/carrier_permits.html", values={}, errors={}, **_permit_context()
    )


def _vehicle_context() -> dict[str, Any]:
    return {"vehicles": services.org_vehicles(db.session, current_user.organization_id)}


@bp.route("/vehicles", methods=["GET", "POST"])
@enterprise_required("carrier")
def vehicles() -> Any:
    """The carrier's vehicles; admins register, deactivate and reactivate them."""
    if request.method == "POST":
        return _post(
            VehicleSchema(),
            services.create_vehicle,
            services.vehicle_errors,
            "permits/vehicles.html",
            _vehicle_context,
            "permits.vehicles",
            _("Vehicle registered."),
        )
    return render_template("permits/vehicles.html", values={}, errors={}, **_vehicle_context())


@bp.post("/vehicles/<int:vehicle_id>/active")
@enterprise_required("carrier", user_roles=(UserRole.ADMIN,))
def vehicle_active(vehicle_id: int) -> Any:
    """Deactivate (``active=0``) or reactivate (``active=1``) one of the carrier's vehicles."""
    active = request.form.get("active") == "1"
    vehicle = services.set_vehicle_active(db.session, utcnow(), current_user, vehicle_id, active)
    db.session.commit()
    if active:
        flash(_("Vehicle %(plate)s is back in service.", plate=vehicle.plate))
    else:
        flash(_("Vehicle %(plate)s deactivated.", plate=vehicle.plate))
    return redirect(url_for("permits.vehicles"))


def _driver_context() -> dict[str, Any]:
    org_id = current_user.organization_id
    candidates = services.driver_candidates(db.session, org_id)
    return {
        "drivers": services.org_drivers(db.session, org_id),
        "candidates": candidates,
        "driver_options": [(u.id, f"{u.name} ({u.email})") for u in candidates],
        "today": _today(),
        "warning_days": current_app.config["LICENCE_EXPIRY_WARNING_DAYS"],
    }


@bp.route("/drivers", methods=["GET", "POST"])
@enterprise_required("carrier")
def drivers() -> Any:
    """The carrier's drivers with their papers; admins record papers for driver users."""
    if request.method == "POST":
        return _post(
            DriverSchema(),
            services.register_driver,
            lambda session, actor, data: services.driver_errors(session, actor, data, _today()),
            "permits/drivers.html",
            _driver_context,
            "permits.drivers",
            _("Driver's papers recorded."),
        )
    return render_template("permits/drivers.html", values={}, errors={}, **_driver_context())


# -- coverage check ----------------------------------------------------------------------------


@bp.get("/check")
@login_required
def check() -> Any:
    """Does a receiver's licence cover a waste code on a date? For enterprises (producers
    choosing a receiver) and regulators. The form is a GET, so a result can be bookmarked."""
    if not services.may_check_coverage(current_user):
        raise Forbidden()
    args = request.args.to_dict()
    errors: dict[str, Any] = {}
    result = None
    if args:
        try:
            query = CoverageQuerySchema().load(request.args)
            on = query["on"] or _today()
            result = services.check_coverage(
                db.session, query["receiver_id"], query["waste_code"], on
            )
        except ValidationError as exc:
            errors = field_errors(exc)
        except Invalid as exc:
            errors = exc.fields
    return render_template(
        "permits/check.html",
        receiver_options=[(o.id, o.name) for o in services.approved_receivers(db.session)],
        values=args,
        errors=errors,
        result=result,
        today=_today(),
    ), (422 if errors else 200)
