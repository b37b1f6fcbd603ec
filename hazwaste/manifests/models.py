"""Manifests (电子转移联单), their lines, hand-off events and number serials."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from hazwaste.accounts.models import Organization, User
from hazwaste.db import Base, str_enum, utcnow
from hazwaste.permits.models import Driver, Vehicle


class ManifestStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"
    RECEIVED = "received"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class PhysicalForm(enum.StrEnum):
    SOLID = "solid"  # 固态
    LIQUID = "liquid"  # 液态
    SEMI_SOLID = "semi_solid"  # 半固态
    GAS = "gas"  # 气态


class LineDecision(enum.StrEnum):
    ACCEPT = "accept"
    PARTIAL = "partial"  # partially rejected
    REJECT = "reject"


class EventKind(enum.StrEnum):
    CREATED = "created"
    EDITED = "edited"
    SUBMITTED = "submitted"
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    RECEIVED = "received"
    REJECTED = "rejected"
    DISPOSED = "disposed"
    CANCELLED = "cancelled"
    CORRECTED = "corrected"


class Manifest(Base):
    __tablename__ = "manifests"
    __table_args__ = (
        Index("ix_manifests_producer_status", "producer_id", "status"),
        Index("ix_manifests_carrier_status", "carrier_id", "status"),
        Index("ix_manifests_receiver_status", "receiver_id", "status"),
        # A receiver's receipts in a period (the licence check drills into suspect months).
        Index("ix_manifests_receiver_received", "receiver_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(14), unique=True)
    status: Mapped[ManifestStatus] = mapped_column(
        str_enum(ManifestStatus, "manifest_status"), default=ManifestStatus.DRAFT, index=True
    )
    producer_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    carrier_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    receiver_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("drivers.id"))
    planned_date: Mapped[date]
    emergency_measures: Mapped[str] = mapped_column(Text, default="")
    catalog_edition: Mapped[str] = mapped_column(ForeignKey("catalog_editions.code"))
    # Counts every accepted change; lets a page refuse a stale form and lets the API expose it.
    version: Mapped[int] = mapped_column(default=1)

    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    picked_up_at: Mapped[datetime | None] = mapped_column(index=True)
    pickup_vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    pickup_driver_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    delivered_at: Mapped[datetime | None] = mapped_column(index=True)
    receipt_due_date: Mapped[date | None]
    receipt_due_exact: Mapped[bool] = mapped_column(default=True)
    received_at: Mapped[datetime | None] = mapped_column(index=True)
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str] = mapped_column(Text, default="")

    producer: Mapped[Organization] = relationship(foreign_keys=[producer_id])
    carrier: Mapped[Organization] = relationship(foreign_keys=[carrier_id])
    receiver: Mapped[Organization] = relationship(foreign_keys=[receiver_id])
    vehicle: Mapped[Vehicle | None] = relationship(foreign_keys=[vehicle_id])
    driver: Mapped[Driver | None] = relationship(foreign_keys=[driver_id])
    pickup_vehicle: Mapped[Vehicle | None] = relationship(foreign_keys=[pickup_vehicle_id])
    pickup_driver: Mapped[User | None] = relationship(foreign_keys=[pickup_driver_user_id])
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    lines: Mapped[list[ManifestLine]] = relationship(
        back_populates="manifest", cascade="all, delete-orphan", order_by="ManifestLine.line_no"
    )
    events: Mapped[list[ManifestEvent]] = relationship(
        back_populates="manifest", order_by="ManifestEvent.id"
    )
    #: How many containers are on the manifest, when the query asked for it
    #: (:func:`hazwaste.manifests.services.get_visible` with ``handoff=True``); else None.
    container_total: Mapped[int | None] = query_expression()

    @property
    def party_ids(self) -> set[int]:
        return {self.producer_id, self.carrier_id, self.receiver_id}

    @property
    def declared_total_kg(self) -> Decimal:
        return sum((line.declared_kg for line in self.lines), Decimal("0"))

    @property
    def categories(self) -> list[str]:
        return sorted({"HW" + line.waste_code[-2:] for line in self.lines})


class ManifestLine(Base):
    """One waste code on a manifest with its quantity at every step (kg)."""

    __tablename__ = "manifest_lines"
    __table_args__ = (
        UniqueConstraint("manifest_id", "line_no"),
        CheckConstraint("declared_kg > 0", name="declared_positive"),
        CheckConstraint("container_count >= 0", name="containers_non_negative"),
        Index("ix_manifest_lines_waste_code", "waste_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    manifest_id: Mapped[int] = mapped_column(ForeignKey("manifests.id"), index=True)
    line_no: Mapped[int]
    waste_code: Mapped[str] = mapped_column(String(10))
    waste_name: Mapped[str] = mapped_column(String(200))
    physical_form: Mapped[PhysicalForm] = mapped_column(str_enum(PhysicalForm, "physical_form"))
    hazards: Mapped[str] = mapped_column(String(20))  # "T,I"
    packaging: Mapped[str] = mapped_column(String(100))
    container_count: Mapped[int] = mapped_column(default=0)
    declared_kg: Mapped[Decimal]
    declared_unit: Mapped[str] = mapped_column(String(2), default="kg")  # as the user typed it
    loaded_kg: Mapped[Decimal | None]
    received_kg: Mapped[Decimal | None]
    accepted_kg: Mapped[Decimal | None]
    rejected_kg: Mapped[Decimal | None]
    decision: Mapped[LineDecision | None] = mapped_column(str_enum(LineDecision, "line_decision"))
    rejection_reason: Mapped[str] = mapped_column(Text, default="")
    disposed_kg: Mapped[Decimal | None]
    disposal_method: Mapped[str | None] = mapped_column(ForeignKey("treatment_methods.code"))
    disposal_date: Mapped[date | None] = mapped_column(index=True)

    manifest: Mapped[Manifest] = relationship(back_populates="lines")

    @property
    def hazard_list(self) -> list[str]:
        return [h for h in self.hazards.split(",") if h]

    @property
    def discrepancy_kg(self) -> Decimal | None:
        """Received − loaded; computed, never typed."""
        if self.received_kg is None or self.loaded_kg is None:
            return None
        return self.received_kg - self.loaded_kg

    @property
    def discrepancy_pct(self) -> Decimal | None:
        gap = self.discrepancy_kg
        if gap is None or not self.loaded_kg:
            return None
        return (gap * 100 / self.loaded_kg).quantize(Decimal("0.01"))


class ManifestEvent(Base):
    """An append-only hand-off or change: who, when, where, what quantities."""

    __tablename__ = "manifest_events"
    __table_args__ = (Index("ix_manifest_events_kind_time", "kind", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    manifest_id: Mapped[int] = mapped_column(ForeignKey("manifests.id"), index=True)
    kind: Mapped[EventKind] = mapped_column(str_enum(EventKind, "manifest_event_kind"))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    actor_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    accuracy_m: Mapped[float | None]
    # Why there is no position: "denied", "unavailable", "not_requested" (desktop), "".
    position_note: Mapped[str] = mapped_column(String(40), default="")
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON: quantities etc.
    corrects_event_id: Mapped[int | None] = mapped_column(ForeignKey("manifest_events.id"))
    total_kg: Mapped[Decimal | None]  # the step's total weight, for fast scans and reports
    # Metres from the site the hand-off is expected at, computed when recorded (see
    # hazwaste.manifests.geo); indexed for the LOCATION_MISMATCH rule.
    site_distance_m: Mapped[int | None] = mapped_column(index=True)

    manifest: Mapped[Manifest] = relationship(back_populates="events")
    actor: Mapped[User] = relationship(foreign_keys=[actor_user_id])
    actor_org: Mapped[Organization | None] = relationship(foreign_keys=[actor_org_id])
    vehicle: Mapped[Vehicle | None] = relationship(foreign_keys=[vehicle_id])


class ManifestSerial(Base):
    """Last serial used per (year, province+city): numbers are YYYY PP CC NNNNNN."""

    __tablename__ = "manifest_serials"

    year: Mapped[int] = mapped_column(primary_key=True)
    city_code: Mapped[str] = mapped_column(String(4), primary_key=True)
    last_serial: Mapped[int] = mapped_column(default=0)
