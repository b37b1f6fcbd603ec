"""The official holiday schedules (国务院办公厅 notices), one row per year and per day that
differs from the Monday–Friday week: a day off on a weekday (or inside a holiday period) and a
make-up working day (调休) on a weekend."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hazwaste.db import Base, str_enum, utcnow


class DayKind(enum.StrEnum):
    HOLIDAY = "holiday"  # 放假
    WORKDAY = "workday"  # 调休上班


class HolidayYear(Base):
    """One year whose official schedule is known; its days are :class:`HolidayDay` rows."""

    __tablename__ = "holiday_years"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    #: The notice it comes from (e.g. 国办发明电〔2025〕…号), or where it was transcribed from.
    source: Mapped[str] = mapped_column(String(200), default="")
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    loaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    days: Mapped[list[HolidayDay]] = relationship(
        back_populates="holiday_year", cascade="all, delete-orphan", order_by="HolidayDay.day"
    )


class HolidayDay(Base):
    __tablename__ = "holiday_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(
        ForeignKey("holiday_years.year", ondelete="CASCADE"), index=True
    )
    kind: Mapped[DayKind] = mapped_column(str_enum(DayKind, "holiday_day_kind"))
    #: The holiday it belongs to, in Chinese (元旦, 春节, 清明节 …).
    name: Mapped[str] = mapped_column(String(40), default="")

    holiday_year: Mapped[HolidayYear] = relationship(back_populates="days")
