"""Accounts rules: registration, approval, users, passwords, API tokens.

Every function takes the session and ``now``; none commits (the caller commits once).
Failures raise :class:`hazwaste.errors.Invalid` with field messages, ``Forbidden`` or
``NotFound``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload
from stdnum.cn import uscc as stdnum_uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength

from hazwaste import events
from hazwaste.accounts import sessions as login_sessions
from hazwaste.accounts.models import (
    ApiToken,
    Organization,
    OrgStatus,
    RegulatorBody,
    User,
    UserRole,
)
from hazwaste.accounts.scopes import SCOPES
from hazwaste.audit import services as audit
from hazwaste.catalog.models import Region
from hazwaste.errors import Conflict, Forbidden, Invalid, NotFound
from hazwaste.events import types as event_types

_hasher = PasswordHasher()
# Verifying against this keeps unknown-e-mail logins as slow as wrong-password ones.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def configure_hasher(params: dict[str, Any] | None) -> None:
    """Use other Argon2id cost parameters (tests lower them; production keeps the defaults).

    Hashes made with other parameters still verify and are upgraded at the next login.
    """
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(**params) if params else PasswordHasher()
    _DUMMY_HASH = _hasher.hash("not-a-real-password")


# -- validation helpers -------------------------------------------------------------------


#: GB 32100-2015 leaves these letters out of the code's alphabet (they look like 1, 0, 2, 5, U).
USCC_FORBIDDEN_LETTERS = "IOZSV"


def check_uscc(value: str) -> str:
    """Return the compact USCC, or raise ``Invalid`` saying what is wrong with it.

    Each kind of mistake has its own message under ``uscc``: wrong length, a letter the
    code never uses (I, O, Z, S, V), other bad characters, a wrong check character.
    """
    try:
        return str(stdnum_uscc.validate(value))
    except InvalidLength:
        msg = _("A unified social credit code has 18 characters.")
    except InvalidChecksum:
        msg = _("The check character is wrong: please check the code for a typo.")
    except (InvalidFormat, InvalidComponent):
        letters = sorted({ch for ch in stdnum_uscc.compact(value) if ch in USCC_FORBIDDEN_LETTERS})
        if letters:
            msg = _(
                "The letters I, O, Z, S and V never appear in a unified social credit "
                "code (found: %(letters)s).",
                letters=", ".join(letters),
            )
        else:
            msg = _("This is not a valid unified social credit code.")
    raise Invalid(msg, {"uscc": [msg]})


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_rules(password: str, min_length: int, field: str = "password") -> None:
    if len(password) < min_length:
        msg = _("Use at least %(n)s characters.", n=min_length)
        raise Invalid(msg, {field: [msg]})


def _region(session: Session, code: str, field: str = "region_code") -> Region:
    region = session.get(Region, code)
    if region is None:
        msg = _("Unknown region code.")
        raise Invalid(msg, {field: [msg]})
    return region


def _email_taken(session: Session, email: str) -> bool:
    return (
        session.scalar(select(User.id).where(func.lower(User.email) == email.lower())) is not None
    )


# -- organizations -------------------------------------------------------------------------


def register_organization(
    session: Session, now: datetime, data: dict[str, Any], min_password: int
) -> tuple[Organization, User]:
    """Create a pending organization and its first admin user.

    ``data`` comes from ``RegistrationSchema``. Raises ``Invalid`` (field messages) for a bad
    USCC, an already registered USCC or e-mail, an unknown region or a short password.
    Nothing is written when it raises.
    """
    errors: dict[str, list[str]] = {}
    try:
        uscc = check_uscc(data["uscc"])
    except Invalid as exc:
        errors.update(exc.fields)
        uscc = data["uscc"]
    else:
        if session.scalar(select(Organization.id).where(Organization.uscc == uscc)):
            errors["uscc"] = [_("An organization with this code is already registered.")]
    if session.get(Region, data["region_code"]) is None:
        errors["region_code"] = [_("Unknown region code.")]
    if _email_taken(session, data["email"]):
        errors["email"] = [_("This e-mail address is already registered.")]
    if len(data["password"]) < min_password:
        errors["password"] = [_("Use at least %(n)s characters.", n=min_password)]
    if not any(data.get(f"is_{r}") for r in ("producer", "carrier", "receiver")):
        errors["roles"] = [_("Choose at least one role.")]
    if errors:
        raise Invalid(_("Some fields are not valid."), errors)

    org = Organization(
        uscc=uscc,
        name=data["org_name"],
        address=data["address"],
        region_code=data["region_code"],
        latitude=data.get("latitude"),
        longitude=data.get("longitude"),
        contact_phone=data.get("contact_phone") or "",
        is_producer=bool(data.get("is_producer")),
        is_carrier=bool(data.get("is_carrier")),
        is_receiver=bool(data.get("is_receiver")),
        status=OrgStatus.PENDING,
        created_at=now,
    )
    user = User(
        email=data["email"].lower(),
        name=data["name"],
        phone=data.get("phone") or "",
        password_hash=hash_password(data["password"]),
        role=UserRole.ADMIN,
        organization=org,
        created_at=now,
        password_changed_at=now,
    )
    session.add_all([org, user])
    session.flush()
    audit.record(
        session,
        now,
        actor_user_id=user.id,
        action="organization.registered",
        object_type="organization",
        object_id=org.id,
        payload={"uscc": org.uscc, "name": org.name, "roles": org.roles},
    )
    return org, user


def review_organization(
    session: Session, now: datetime, admin: User, org_id: int, approve: bool, note: str = ""
) -> Organization:
    """Approve or reject a pending organization (platform admins only).

    Raises ``Forbidden`` for anyone else, ``NotFound`` for an unknown id, ``Conflict`` if the
    organization was already reviewed (a second click must not write a second decision),
    ``Invalid`` (field ``note``) when rejecting without a reason.
    """
    if not admin.is_platform_admin:
        raise Forbidden()
    org = session.get(Organization, org_id)
    if org is None:
        raise NotFound()
    if org.status is not OrgStatus.PENDING:
        raise Conflict(_("This organization has already been reviewed."))
    if approve:
        org.status = OrgStatus.APPROVED
    else:
        if not note:
            msg = _("Give a reason for the rejection.")
            raise Invalid(msg, {"note": [msg]})
        org.status = OrgStatus.REJECTED
    org.status_note = note
    org.reviewed_at = now
    org.reviewed_by_id = admin.id
    audit.record(
        session,
        now,
        actor_user_id=admin.id,
        action="organization.approved" if approve else "organization.rejected",
        object_type="organization",
        object_id=org.id,
        payload={"note": note},
    )
    if approve:
        events.publish(
            session,
            now,
            event_types.ORGANIZATION_APPROVED,
            subject_kind="organization",
            subject_id=org.id,
            organization_ids=[org.id],
            actor_id=admin.id,
        )
    return org


def update_organization(
    session: Session, now: datetime, actor: User, org: Organization, data: dict[str, Any]
) -> Organization:
    """Change an organization's contact data and location (its own admins only)."""
    if not actor.is_org_admin(org.id):
        raise Forbidden()
    _region(session, data["region_code"])
    changed = {}
    for key in ("name", "address", "region_code", "latitude", "longitude", "contact_phone"):
        new = data.get(key) if key in data else getattr(org, key)
        if key == "contact_phone":
            new = new or ""
        if getattr(org, key) != new:
            changed[key] = [getattr(org, key), new]
            setattr(org, key, new)
    if changed:
        audit.record(
            session,
            now,
            actor_user_id=actor.id,
            action="organization.updated",
            object_type="organization",
            object_id=org.id,
            payload=changed,
        )
    return org


# -- users -----------------------------------------------------------------------------------


def create_org_user(
    session: Session, now: datetime, admin: User, data: dict[str, Any], min_password: int
) -> User:
    """An organization admin adds a colleague (member, admin or driver)."""
    if not admin.is_org_admin() or admin.organization is None:
        raise Forbidden()
    role = UserRole(data["role"])
    if role not in (UserRole.ADMIN, UserRole.MEMBER, UserRole.DRIVER):
        raise Invalid(_("Invalid role."), {"role": [_("Invalid role.")]})
    if role is UserRole.DRIVER and not admin.organization.is_carrier:
        msg = _("Only carriers have drivers.")
        raise Invalid(msg, {"role": [msg]})
    return _new_user(
        session, now, admin, data, min_password, role, organization_id=admin.organization_id
    )


def create_regulator_user(
    session: Session,
    now: datetime,
    actor: User,
    body: RegulatorBody,
    data: dict[str, Any],
    min_password: int,
) -> User:
    """Platform admins (or the body's own admins) add staff to a regulator body."""
    if not (
        actor.is_platform_admin
        or (actor.regulator_body_id == body.id and actor.role is UserRole.ADMIN)
    ):
        raise Forbidden()
    role = UserRole(data["role"])
    if role not in (UserRole.ADMIN, UserRole.INSPECTOR):
        raise Invalid(_("Invalid role."), {"role": [_("Invalid role.")]})
    return _new_user(session, now, actor, data, min_password, role, regulator_body_id=body.id)


def _new_user(
    session: Session,
    now: datetime,
    actor: User,
    data: dict[str, Any],
    min_password: int,
    role: UserRole,
    **affiliation: Any,
) -> User:
    errors: dict[str, list[str]] = {}
    if _email_taken(session, data["email"]):
        errors["email"] = [_("This e-mail address is already registered.")]
    if len(data["password"]) < min_password:
        errors["password"] = [_("Use at least %(n)s characters.", n=min_password)]
    if errors:
        raise Invalid(_("Some fields are not valid."), errors)
    user = User(
        email=data["email"].lower(),
        name=data["name"],
        phone=data.get("phone") or "",
        password_hash=hash_password(data["password"]),
        role=role,
        created_at=now,
        password_changed_at=now,
        **affiliation,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        now,
        actor_user_id=actor.id,
        action="user.created",
        object_type="user",
        object_id=user.id,
        payload={"email": user.email, "role": role.value, **affiliation},
    )
    return user


def set_user_active(
    session: Session, now: datetime, admin: User, user_id: int, active: bool
) -> User:
    """Deactivate or reactivate a colleague; admins cannot lock themselves out.

    Deactivation also ends every login session and revokes every API token of the user, so
    reactivating later does not bring an old cookie or token back to life.
    """
    user = session.get(User, user_id)
    if user is None or user.organization_id != admin.organization_id or not admin.is_org_admin():
        raise NotFound()
    if user.id == admin.id:
        raise Forbidden(_("You cannot deactivate your own account."))
    user.active = active
    if not active:
        login_sessions.end_user_sessions(session, now, user.id, "deactivated")
        login_sessions.revoke_user_tokens(session, now, user.id)
    audit.record(
        session,
        now,
        actor_user_id=admin.id,
        action="user.activated" if active else "user.deactivated",
        object_type="user",
        object_id=user.id,
        payload={},
    )
    return user


def create_regulator_body(
    session: Session, now: datetime, admin: User, data: dict[str, Any]
) -> RegulatorBody:
    if not admin.is_platform_admin:
        raise Forbidden()
    _region(session, data["region_code"])
    if session.scalar(select(RegulatorBody.id).where(RegulatorBody.name == data["name"])):
        msg = _("A regulator body with this name exists.")
        raise Invalid(msg, {"name": [msg]})
    body = RegulatorBody(name=data["name"], region_code=data["region_code"], created_at=now)
    session.add(body)
    session.flush()
    audit.record(
        session,
        now,
        actor_user_id=admin.id,
        action="regulator_body.created",
        object_type="regulator_body",
        object_id=body.id,
        payload={"name": body.name, "region_code": body.region_code},
    )
    return body


# -- authentication ----------------------------------------------------------------------------


def authenticate(session: Session, now: datetime, email: str, password: str) -> User | None:
    """Return the active user with these credentials, or None (same timing either way)."""
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    return user


def change_password(
    session: Session,
    now: datetime,
    user: User,
    current: str,
    new: str,
    min_password: int,
    keep_session_id: int | None = None,
) -> None:
    """Replace the user's password after checking the current one.

    Every login session of the user except ``keep_session_id`` (the one making the change)
    ends and every API token is revoked: whoever learnt the old password is locked out.
    Raises ``Invalid`` (``current_password`` or ``new_password``) and then changes nothing.
    """
    try:
        _hasher.verify(user.password_hash, current)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        msg = _("The current password is wrong.")
        raise Invalid(msg, {"current_password": [msg]}) from None
    check_password_rules(new, min_password, "new_password")
    if current == new:
        msg = _("Choose a password different from the current one.")
        raise Invalid(msg, {"new_password": [msg]})
    set_password(session, now, user, new, "password_changed", keep_session_id)


def set_password(
    session: Session,
    now: datetime,
    user: User,
    new: str,
    action: str,
    keep_session_id: int | None = None,
) -> None:
    """Store ``new`` (already checked) as the user's password: every login session except
    ``keep_session_id`` ends and every API token is revoked — whoever knew the old password
    is locked out — and ``user.<action>`` goes to the audit log."""
    user.password_hash = hash_password(new)
    user.password_changed_at = now
    login_sessions.end_user_sessions(session, now, user.id, action, keep_session_id)
    login_sessions.revoke_user_tokens(session, now, user.id)
    audit.record(
        session,
        now,
        actor_user_id=user.id,
        action=f"user.{action}",
        object_type="user",
        object_id=user.id,
        payload={},
    )


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, now: datetime, user: User, ttl: timedelta) -> IssuedToken:
    """Create a bearer token; only its SHA-256 is stored, the token itself is shown once."""

    token = secrets.token_urlsafe(32)
    expires = now + ttl
    session.add(
        ApiToken(
            user_id=user.id,
            token_hash=_token_digest(token),
            created_at=now,
            expires_at=expires,
            scopes=" ".join(SCOPES),
        )
    )
    return IssuedToken(token, expires)


def create_named_token(
    session: Session,
    now: datetime,
    user: User,
    name: str,
    scopes: list[str],
    days: int,
    max_days: int,
    granting: frozenset[str] | None = None,
) -> IssuedToken:
    """A named token with the given scopes, valid for ``days`` (1…``max_days``); the secret
    is returned once, only its SHA-256 is stored. ``granting``: the scopes of the token that
    asks (API), which the new one may not exceed; ``None`` from a logged-in page.
    Raises ``Invalid`` (``name``, ``scopes``, ``expires_in_days``) and then adds nothing."""
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [_("Give the token a name, e.g. the system that will use it.")]
    chosen = list(dict.fromkeys(scopes))
    unknown = [s for s in chosen if s not in SCOPES]
    if not chosen:
        errors["scopes"] = [_("Choose at least one scope.")]
    elif unknown:
        errors["scopes"] = [_("Unknown scope: %(names)s", names=", ".join(unknown))]
    elif granting is not None and not set(chosen) <= granting:
        wider = ", ".join(s for s in chosen if s not in granting)
        errors["scopes"] = [
            _("A token cannot create a token with scopes it lacks: %(names)s", names=wider)
        ]
    if not 1 <= days <= max_days:
        errors["expires_in_days"] = [
            _("Between 1 and %(max)s days.", max=max_days),
        ]
    if errors:
        raise Invalid(_("The token cannot be created."), errors)
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(days=days)
    session.add(
        ApiToken(
            user_id=user.id,
            token_hash=_token_digest(token),
            created_at=now,
            expires_at=expires,
            name=name.strip(),
            scopes=" ".join(s for s in SCOPES if s in chosen),
            created_via="named",
        )
    )
    return IssuedToken(token, expires)


def token_record(session: Session, now: datetime, token: str) -> ApiToken | None:
    """The unexpired, unrevoked token row of an active user for this bearer token, else None."""
    # One query: the token, its user and what the permission checks read of the user.
    row = session.scalar(
        select(ApiToken)
        .where(ApiToken.token_hash == _token_digest(token))
        .options(
            joinedload(ApiToken.user).options(
                joinedload(User.organization), joinedload(User.regulator_body)
            )
        )
    )
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if not row.user.active:
        return None
    return row


def user_for_token(session: Session, now: datetime, token: str) -> User | None:
    """The active user owning an unexpired, unrevoked token, else None."""
    row = token_record(session, now, token)
    return row.user if row is not None else None


def live_tokens(session: Session, now: datetime, user: User) -> list[ApiToken]:
    """The user's tokens that still open the API (unrevoked, unexpired), newest first."""
    return list(
        session.scalars(
            select(ApiToken)
            .where(
                ApiToken.user_id == user.id,
                ApiToken.revoked_at.is_(None),
                ApiToken.expires_at > now,
            )
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def revoke_token(session: Session, now: datetime, user: User, token_id: int) -> ApiToken:
    """Revoke one of ``user``'s own live tokens.

    Raises ``NotFound`` for another user's token, an unknown id, or a token already revoked
    or expired (the same answer for all, so token ids of others cannot be probed).
    """
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id or row.revoked_at is not None or row.expires_at <= now:
        raise NotFound()
    row.revoked_at = now
    audit.record(
        session,
        now,
        actor_user_id=user.id,
        action="api_token.revoked",
        object_type="user",
        object_id=user.id,
        payload={"token_id": row.id},
    )
    return row


def log_out_everywhere(
    session: Session, now: datetime, user: User, keep_session_id: int | None = None
) -> int:
    """End the user's login sessions (all but ``keep_session_id`` if given).

    "Everywhere" (no session kept) also revokes the user's API tokens. Returns the number of
    sessions ended.
    """
    ended = login_sessions.end_user_sessions(
        session, now, user.id, "logout_others" if keep_session_id else "logout_all", keep_session_id
    )
    revoked = 0 if keep_session_id else login_sessions.revoke_user_tokens(session, now, user.id)
    audit.record(
        session,
        now,
        actor_user_id=user.id,
        action="user.sessions_ended",
        object_type="user",
        object_id=user.id,
        payload={"sessions": ended, "tokens": revoked, "kept_current": bool(keep_session_id)},
    )
    return ended
