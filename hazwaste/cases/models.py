"""Case notes and enterprise responses attached to a flag.

The case state itself (``Flag.case_status``, ``case_finding``, ``assignee_id``) lives on the
flag row so the queue can filter and sort on it in one query; the history of a case is the
ordered list of its :class:`CaseNote` rows (plus the audit log).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hazwaste.accounts.models import Organization, User
from hazwaste.db import Base, str_enum, utcnow
from hazwaste.reconciliation.models import CaseStatus, Flag


class CaseNoteKind(enum.StrEnum):
    NOTE = "note"  # free text by an inspector
    TRANSITION = "transition"  # case status changed (from_status → to_status)
    ASSIGNMENT = "assignment"  # assigned to (or unassigned from) an inspector


class CaseNote(Base):
    """One entry of a case's history, written by a regulator user."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[CaseNoteKind] = mapped_column(
        str_enum(CaseNoteKind, "case_note_kind"), default=CaseNoteKind.NOTE
    )
    body: Mapped[str] = mapped_column(Text, default="")
    from_status: Mapped[CaseStatus | None] = mapped_column(
        str_enum(CaseStatus, "case_note_from_status")
    )
    to_status: Mapped[CaseStatus | None] = mapped_column(
        str_enum(CaseStatus, "case_note_to_status")
    )
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    flag: Mapped[Flag] = relationship()
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])


class FlagResponse(Base):
    """The enterprise's explanation of a flag, with descriptions of its attachments
    (documents are kept by the enterprise; the platform stores what they are)."""

    __tablename__ = "flag_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    attachments: Mapped[str] = mapped_column(Text, default="")  # one description per line
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    flag: Mapped[Flag] = relationship()
    organization: Mapped[Organization] = relationship()
    author: Mapped[User] = relationship()
