"""Permit pages: receivers' licences, carriers' transport permits, vehicles and drivers.

Every user of the organization may look; only its administrators add or change (the
services enforce that too).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import Schema, ValidationError
from sqlalchemy import select

from hazwaste.accounts.models import Organization, OrgStatus, User, UserRole
from hazwaste.accounts.permissions import enterprise_required, login_required
from hazwaste.catalog import services as catalog
from hazwaste.db import utcnow
from hazwaste.errors import Forbidden, Invalid, NotFound
from hazwaste.extensions import db
from hazwaste.permits import services
from hazwaste.permits.models import CarrierPermit, Licence
from hazwaste.permits.schemas import (
    CarrierPermitSchema,
    DriverSchema,
    LicenceSchema,
    VehicleSchema,
)
from hazwaste.schemas import field_errors

bp = Blueprint("permits", __name__, url_prefix="/permits")


def licence_state(licence: Licence, today: date) -> str:
    """valid / expiring / expired / revoked / future, for badges."""
    if licence.revoked_at is not None:
        return "revoked"
    if licence.valid_to < today:
        return "expired"
    if licence.valid_from > today:
        return "future"
    warn = timedelta(days=current_app.config["LICENCE_EXPIRY_WARNING_DAYS"])
    return "expiring" if licence.valid_to - today <= warn else "valid"


def _post(
    schema: Schema, create: Any, template: str, context: dict[str, Any], endpoint: str
) -> Any:
    """Parse the form, call the service, commit; on errors re-render with 422, keep input."""
    if current_user.role is not UserRole.ADMIN:
        raise Forbidden(_("Only your organization's administrators can manage permits."))
    try:
        data = schema.load(request.form)
        create(db.session, utcnow(), current_user, data)
    except ValidationError as exc:
        errors = field_errors(exc)
    except Invalid as exc:
        errors = exc.fields
    else:
        db.session.commit()
        flash(_("Saved."))
        return redirect(url_for(endpoint))
    db.session.rollback()
    return render_template(template, values=request.form, errors=errors, **context), 422


def _licence_context() -> dict[str, Any]:
    org_id = current_user.organization_id
    today = date.today()
    licences = db.session.scalars(
        select(Licence).where(Licence.organization_id == org_id).order_by(Licence.valid_to.desc())
    ).all()
    return {
        "licences": licences,
        "today": today,
        "state": licence_state,
        "methods": catalog.methods(db.session),
        "categories": catalog.categories(db.session, today),
    }


@bp.route("/licences", methods=["GET", "POST"])
@enterprise_required("receiver")
def licences() -> Any:
    if request.method == "POST":
        return _post(
            LicenceSchema(),
            services.create_licence,
            "permits/licences.html",
            _licence_context(),
            "permits.licences",
        )
    return render_template("permits/licences.html", values={}, errors={}, **_licence_context())


@bp.post("/licences/<int:licence_id>/revoke")
@enterprise_required("receiver", user_roles=(UserRole.ADMIN,))
def revoke(licence_id: int) -> Any:
    services.revoke_licence(db.session, utcnow(), current_user, licence_id)
    db.session.commit()
    flash(_("Licence revoked."))
    return redirect(url_for("permits.licences"))


def _permit_context() -> dict[str, Any]:
    permits = db.session.scalars(
        select(CarrierPermit)
        .where(CarrierPermit.organization_id == current_user.organization_id)
        .order_by(CarrierPermit.valid_to.desc())
    ).all()
    return {"permits": permits, "today": date.today()}


@bp.route("/carrier-permits", methods=["GET", "POST"])
@enterprise_required("carrier")
def carrier_permits() -> Any:
    if request.method == "POST":
        return _post(
            CarrierPermitSchema(),
            services.create_carrier_permit,
            "permits/carrier_permits.html",
            _permit_context(),
            "permits.carrier_permits",
        )
    return render_template(
        "permits/carrier_permits.html", values={}, errors={}, **_permit_context()
    )


def _vehicle_context() -> dict[str, Any]:
    return {"vehicles": services.org_vehicles(db.session, current_user.organization_id)}


@bp.route("/vehicles", methods=["GET", "POST"])
@enterprise_required("carrier")
def vehicles() -> Any:
    if request.method == "POST":
        return _post(
            VehicleSchema(),
            services.create_vehicle,
            "permits/vehicles.html",
            _vehicle_context(),
            "permits.vehicles",
        )
    return render_template("permits/vehicles.html", values={}, errors={}, **_vehicle_context())


@bp.post("/vehicles/<int:vehicle_id>/active")
@enterprise_required("carrier", user_roles=(UserRole.ADMIN,))
def vehicle_active(vehicle_id: int) -> Any:
    services.set_vehicle_active(
        db.session, utcnow(), current_user, vehicle_id, request.form.get("active") == "1"
    )
    db.session.commit()
    return redirect(url_for("permits.vehicles"))


def _driver_context() -> dict[str, Any]:
    org_id = current_user.organization_id
    drivers = services.org_drivers(db.session, org_id)
    with_papers = {d.user_id for d in drivers}
    candidates = [
        u
        for u in db.session.scalars(
            select(User)
            .where(User.organization_id == org_id, User.role == UserRole.DRIVER)
            .order_by(User.name)
        )
        if u.id not in with_papers
    ]
    return {"drivers": drivers, "candidates": candidates, "today": date.today()}


@bp.route("/drivers", methods=["GET", "POST"])
@enterprise_required("carrier")
def drivers() -> Any:
    if request.method == "POST":
        return _post(
            DriverSchema(),
            services.register_driver,
            "permits/drivers.html",
            _driver_context(),
            "permits.drivers",
        )
    return render_template("permits/drivers.html", values={}, errors={}, **_driver_context())


@bp.get("/check")
@login_required
def check() -> Any:
    """Does a receiver's licence cover a waste code on a date? (for producers and regulators)"""
    receivers = db.session.scalars(
        select(Organization)
        .where(Organization.is_receiver.is_(True), Organization.status == OrgStatus.APPROVED)
        .order_by(Organization.name)
    ).all()
    result = None
    args = request.args
    errors: dict[str, list[str]] = {}
    if args.get("receiver_id") and args.get("waste_code"):
        try:
            receiver_id = int(args["receiver_id"])
            on = date.fromisoformat(args.get("on") or date.today().isoformat())
        except ValueError:
            errors["on"] = [_("Not a valid date (YYYY-MM-DD).")]
        else:
            if db.session.get(Organization, receiver_id) is None:
                raise NotFound()
            found = services.covering_licences(
                db.session, receiver_id, args["waste_code"].strip(), on
            )
            result = {"covered": bool(found), "licences": found, "on": on}
    return render_template(
        "permits/check.html", receivers=receivers, args=args, result=result, errors=errors
    ), (422 if errors else 200)
