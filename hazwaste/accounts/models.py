"""Organizations, regulator bodies, users and API tokens."""

from __future__ import annotations

import enum
from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hazwaste.db import Base, str_enum, utcnow


class OrgStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


class UserRole(enum.StrEnum):
    """Role inside the user's organization or regulator body."""

    ADMIN = "admin"  # manages the organization's users, permits and vehicles
    MEMBER = "member"  # office staff: manifests, ledger
    DRIVER = "driver"  # carrier's driver: pickup and delivery scans
    INSPECTOR = "inspector"  # regulator body staff


ORG_ROLES = (UserRole.ADMIN, UserRole.MEMBER, UserRole.DRIVER)
REGULATOR_ROLES = (UserRole.ADMIN, UserRole.INSPECTOR)


class Organization(Base):
    """An enterprise (单位) keyed by its unified social credit code."""

    __tablename__ = "organizations"
    __table_args__ = (CheckConstraint("is_producer OR is_carrier OR is_receiver", name="has_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    is_producer: Mapped[bool] = mapped_column(default=False)
    is_carrier: Mapped[bool] = mapped_column(default=False)
    is_receiver: Mapped[bool] = mapped_column(default=False)
    status: Mapped[OrgStatus] = mapped_column(
        str_enum(OrgStatus, "org_status"), default=OrgStatus.PENDING
    )
    status_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", use_alter=True, name="fk_organizations_reviewed_by_id_users")
    )

    users: Mapped[list[User]] = relationship(
        back_populates="organization", foreign_keys="User.organization_id"
    )
    region: Mapped[Region] = relationship()

    @property
    def is_approved(self) -> bool:
        return self.status is OrgStatus.APPROVED

    @property
    def roles(self) -> list[str]:
        return [
            role
            for role, flag in (
                ("producer", self.is_producer),
                ("carrier", self.is_carrier),
                ("receiver", self.is_receiver),
            )
            if flag
        ]


class RegulatorBody(Base):
    """A 生态环境局 (or branch) whose jurisdiction is a region and everything below it."""

    __tablename__ = "regulator_bodies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="regulator_body")
    region: Mapped[Region] = relationship()

    @property
    def jurisdiction_prefix(self) -> str:
        return self.region.prefix


class User(UserMixin, Base):
    """A person: staff of one organization, staff of one regulator body, or a platform admin."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "NOT (organization_id IS NOT NULL AND regulator_body_id IS NOT NULL)",
            name="one_affiliation",
        ),
        CheckConstraint(
            "is_platform_admin OR organization_id IS NOT NULL OR regulator_body_id IS NOT NULL",
            name="has_affiliation",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(40), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[UserRole] = mapped_column(str_enum(UserRole, "user_role"), default=UserRole.MEMBER)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    regulator_body_id: Mapped[int | None] = mapped_column(
        ForeignKey("regulator_bodies.id"), index=True
    )
    is_platform_admin: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    #: The language of what is sent to the user (e-mail, notifications): one of LANGUAGES.
    locale: Mapped[str] = mapped_column(String(10), default="zh_CN", server_default="zh_CN")
    #: When the user proved the address (a link sent to it); e-mail goes only to proven ones.
    email_verified_at: Mapped[datetime | None]
    #: Notification e-mail once a day instead of one message per event.
    notify_digest: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: China-time date of the last daily digest sent.
    digest_sent_on: Mapped[date | None]

    organization: Mapped[Organization | None] = relationship(
        back_populates="users", foreign_keys=[organization_id]
    )
    regulator_body: Mapped[RegulatorBody | None] = relationship(back_populates="users")
    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")
    sessions: Mapped[list[UserSession]] = relationship(back_populates="user")

    @property
    def is_active(self) -> bool:  # Flask-Login: deactivated users cannot log in
        return self.active

    @property
    def is_regulator(self) -> bool:
        return self.regulator_body_id is not None

    @property
    def org_approved(self) -> bool:
        return self.organization is not None and self.organization.is_approved

    def is_org_admin(self, organization_id: int | None = None) -> bool:
        return (
            self.organization_id is not None
            and self.role is UserRole.ADMIN
            and (organization_id is None or organization_id == self.organization_id)
        )


class ApiToken(Base):
    """A bearer token for the JSON API. Only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    #: The user's label for a named token ("" for a login token).
    name: Mapped[str] = mapped_column(String(100), default="")
    #: Space-separated scope names (hazwaste.accounts.scopes.SCOPES) the token may use.
    scopes: Mapped[str] = mapped_column(Text, default="")
    #: "login" (POST /auth/token) or "named" (created by an authenticated user).
    created_via: Mapped[str] = mapped_column(String(20), default="login", server_default="login")

    user: Mapped[User] = relationship(back_populates="tokens")


class UserSession(Base):
    """One browser login, checked on every request: the session cookie carries the record's
    id and a random secret, of which only the SHA-256 is stored.

    A session ends (``ended_at`` set, never un-set) at logout, by "log out everywhere", by a
    password change (every other session of the user) and when an admin deactivates the
    user; a cookie of an ended session is refused even though its signature is valid.
    ``last_seen_at`` is refreshed at most every ``SESSION_TOUCH_INTERVAL``.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    ended_at: Mapped[datetime | None]
    #: Why it ended: logout, replaced (a new login in the same browser), logout_others,
    #: logout_all, password_changed, deactivated.
    end_reason: Mapped[str] = mapped_column(String(30), default="")

    user: Mapped[User] = relationship(back_populates="sessions")


from hazwaste.catalog.models import Region  # noqa: E402  (relationship target)
