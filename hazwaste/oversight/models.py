"""Stored 双随机 inspection draws: enough to re-run each one and show it was not rigged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hazwaste.accounts.models import RegulatorBody, User
from hazwaste.db import Base, utcnow


class InspectionDraw(Base):
    """One random draw of enterprises to inspect and of the inspectors sent to each.

    ``inputs`` is canonical JSON of everything the draw used (candidates sorted by id with
    their weights, inspectors sorted by id, N, inspectors per enterprise); ``result`` is the
    ordered picks. Re-running :func:`hazwaste.oversight.draws.pick` on ``seed`` and
    ``inputs`` must give ``result`` again.
    """

    __tablename__ = "inspection_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    regulator_body_id: Mapped[int] = mapped_column(ForeignKey("regulator_bodies.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    seed: Mapped[str] = mapped_column(String(64))
    inputs: Mapped[str] = mapped_column(Text)
    result: Mapped[str] = mapped_column(Text)

    regulator_body: Mapped[RegulatorBody] = relationship()
    created_by: Mapped[User] = relationship()
