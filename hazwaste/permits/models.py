"""Permits: receivers' licences, carriers' transport permits, vehicles and drivers."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hazwaste.accounts.models import Organization, User
from hazwaste.catalog.models import TreatmentMethod
from hazwaste.db import Base, utcnow

#: 经营方式 of a licence, in the order of the licence form (《危险废物经营许可证管理办法》).
MODES = ("collect", "store", "utilise", "dispose")
#: A 综合经营许可证: every mode (the default of licences recorded before modes existed).
ALL_MODES = ",".join(MODES)


class Licence(Base):
    """危险废物经营许可证 of a receiver."""

    __tablename__ = "licences"
    __table_args__ = (
        CheckConstraint("valid_to >= valid_from", name="valid_range"),
        CheckConstraint("annual_capacity_kg > 0", name="capacity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    number: Mapped[str] = mapped_column(String(60), unique=True)
    valid_from: Mapped[date]
    valid_to: Mapped[date]
    annual_capacity_kg: Mapped[Decimal]
    #: 经营方式, comma-separated: collect (收集), store (贮存), utilise (利用), dispose (处置).
    modes: Mapped[str] = mapped_column(String(40), default=ALL_MODES, server_default=ALL_MODES)
    revoked_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organization: Mapped[Organization] = relationship()
    scopes: Mapped[list[LicenceScope]] = relationship(
        back_populates="licence", cascade="all, delete-orphan", order_by="LicenceScope.id"
    )
    methods: Mapped[list[LicenceMethod]] = relationship(
        back_populates="licence", cascade="all, delete-orphan", order_by="LicenceMethod.method_code"
    )

    @property
    def mode_list(self) -> list[str]:
        return [m for m in (self.modes or "").split(",") if m]

    @property
    def method_codes(self) -> list[str]:
        return [m.method_code for m in self.methods]

    @property
    def scope_categories(self) -> list[str]:
        return [s.category for s in self.scopes if s.category]

    @property
    def scope_codes(self) -> list[str]:
        return [s.waste_code for s in self.scopes if s.waste_code]

    def is_valid_on(self, on_date: date) -> bool:
        return self.revoked_at is None and self.valid_from <= on_date <= self.valid_to


class LicenceScope(Base):
    """One scope item of a licence: a whole HW category or one waste code."""

    __tablename__ = "licence_scopes"
    __table_args__ = (
        CheckConstraint("(category IS NULL) <> (waste_code IS NULL)", name="category_xor_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    licence_id: Mapped[int] = mapped_column(ForeignKey("licences.id"), index=True)
    category: Mapped[str | None] = mapped_column(String(4))
    waste_code: Mapped[str | None] = mapped_column(String(10))

    licence: Mapped[Licence] = relationship(back_populates="scopes")


class LicenceMethod(Base):
    """A utilisation/disposal method (R/D/C code) the licence allows."""

    __tablename__ = "licence_methods"

    licence_id: Mapped[int] = mapped_column(ForeignKey("licences.id"), primary_key=True)
    method_code: Mapped[str] = mapped_column(ForeignKey("treatment_methods.code"), primary_key=True)

    licence: Mapped[Licence] = relationship(back_populates="methods")
    method: Mapped[TreatmentMethod] = relationship()


class CarrierPermit(Base):
    """道路危险货物运输许可证 of a carrier."""

    __tablename__ = "carrier_permits"
    __table_args__ = (CheckConstraint("valid_to >= valid_from", name="valid_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    number: Mapped[str] = mapped_column(String(60), unique=True)
    valid_from: Mapped[date]
    valid_to: Mapped[date]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organization: Mapped[Organization] = relationship()

    def is_valid_on(self, on_date: date) -> bool:
        return self.revoked_at is None and self.valid_from <= on_date <= self.valid_to


class Vehicle(Base):
    """A carrier's vehicle, identified by its Chinese plate."""

    __tablename__ = "vehicles"
    __table_args__ = (CheckConstraint("max_load_kg > 0", name="max_load_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    plate: Mapped[str] = mapped_column(String(10), unique=True)
    vehicle_type: Mapped[str] = mapped_column(String(60), default="")
    max_load_kg: Mapped[Decimal]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organization: Mapped[Organization] = relationship()


class Driver(Base):
    """A carrier's driver: a user with role ``driver`` plus the papers a roadside check asks for."""

    __tablename__ = "drivers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    licence_number: Mapped[str] = mapped_column(String(40))  # 驾驶证号
    qualification_number: Mapped[str] = mapped_column(String(40))  # 从业资格证号
    qualification_valid_to: Mapped[date]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()
    organization: Mapped[Organization] = relationship()
