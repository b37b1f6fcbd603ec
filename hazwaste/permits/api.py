"""Permit API: receivers' licences, carriers' transport permits, vehicles and drivers, and
the licence-coverage check. Routes on ``/api/v1``; the same schemas and services as the
pages.

Any user of the organization reads its permits; only its administrators create or change
them (403 otherwise). A user of an organization without the role (a producer asking for
licences) gets 403; another organization's object is a 404. Quantities are decimal strings
in kg, with tonnes beside them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import request

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
from hazwaste.errors import Forbidden
from hazwaste.extensions import db
from hazwaste.permits import services
from hazwaste.permits.schemas import (
    CarrierPermitOutSchema,
    CarrierPermitSchema,
    CoverageOutSchema,
    CoverageQuerySchema,
    DriverOutSchema,
    DriverSchema,
    LicenceOutSchema,
    LicenceSchema,
    RevokeSchema,
    VehicleActiveSchema,
    VehicleOutSchema,
    VehicleSchema,
)

TAGS = ["permits"]


def _today() -> date:
    return services.local_today(utcnow())


def _licence_out(many: bool = False) -> LicenceOutSchema:
    return LicenceOutSchema(many=many)


def _permit_out(many: bool = False) -> CarrierPermitOutSchema:
    return CarrierPermitOutSchema(many=many)


# -- licences ----------------------------------------------------------------------------------


@bp.get("/licences")
@token_required
@document(
    "/api/v1/licences",
    "get",
    "The receiver's licences (any user of the receiver), the longest-running first, each "
    "with its state today: valid, expiring, expired, revoked or future",
    tags=TAGS,
    response=LicenceOutSchema,
    many=True,
)
def licences() -> Any:
    org = services.member_org(current_api_user(), "receiver")
    rows = services.org_licences(db.session, org.id)
    return ok(_licence_out(many=True).dump(rows), count=len(rows))


@bp.post("/licences")
@token_required
@idempotent
@document(
    "/api/v1/licences",
    "post",
    "Record a licence of the receiver (its administrators): number, validity, annual "
    "capacity in tonnes, scope as HW categories and/or waste codes (JSON lists, or text "
    "separated by spaces or commas), R/D/C methods",
    tags=TAGS,
    request=LicenceSchema,
    response=LicenceOutSchema,
    idempotent=True,
    statuses={201: "Created", 403: "Not an administrator of an approved receiver"},
)
def create_licence() -> Any:
    user = current_api_user()
    services.admin_org(user, "receiver")  # 403 before the body's 422
    data = load_json(LicenceSchema())
    licence = service_call(services.create_licence, db.session, utcnow(), user, data)
    return commit(ok(_licence_out().dump(licence), 201))


@bp.get("/licences/<int:licence_id>")
@token_required
@document(
    "/api/v1/licences/{licence_id}",
    "get",
    "One of the receiver's licences (404 for another organization's)",
    tags=TAGS,
    response=LicenceOutSchema,
)
def licence(licence_id: int) -> Any:
    found = services.get_licence(db.session, current_api_user(), licence_id)
    return ok(_licence_out().dump(found))


@bp.post("/licences/<int:licence_id>/revoke")
@token_required
@document(
    "/api/v1/licences/{licence_id}/revoke",
    "post",
    "Revoke one of the receiver's licences from now on (its administrators); an optional "
    "reason goes to the audit log. Revoking a revoked licence changes nothing",
    tags=TAGS,
    request=RevokeSchema,
    response=LicenceOutSchema,
)
def revoke_licence(licence_id: int) -> Any:
    user = current_api_user()
    services.get_licence(db.session, user, licence_id)  # 404 for another organization's
    services.admin_org(user, "receiver")
    # The body is optional: an empty POST revokes without a reason.
    data = load_json(RevokeSchema()) if request.get_data() else {"reason": ""}
    revoked = service_call(
        services.revoke_licence, db.session, utcnow(), user, licence_id, data["reason"]
    )
    return commit(ok(_licence_out().dump(revoked)))


# -- carrier permits ---------------------------------------------------------------------------


@bp.get("/carrier-permits")
@token_required
@document(
    "/api/v1/carrier-permits",
    "get",
    "The carrier's road transport permits for dangerous goods, with their state today",
    tags=TAGS,
    response=CarrierPermitOutSchema,
    many=True,
)
def carrier_permits() -> Any:
    org = services.member_org(current_api_user(), "carrier")
    rows = services.org_carrier_permits(db.session, org.id)
    return ok(_permit_out(many=True).dump(rows), count=len(rows))


@bp.post("/carrier-permits")
@token_required
@idempotent
@document(
    "/api/v1/carrier-permits",
    "post",
    "Record a road transport permit of the carrier (its administrators)",
    tags=TAGS,
    request=CarrierPermitSchema,
    response=CarrierPermitOutSchema,
    idempotent=True,
    statuses={201: "Created", 403: "Not an administrator of an approved carrier"},
)
def create_carrier_permit() -> Any:
    user = current_api_user()
    services.admin_org(user, "carrier")  # 403 before the body's 422
    data = load_json(CarrierPermitSchema())
    permit = service_call(services.create_carrier_permit, db.session, utcnow(), user, data)
    return commit(ok(_permit_out().dump(permit), 201))


# -- vehicles ----------------------------------------------------------------------------------


@bp.get("/vehicles")
@token_required
@document(
    "/api/v1/vehicles",
    "get",
    "The carrier's vehicles (in service and deactivated), by plate",
    tags=TAGS,
    response=VehicleOutSchema,
    many=True,
)
def vehicles() -> Any:
    org = services.member_org(current_api_user(), "carrier")
    rows = services.org_vehicles(db.session, org.id)
    return ok(VehicleOutSchema(many=True).dump(rows), count=len(rows))


@bp.post("/vehicles")
@token_required
@idempotent
@document(
    "/api/v1/vehicles",
    "post",
    "Register a vehicle of the carrier (its administrators): Chinese plate (normalised: "
    "upper case, separators removed), type, maximum load in tonnes (``max_load_t``)",
    tags=TAGS,
    request=VehicleSchema,
    response=VehicleOutSchema,
    idempotent=True,
    statuses={201: "Created", 403: "Not an administrator of an approved carrier"},
)
def create_vehicle() -> Any:
    user = current_api_user()
    services.admin_org(user, "carrier")  # 403 before the body's 422
    data = load_json(VehicleSchema())
    vehicle = service_call(services.create_vehicle, db.session, utcnow(), user, data)
    return commit(ok(VehicleOutSchema().dump(vehicle), 201))


@bp.post("/vehicles/<int:vehicle_id>/active")
@token_required
@document(
    "/api/v1/vehicles/{vehicle_id}/active",
    "post",
    'Take a vehicle out of service (``{"active": false}``) or back in (its '
    "administrators); a deactivated vehicle cannot be chosen for a manifest",
    tags=TAGS,
    request=VehicleActiveSchema,
    response=VehicleOutSchema,
)
def vehicle_active(vehicle_id: int) -> Any:
    user = current_api_user()
    services.admin_org(user, "carrier")  # 403 before the body's 422
    data = load_json(VehicleActiveSchema())
    vehicle = service_call(
        services.set_vehicle_active, db.session, utcnow(), user, vehicle_id, data["active"]
    )
    return commit(ok(VehicleOutSchema().dump(vehicle)))


# -- drivers -----------------------------------------------------------------------------------


@bp.get("/drivers")
@token_required
@document(
    "/api/v1/drivers",
    "get",
    "The carrier's drivers with their papers",
    tags=TAGS,
    response=DriverOutSchema,
    many=True,
)
def drivers() -> Any:
    org = services.member_org(current_api_user(), "carrier")
    rows = services.org_drivers(db.session, org.id)
    return ok(DriverOutSchema(many=True).dump(rows), count=len(rows))


@bp.post("/drivers")
@token_required
@idempotent
@document(
    "/api/v1/drivers",
    "post",
    "Record a driver's papers (its administrators) for a user of the carrier with the "
    "driver role: driving licence, qualification certificate and its last valid day",
    tags=TAGS,
    request=DriverSchema,
    response=DriverOutSchema,
    idempotent=True,
    statuses={201: "Created", 403: "Not an administrator of an approved carrier"},
)
def create_driver() -> Any:
    user = current_api_user()
    services.admin_org(user, "carrier")  # 403 before the body's 422
    data = load_json(DriverSchema())
    driver = service_call(services.register_driver, db.session, utcnow(), user, data)
    return commit(ok(DriverOutSchema().dump(driver), 201))


# -- coverage ----------------------------------------------------------------------------------


@bp.get("/licence-coverage")
@token_required
@document(
    "/api/v1/licence-coverage",
    "get",
    "Does an approved receiver hold a licence covering the waste code on the date (default "
    "today, China time)? ``covered`` with the covering licences, each matched by the code "
    "itself or by its HW category. Any user of an approved enterprise, and regulators",
    tags=TAGS,
    query=CoverageQuerySchema,
    response=CoverageOutSchema,
    statuses={422: "Missing or invalid parameters, unknown receiver or waste code"},
)
def licence_coverage() -> Any:
    if not services.may_check_coverage(current_api_user()):
        raise Forbidden()
    query = load_query(CoverageQuerySchema())
    result = services.check_coverage(
        db.session, query["receiver_id"], query["waste_code"], query["on"] or _today()
    )
    return ok(CoverageOutSchema().dump(result))
