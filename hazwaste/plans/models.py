"""Management plans (管理计划): what a producer expects to generate and transfer per year."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hazwaste.accounts.models import Organization
from hazwaste.db import Base, utcnow


class ManagementPlan(Base):
    __tablename__ = "management_plans"
    __table_args__ = (
        UniqueConstraint("producer_id", "year", "waste_code"),
        CheckConstraint("planned_generation_kg >= 0", name="generation_non_negative"),
        CheckConstraint("planned_transfer_kg >= 0", name="transfer_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    year: Mapped[int]
    waste_code: Mapped[str] = mapped_column(String(10))
    planned_generation_kg: Mapped[Decimal]
    planned_transfer_kg: Mapped[Decimal]
    intended_receiver_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    producer: Mapped[Organization] = relationship(foreign_keys=[producer_id])
    intended_receiver: Mapped[Organization | None] = relationship(
        foreign_keys=[intended_receiver_id]
    )
