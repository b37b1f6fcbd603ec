"""Webhook endpoints (an organization's or a regulator body's) and their deliveries."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hazwaste.db import Base, str_enum, utcnow


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its first or next attempt
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # every attempt of the schedule failed, or the endpoint was disabled


class WebhookEndpoint(Base):
    """A URL told about the events its owner (one organization or one regulator body) may see.

    ``secret`` signs every delivery (HMAC-SHA256); it is kept so we can sign and shown to the
    owner once, at creation and at rotation. ``event_types`` is a comma-separated list.
    """

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        CheckConstraint(
            "(organization_id IS NULL) <> (regulator_body_id IS NULL)", name="one_owner"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    regulator_body_id: Mapped[int | None] = mapped_column(
        ForeignKey("regulator_bodies.id"), index=True
    )
    url: Mapped[str] = mapped_column(String(500))
    event_types_csv: Mapped[str] = mapped_column(Text, default="")
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str] = mapped_column(String(200), default="")
    failing_since: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    deliveries: Mapped[list[WebhookDelivery]] = relationship(
        back_populates="endpoint", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def event_types(self) -> list[str]:
        return [t for t in self.event_types_csv.split(",") if t]

    @event_types.setter
    def event_types(self, values: list[str]) -> None:
        self.event_types_csv = ",".join(sorted(set(values)))


class WebhookDelivery(Base):
    """One event for one endpoint: at most one row per (endpoint, event id)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)  # the exact JSON body sent (signed as is)
    attempts: Mapped[int] = mapped_column(default=0)
    status: Mapped[DeliveryStatus] = mapped_column(
        str_enum(DeliveryStatus, "webhook_delivery_status"), default=DeliveryStatus.PENDING
    )
    last_response_code: Mapped[int | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    endpoint: Mapped[WebhookEndpoint] = relationship(back_populates="deliveries")
