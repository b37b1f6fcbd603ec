"""Core API endpoints: tokens, the OpenAPI document, reference data, organizations."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, jsonify, request
from flask_babel import get_locale
from flask_babel import gettext as _
from marshmallow import fields

from hazwaste.accounts import recovery, throttle, verification
from hazwaste.accounts import services as account_services
from hazwaste.accounts.models import Organization, User
from hazwaste.accounts.schemas import (
    NamedTokenOutSchema,
    NamedTokenSchema,
    OrganizationOutSchema,
    ResetConfirmApiSchema,
    ResetRequestSchema,
    TokenInfoSchema,
    TokenOutSchema,
    TokenRequestSchema,
    VerifyEmailConfirmSchema,
)
from hazwaste.api.core import (
    bp,
    current_api_user,
    load_json,
    ok,
    service_call,
    token_required,
)
from hazwaste.api.spec import build_spec, document
from hazwaste.db import utcnow
from hazwaste.errors import NotFound, api_error
from hazwaste.extensions import db
from hazwaste.schemas import BaseSchema


@bp.post("/auth/token")
@document(
    "/api/v1/auth/token",
    "post",
    "Exchange e-mail and password for a bearer token",
    tags=["auth"],
    request=TokenRequestSchema,
    response=TokenOutSchema,
    auth=False,
    statuses={
        201: "Token issued",
        401: "Wrong e-mail or password",
        429: "Too many failed attempts for this account or from this address (the login "
        "page counts too); `Retry-After` gives the seconds to wait",
    },
)
def token() -> Any:
    data = load_json(TokenRequestSchema())
    now = utcnow()
    wait = throttle.retry_after(data["email"], request.remote_addr)
    if wait is not None:
        response, status = api_error(429, throttle.message(wait), retry_after=wait)
        response.headers["Retry-After"] = str(wait)
        return response, status
    user = account_services.authenticate(db.session, now, data["email"], data["password"])
    if user is None:
        db.session.rollback()
        throttle.record_failure(data["email"], request.remote_addr)
        return api_error(401, _("Wrong e-mail address or password."))
    issued = account_services.issue_token(
        db.session, now, user, current_app.config["API_TOKEN_TTL"]
    )
    db.session.commit()
    return ok(
        TokenOutSchema().dump(
            {"token": issued.token, "token_type": "Bearer", "expires_at": issued.expires_at}
        ),
        201,
    )


@bp.post("/auth/password-reset")
@document(
    "/api/v1/auth/password-reset",
    "post",
    "Ask for a password reset link by e-mail (the same answer whether or not the address "
    "has an account)",
    tags=["auth"],
    request=ResetRequestSchema,
    auth=False,
    statuses={
        202: "Accepted: if the address belongs to an active account, a link is on its way",
        429: "Too many reset requests for this address or from this client; `Retry-After` "
        "gives the seconds to wait",
    },
)
def password_reset() -> Any:
    data = load_json(ResetRequestSchema())
    wait = recovery.throttled(data["email"], request.remote_addr)
    if wait is not None:
        response, status = api_error(429, recovery.throttle_message(wait), retry_after=wait)
        response.headers["Retry-After"] = str(wait)
        return response, status
    recovery.request_reset(
        db.session,
        utcnow(),
        data["email"],
        str(get_locale() or "zh_CN"),
    )
    db.session.commit()
    return "", 202


@bp.post("/auth/password-reset/confirm")
@document(
    "/api/v1/auth/password-reset/confirm",
    "post",
    "Set a new password with the token of a reset link; every session and token of the "
    "account ends",
    tags=["auth"],
    request=ResetConfirmApiSchema,
    auth=False,
    statuses={204: "Password set; log in again"},
)
def password_reset_confirm() -> Any:
    data = load_json(ResetConfirmApiSchema())
    service_call(
        recovery.reset_password,
        db.session,
        utcnow(),
        data["token"],
        data["new_password"],
        int(current_app.config["PASSWORD_MIN_LENGTH"]),
    )
    db.session.commit()
    return "", 204


@bp.post("/auth/verify-email")
@token_required
@document(
    "/api/v1/auth/verify-email",
    "post",
    "Send a link that verifies the user's e-mail address (notifications are e-mailed to "
    "verified addresses only)",
    tags=["auth"],
    statuses={
        202: "Accepted: a link is on its way (nothing is sent if the address is verified)",
        429: "Too many verification e-mails for this user; `Retry-After` gives the seconds",
    },
)
def send_verification() -> Any:
    user = current_api_user()
    if user.email_verified_at is not None:
        return "", 202
    wait = verification.throttled(user)
    if wait is not None:
        response, status = api_error(429, verification.throttle_message(wait), retry_after=wait)
        response.headers["Retry-After"] = str(wait)
        return response, status
    verification.send_link(db.session, utcnow(), user, str(get_locale() or "zh_CN"))
    db.session.commit()
    return "", 202


@bp.post("/auth/verify-email/confirm")
@document(
    "/api/v1/auth/verify-email/confirm",
    "post",
    "Verify an e-mail address with the token of a verification link",
    tags=["auth"],
    request=VerifyEmailConfirmSchema,
    auth=False,
    statuses={204: "The address is verified"},
)
def verify_email_confirm() -> Any:
    data = load_json(VerifyEmailConfirmSchema())
    service_call(verification.verify, db.session, utcnow(), data["token"])
    db.session.commit()
    return "", 204


@bp.delete("/auth/token")
@token_required
@document(
    "/api/v1/auth/token",
    "delete",
    "Revoke the bearer token of this request (log out of the API)",
    tags=["auth"],
    statuses={204: "Token revoked; it opens nothing any more"},
)
def revoke_this_token() -> Any:
    service_call(
        account_services.revoke_token, db.session, utcnow(), current_api_user(), g.api_token_id
    )
    db.session.commit()
    return "", 204


@bp.get("/auth/tokens")
@token_required
@document(
    "/api/v1/auth/tokens",
    "get",
    "The user's live bearer tokens (never the secret)",
    tags=["auth"],
    response=TokenInfoSchema,
    many=True,
)
def tokens() -> Any:
    rows = account_services.live_tokens(db.session, utcnow(), current_api_user())
    listed = [
        {
            "id": row.id,
            "name": row.name,
            "scopes": row.scopes.split(),
            "created_at": row.created_at,
            "expires_at": row.expires_at,
            "last_used_at": row.last_used_at,
            "current": row.id == g.api_token_id,
        }
        for row in rows
    ]
    return ok(TokenInfoSchema(many=True).dump(listed), count=len(rows))


@bp.post("/auth/tokens")
@token_required
@document(
    "/api/v1/auth/tokens",
    "post",
    "Create a named token with chosen scopes and lifetime (never wider than this token's "
    "scopes); the secret is in this answer only",
    tags=["auth"],
    request=NamedTokenSchema,
    response=NamedTokenOutSchema,
    statuses={201: "Token created"},
)
def create_token() -> Any:
    data = load_json(NamedTokenSchema())
    issued = service_call(
        account_services.create_named_token,
        db.session,
        utcnow(),
        current_api_user(),
        data["name"],
        data["scopes"],
        data["expires_in_days"],
        int(current_app.config["API_TOKEN_MAX_TTL_DAYS"]),
        granting=g.api_token_scopes,
    )
    db.session.commit()
    body = {
        "token": issued.token,
        "token_type": "Bearer",
        "expires_at": issued.expires_at,
        "name": data["name"].strip(),
        "scopes": sorted(set(data["scopes"])),
    }
    return ok(NamedTokenOutSchema().dump(body), 201)


@bp.delete("/auth/tokens/<int:token_id>")
@token_required
@document(
    "/api/v1/auth/tokens/{token_id}",
    "delete",
    "Revoke one of the user's own tokens",
    tags=["auth"],
    statuses={204: "Token revoked", 404: "No live token of this user with this id"},
)
def revoke_token(token_id: int) -> Any:
    service_call(account_services.revoke_token, db.session, utcnow(), current_api_user(), token_id)
    db.session.commit()
    return "", 204


@bp.get("/openapi.json")
def openapi() -> Any:
    """The OpenAPI 3 description of every endpoint (public, like the API's documentation)."""
    return jsonify(build_spec())


class MeSchema(BaseSchema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.Function(lambda u: u.role.value)
    organization_id = fields.Integer(allow_none=True)
    regulator_body_id = fields.Integer(allow_none=True)
    is_platform_admin = fields.Boolean()


@bp.get("/me")
@token_required
@document("/api/v1/me", "get", "The authenticated user", tags=["auth"], response=MeSchema)
def me() -> Any:
    return ok(MeSchema().dump(current_api_user()))


def can_view_organization(user: User, org: Organization) -> bool:
    """Own organization, platform admins, regulators over its region, or approved peers."""
    if user.is_platform_admin or user.organization_id == org.id:
        return True
    if user.regulator_body is not None:
        return org.region_code.startswith(user.regulator_body.jurisdiction_prefix)
    return org.is_approved and user.org_approved


@bp.get("/organizations/<int:org_id>")
@token_required
@document(
    "/api/v1/organizations/{org_id}",
    "get",
    "One organization",
    tags=["organizations"],
    response=OrganizationOutSchema,
)
def organization(org_id: int) -> Any:
    org = db.session.get(Organization, org_id)
    if org is None or not can_view_organization(current_api_user(), org):
        raise NotFound()
    return ok(OrganizationOutSchema().dump(org))
