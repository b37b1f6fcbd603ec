"""Login, registration, profile, organization users, and the platform admin's approvals."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as flask_session
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user
from marshmallow import ValidationError
from sqlalchemy import select
from werkzeug.wrappers import Response

from hazwaste.accounts import recovery, schemas, services, throttle, verification
from hazwaste.accounts import sessions as login_sessions
from hazwaste.accounts.models import Organization, OrgStatus, RegulatorBody, User
from hazwaste.accounts.permissions import (
    login_required,
    org_admin_required,
    platform_admin_required,
)
from hazwaste.accounts.scopes import SCOPES
from hazwaste.catalog.models import Region
from hazwaste.db import utcnow
from hazwaste.errors import Invalid, NotFound
from hazwaste.extensions import db
from hazwaste.i18n import safe_next, select_locale
from hazwaste.schemas import field_errors

bp = Blueprint("accounts", __name__)


def _current_session_id() -> int | None:
    """The id of the request's login session record (set by the user loader)."""
    if not current_user.is_authenticated:
        return None
    session_id: int | None = g.get("user_session_id")
    return session_id


def _end_browser_session() -> None:
    """Forget the login in this browser's cookie (its record is ended by the caller)."""
    logout_user()
    flask_session.pop(login_sessions.SESSION_KEY, None)


def _min_pw() -> int:
    return int(current_app.config["PASSWORD_MIN_LENGTH"])


def _form(schema: Any) -> dict[str, Any]:
    """Load ``request.form`` with ``schema``; ValidationError carries the field messages."""
    return schema.load(request.form)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    values: dict[str, Any] = {"next": request.args.get("next", "")}
    errors: dict[str, Any] = {}
    if request.method == "POST":
        values = request.form.to_dict()
        values.pop("password", None)
        try:
            data = _form(schemas.LoginSchema())
        except ValidationError as exc:
            errors = field_errors(exc)
        else:
            wait = throttle.retry_after(data["email"], request.remote_addr)
            if wait is not None:
                page = render_template(
                    "accounts/login.html",
                    values=values,
                    errors={},
                    throttled=throttle.message(wait),
                )
                return page, 429, {"Retry-After": str(wait)}
            now = utcnow()
            user = services.authenticate(db.session, now, data["email"], data["password"])
            if user is not None:
                previous = _current_session_id()
                if previous is not None:  # logging in again in this browser replaces it
                    with suppress(NotFound):
                        login_sessions.end_session(
                            db.session, now, current_user, previous, "replaced"
                        )
                started = login_sessions.start_session(
                    db.session,
                    now,
                    user,
                    request.user_agent.string,
                    request.remote_addr or "",
                    current_app.config["SESSION_RECORD_RETENTION"],
                )
                db.session.commit()
                login_user(user)
                flask_session[login_sessions.SESSION_KEY] = started.cookie_value
                # The form carries `next`; a post to /login?next=… without it still returns.
                target = data.get("next") or request.args.get("next")
                return redirect(safe_next(target, url_for("web.home")))
            throttle.record_failure(data["email"], request.remote_addr)
            errors = {"_schema": [_("Wrong e-mail address or password.")]}
        return render_template("accounts/login.html", values=values, errors=errors), 422
    return render_template("accounts/login.html", values=values, errors=errors)


#: Longest reset token accepted in a URL (a real one is about 120 characters).
MAX_RESET_TOKEN_LENGTH = 400


@bp.route("/auth/reset", methods=["GET", "POST"])
def reset_request() -> Any:
    """Ask for a reset link. The answer never says whether the address has an account."""
    values: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    if request.method == "POST":
        values = {"email": request.form.get("email", "")[:254]}
        try:
            data = _form(schemas.ResetRequestSchema())
        except ValidationError as exc:
            errors = field_errors(exc)
            return render_template("accounts/reset_request.html", values=values, errors=errors), 422
        wait = recovery.throttled(data["email"], request.remote_addr)
        if wait is not None:
            page = render_template(
                "accounts/reset_request.html",
                values=values,
                errors={},
                throttled=recovery.throttle_message(wait),
            )
            return page, 429, {"Retry-After": str(wait)}
        recovery.request_reset(
            db.session,
            utcnow(),
            data["email"],
            _page_locale(),
        )
        db.session.commit()
        return render_template("accounts/reset_request.html", values={}, errors={}, sent=True)
    return render_template("accounts/reset_request.html", values=values, errors=errors)


@bp.route("/auth/reset/<token>", methods=["GET", "POST"])
def reset_confirm(token: str) -> Any:
    """Choose a new password through a reset link."""
    if len(token) > MAX_RESET_TOKEN_LENGTH:
        raise NotFound()
    now = utcnow()
    errors: dict[str, Any] = {}
    try:
        recovery.user_for_token(db.session, now, token)
    except Invalid as exc:
        db.session.rollback()
        page = render_template("accounts/reset_confirm.html", errors=exc.fields, dead=True)
        return page, 404 if request.method == "GET" else 422
    if request.method == "POST":
        try:
            data = _form(schemas.ResetConfirmSchema())
            recovery.reset_password(db.session, now, token, data["new_password"], _min_pw())
        except ValidationError as exc:
            errors = field_errors(exc)
        except Invalid as exc:
            errors = exc.fields
        else:
            db.session.commit()
            if current_user.is_authenticated:
                _end_browser_session()
            flash(
                _(
                    "Your password has been reset. Every session has been logged out and "
                    "every API token revoked; log in with the new password."
                )
            )
            return redirect(url_for("accounts.login"))
        db.session.rollback()
        return render_template("accounts/reset_confirm.html", errors=errors), 422
    return render_template("accounts/reset_confirm.html", errors=errors)


def _page_locale() -> str:
    """The page's language as one of ``LANGUAGES`` (what a user's ``locale`` holds)."""
    return select_locale()


@bp.get("/auth/verify/<token>")
def verify_email(token: str) -> Any:
    """Open the link of a verification e-mail: the address is verified (public: the link is
    the proof; a dead link is a 404 page saying so)."""
    try:
        user = verification.verify(db.session, utcnow(), token)
    except Invalid as exc:
        db.session.rollback()
        return render_template("accounts/verify_email.html", errors=exc.fields, user=None), 404
    db.session.commit()
    return render_template("accounts/verify_email.html", errors={}, user=user)


@bp.post("/account/verify-email")
@login_required
def send_verification() -> Response:
    """Send (again) a verification link to the user's own address."""
    if current_user.email_verified_at is not None:
        flash(_("Your e-mail address is already verified."))
        return redirect(url_for("accounts.profile"))
    wait = verification.throttled(current_user)
    if wait is not None:
        flash(verification.throttle_message(wait), "error")
        return redirect(url_for("accounts.profile"))
    verification.send_link(db.session, utcnow(), current_user, _page_locale())
    db.session.commit()
    flash(_("A verification link has been sent to %(email)s.", email=current_user.email))
    return redirect(url_for("accounts.profile"))


@bp.post("/logout")
def logout() -> Response:
    session_id = _current_session_id()
    if session_id is not None:
        # A second logout racing the first finds the session already ended.
        with suppress(NotFound):
            login_sessions.end_session(db.session, utcnow(), current_user, session_id)
        db.session.commit()
    _end_browser_session()
    flash(_("You have been logged out."))
    return redirect(url_for("web.home"))


def _region_name(code: str | None) -> str:
    if not code:
        return ""
    region = db.session.get(Region, code)
    return region.name if region else ""


@bp.route("/register", methods=["GET", "POST"])
def register() -> Any:
    values: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    if request.method == "POST":
        values = request.form.to_dict()
        values.pop("password", None)
        try:
            data = _form(schemas.RegistrationSchema())
            now = utcnow()
            _org, user = services.register_organization(db.session, now, data, _min_pw())
            user.locale = _page_locale()
            verification.send_link(db.session, now, user)
        except ValidationError as exc:
            errors = field_errors(exc)
        except Invalid as exc:
            errors = exc.fields
        else:
            db.session.commit()
            flash(
                _(
                    "Registration received. A platform administrator will review it; "
                    "you can log in now and will be able to work once it is approved. "
                    "A link to confirm your e-mail address is on its way."
                )
            )
            return redirect(url_for("accounts.login"))
        db.session.rollback()
        return render_template("accounts/register.html", values=values, errors=errors), 422
    return render_template("accounts/register.html", values=values, errors=errors)


@bp.get("/account")
@login_required
def profile() -> str:
    return _profile_page()


def _profile_page(**extra: Any) -> str:
    now = utcnow()
    extra.setdefault("token_values", {"expires_in_days": 90})
    extra.setdefault("token_errors", {})
    return render_template(
        "accounts/profile.html",
        sessions=login_sessions.running_sessions(
            db.session, now, current_user, current_app.config["PERMANENT_SESSION_LIFETIME"]
        ),
        current_session_id=_current_session_id(),
        device_label=login_sessions.device_label,
        tokens=services.live_tokens(db.session, now, current_user),
        scopes=SCOPES,
        max_token_days=current_app.config["API_TOKEN_MAX_TTL_DAYS"],
        **extra,
    )


@bp.post("/account/tokens")
@login_required
def create_token() -> Any:
    """A named API token; its secret is shown on this answer only (never stored, never in a
    redirect or a flash message)."""
    values = {
        "name": request.form.get("name", "")[:100],
        "scopes": request.form.getlist("scopes")[:50],
        "expires_in_days": request.form.get("expires_in_days", "")[:10],
    }
    try:
        data = schemas.NamedTokenSchema().load(values)
        issued = services.create_named_token(
            db.session,
            utcnow(),
            current_user,
            data["name"],
            data["scopes"],
            data["expires_in_days"],
            int(current_app.config["API_TOKEN_MAX_TTL_DAYS"]),
        )
    except ValidationError as exc:
        errors = field_errors(exc)
    except Invalid as exc:
        errors = exc.fields
    else:
        db.session.commit()
        return _profile_page(new_token=issued.token, new_token_name=data["name"].strip())
    db.session.rollback()
    return _profile_page(token_values=values, token_errors=errors), 422


@bp.post("/account/sessions/<int:session_id>/end")
@login_required
def end_session(session_id: int) -> Response:
    """Log out one of the user's own sessions (another user's id is a 404)."""
    current = _current_session_id()
    login_sessions.end_session(db.session, utcnow(), current_user, session_id)
    db.session.commit()
    if session_id == current:
        _end_browser_session()
        flash(_("You have been logged out."))
        return redirect(url_for("accounts.login"))
    flash(_("That session has been logged out."))
    return redirect(url_for("accounts.profile"))


@bp.post("/account/sessions/end-others")
@login_required
def end_other_sessions() -> Response:
    ended = services.log_out_everywhere(db.session, utcnow(), current_user, _current_session_id())
    db.session.commit()
    flash(
        ngettext(
            "Logged out of %(num)d other session.", "Logged out of %(num)d other sessions.", ended
        )
    )
    return redirect(url_for("accounts.profile"))


@bp.post("/account/sessions/end-all")
@login_required
def end_all_sessions() -> Response:
    """Log out everywhere, this browser included, and revoke every API token."""
    services.log_out_everywhere(db.session, utcnow(), current_user)
    db.session.commit()
    _end_browser_session()
    flash(_("You have been logged out everywhere."))
    return redirect(url_for("accounts.login"))


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> Response:
    """Revoke one of the user's own API tokens (another user's id is a 404)."""
    services.revoke_token(db.session, utcnow(), current_user, token_id)
    db.session.commit()
    flash(_("The API token has been revoked."))
    return redirect(url_for("accounts.profile"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password() -> Any:
    errors: dict[str, Any] = {}
    if request.method == "POST":
        try:
            data = _form(schemas.PasswordChangeSchema())
            services.change_password(
                db.session,
                utcnow(),
                current_user,
                data["current_password"],
                data["new_password"],
                _min_pw(),
                keep_session_id=_current_session_id(),
            )
        except ValidationError as exc:
            errors = field_errors(exc)
        except Invalid as exc:
            errors = exc.fields
        else:
            db.session.commit()
            flash(
                _(
                    "Your password has been changed. Your other sessions have been logged out "
                    "and your API tokens revoked."
                )
            )
            return redirect(url_for("accounts.profile"))
        db.session.rollback()
        return render_template("accounts/password.html", errors=errors), 422
    return render_template("accounts/password.html", errors=errors)


@bp.route("/organization", methods=["GET", "POST"])
@org_admin_required
def organization() -> Any:
    org = current_user.organization
    errors: dict[str, Any] = {}
    values: dict[str, Any] = {
        "name": org.name,
        "address": org.address,
        "region_code": org.region_code,
        "latitude": org.latitude if org.latitude is not None else "",
        "longitude": org.longitude if org.longitude is not None else "",
        "contact_phone": org.contact_phone,
    }
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            data = _form(schemas.OrganizationUpdateSchema())
            services.update_organization(db.session, utcnow(), current_user, org, data)
        except ValidationError as exc:
            errors = field_errors(exc)
        except Invalid as exc:
            errors = exc.fields
        else:
            db.session.commit()
            flash(_("Organization details saved."))
            return redirect(url_for("accounts.organization"))
        db.session.rollback()
        return render_template(
            "accounts/organization.html", org=org, values=values, errors=errors
        ), 422
    return render_template("accounts/organization.html", org=org, values=values, errors=errors)


@bp.route("/organization/users", methods=["GET", "POST"])
@org_admin_required
def org_users() -> Any:
    errors: dict[str, Any] = {}
    values: dict[str, Any] = {"role": "member"}
    status = 200
    if request.method == "POST":
        values = request.form.to_dict()
        values.pop("password", None)
        try:
            data = _form(schemas.UserCreateSchema())
            now = utcnow()
            user = services.create_org_user(db.session, now, current_user, data, _min_pw())
            verification.send_link(db.session, now, user)
        except ValidationError as exc:
            errors = field_errors(exc)
        except Invalid as exc:
            errors = exc.fields
        else:
            db.session.commit()
            flash(_("User %(email)s created.", email=user.email))
            return redirect(url_for("accounts.org_users"))
        db.session.rollback()
        status = 422
    users = db.session.scalars(
        select(User).where(User.organization_id == current_user.organization_id).order_by(User.name)
    ).all()
    return render_template(
        "accounts/org_users.html", users=users, values=values, errors=errors
    ), status


@bp.post("/organization/users/<int:user_id>/active")
@org_admin_required
def org_user_active(user_id: int) -> Response:
    active = request.form.get("active") == "1"
    services.set_user_active(db.session, utcnow(), current_user, user_id, active)
    db.session.commit()
    flash(_("User activated.") if active else _("User deactivated."))
    return redirect(url_for("accounts.org_users"))


# -- platform administration ------------------------------------------------------------------


def _organizations_page(
    status: str,
    review_errors: dict[int, dict[str, Any]] | None = None,
    review_values: dict[int, dict[str, Any]] | None = None,
    code: int = 200,
) -> Any:
    stmt = select(Organization).order_by(Organization.created_at.desc())
    if status in {s.value for s in OrgStatus}:
        stmt = stmt.where(Organization.status == OrgStatus(status))
    orgs = db.session.scalars(stmt).all()
    return render_template(
        "accounts/admin_organizations.html",
        orgs=orgs,
        status=status,
        statuses=[s.value for s in OrgStatus],
        region_name=_region_name,
        review_errors=review_errors or {},
        review_values=review_values or {},
    ), code


@bp.get("/admin/organizations")
@platform_admin_required
def admin_organizations() -> Any:
    return _organizations_page(request.args.get("status", "pending"))


@bp.post("/admin/organizations/<int:org_id>/review")
@platform_admin_required
def admin_review(org_id: int) -> Any:
    """Approve or decline; a decline without a reason re-renders the queue (422) with the
    message next to that organization's reason field and the typed text kept."""
    try:
        data = _form(schemas.ReviewSchema())
        services.review_organization(
            db.session, utcnow(), current_user, org_id, data["decision"] == "approve", data["note"]
        )
    except ValidationError as exc:
        errors = field_errors(exc)
    except Invalid as exc:
        errors = exc.fields
    else:
        db.session.commit()
        flash(_("Decision saved."))
        return redirect(url_for("accounts.admin_organizations"))
    db.session.rollback()
    return _organizations_page("pending", {org_id: errors}, {org_id: request.form.to_dict()}, 422)


@bp.route("/admin/regulators", methods=["GET", "POST"])
@platform_admin_required
def admin_regulators() -> Any:
    errors: dict[str, Any] = {}
    values: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            data = _form(schemas.RegulatorBodySchema())
            services.create_regulator_body(db.session, utcnow(), current_user, data)
        except ValidationError as exc:
            errors = field_errors(exc)
        except Invalid as exc:
            errors = exc.fields
        else:
            db.session.commit()
            flash(_("Regulator body created."))
            return redirect(url_for("accounts.admin_regulators"))
        db.session.rollback()
        status = 422
    bodies = db.session.scalars(select(RegulatorBody).order_by(RegulatorBody.region_code)).all()
    return render_template(
        "accounts/admin_regulators.html", bodies=bodies, values=values, errors=errors
    ), status


@bp.route("/admin/regulators/<int:body_id>/users", methods=["GET", "POST"])
@platform_admin_required
def admin_regulator_users(body_id: int) -> Any:
    body = db.session.get(RegulatorBody, body_id)
    if body is None:
        raise NotFound()
    errors: dict[str, Any] = {}
    values: dict[str, Any] = {"role": "inspector"}
    status = 200
    if request.method == "POST":
        values = request.form.to_dict()
        values.pop("password", None)
        try:
            data = _form(schemas.RegulatorUserCreateSchema())
            now = utcnow()
            user = services.create_regulator_user(
                db.session, now, current_user, body, data, _min_pw()
            )
            verification.send_link(db.session, now, user)
        except ValidationError as exc:
            errors = field_errors(exc)
        except Invalid as exc:
            errors = exc.fields
        else:
            db.session.commit()
            flash(_("User created."))
            return redirect(url_for("accounts.admin_regulator_users", body_id=body.id))
        db.session.rollback()
        status = 422
    return render_template(
        "accounts/admin_regulator_users.html", body=body, values=values, errors=errors
    ), status
