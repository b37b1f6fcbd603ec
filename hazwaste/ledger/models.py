"""Producer-side records: containers (一物一码) and the management ledger (管理台账, HJ 1259)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hazwaste.accounts.models import Organization, User
from hazwaste.db import Base, str_enum, utcnow
from hazwaste.manifests.models import PhysicalForm


class PackagingType(enum.StrEnum):
    DRUM = "drum"  # 桶
    BAG = "bag"  # 袋
    TOTE = "tote"  # 吨桶/IBC
    TANK = "tank"  # 罐
    BOX = "box"  # 箱
    OTHER = "other"


class ContainerStatus(enum.StrEnum):
    STORED = "stored"  # filled and in the producer's store
    ASSIGNED = "assigned"  # on an open manifest, not yet loaded
    SHIPPED = "shipped"  # loaded at pickup
    RECEIVED = "received"  # accepted at the receiver
    MISSING = "missing"  # expected at receipt but not scanned there
    DISPOSED = "disposed"  # utilised or disposed of by the receiver
    SELF_DISPOSED = "self_disposed"  # used or disposed of on the producer's own site


class Container(Base):
    """One labelled drum, bag, tote or tank of one waste."""

    __tablename__ = "containers"
    __table_args__ = (
        UniqueConstraint("producer_id", "waste_code", "generation_date", "sequence"),
        CheckConstraint("net_weight_kg > 0", name="weight_positive"),
        Index("ix_containers_producer_status", "producer_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    code: Mapped[str] = mapped_column(String(37), unique=True)
    sequence: Mapped[int]
    waste_code: Mapped[str] = mapped_column(String(10))
    waste_name: Mapped[str] = mapped_column(String(200))
    physical_form: Mapped[PhysicalForm] = mapped_column(str_enum(PhysicalForm, "physical_form"))
    hazards: Mapped[str] = mapped_column(String(20))
    main_components: Mapped[str] = mapped_column(String(300), default="")
    harmful_components: Mapped[str] = mapped_column(String(300), default="")
    packaging_type: Mapped[PackagingType] = mapped_column(str_enum(PackagingType, "packaging_type"))
    net_weight_kg: Mapped[Decimal]
    generation_date: Mapped[date]
    source_process: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[ContainerStatus] = mapped_column(
        str_enum(ContainerStatus, "container_status"), default=ContainerStatus.STORED
    )
    manifest_id: Mapped[int | None] = mapped_column(ForeignKey("manifests.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    producer: Mapped[Organization] = relationship()
    created_by: Mapped[User] = relationship()

    @property
    def hazard_list(self) -> list[str]:
        return [h for h in self.hazards.split(",") if h]


class ContainerSequence(Base):
    """Last sequence used per producer, waste code and generation date (3-digit serial)."""

    __tablename__ = "container_sequences"

    producer_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    waste_code: Mapped[str] = mapped_column(String(10), primary_key=True)
    generation_date: Mapped[date] = mapped_column(primary_key=True)
    last_sequence: Mapped[int] = mapped_column(default=0)


class LedgerKind(enum.StrEnum):
    GENERATED = "generated"  # 产生
    STORED_IN = "stored_in"  # 入库
    SHIPPED_OUT = "shipped_out"  # 出库：转移（联单提货）
    SELF_USED = "self_used"  # 出库：自行利用/处置
    STOCK_COUNT = "stock_count"  # 盘点：counted stock at the end of the day


class LedgerEntry(Base):
    """One line of the producer's management ledger (quantities in kg)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("quantity_kg >= 0", name="quantity_non_negative"),
        Index("ix_ledger_entries_producer_code_day", "producer_id", "waste_code", "occurred_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    waste_code: Mapped[str] = mapped_column(String(10))
    kind: Mapped[LedgerKind] = mapped_column(str_enum(LedgerKind, "ledger_kind"))
    quantity_kg: Mapped[Decimal]
    # Alone, so that no query keyed by producer and code prefers it (a kind + day index
    # looked as good as (producer, code, day) to SQLite's planner without statistics).
    occurred_on: Mapped[date] = mapped_column(index=True)
    container_id: Mapped[int | None] = mapped_column(ForeignKey("containers.id"), index=True)
    manifest_id: Mapped[int | None] = mapped_column(ForeignKey("manifests.id"), index=True)
    method_code: Mapped[str | None] = mapped_column(ForeignKey("treatment_methods.code"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    container: Mapped[Container | None] = relationship()
    created_by: Mapped[User] = relationship()
