"""In-app notifications and each user's choices of what reaches them how."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hazwaste.accounts.models import User
from hazwaste.db import Base, utcnow


class Notification(Base):
    """One event told to one user: at most one row per (user, event id), so an event that is
    dispatched twice notifies once.

    The text is not stored: it is worded when shown (in the reader's language, from
    ``event_type`` and ``data``), so a user who switches language reads the old ones in it too.
    ``inbox`` is false when the user wants the type by e-mail only; ``email_pending`` marks
    a row waiting for the user's daily digest.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("user_id", "event_id"),
        Index("ix_notifications_user_unread", "user_id", "inbox", "read_at"),
        Index("ix_notifications_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    subject_kind: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[int]
    data_json: Mapped[str] = mapped_column(Text, default="{}")
    occurred_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    inbox: Mapped[bool] = mapped_column(default=True)
    read_at: Mapped[datetime | None]
    email_pending: Mapped[bool] = mapped_column(default=False)
    emailed_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    @property
    def data(self) -> dict[str, Any]:
        value = json.loads(self.data_json or "{}")
        return value if isinstance(value, dict) else {}


class NotificationPreference(Base):
    """A user's choice for one event type (no row: the type's default)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "event_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    inbox: Mapped[bool] = mapped_column(default=True)
    email: Mapped[bool] = mapped_column(default=True)
