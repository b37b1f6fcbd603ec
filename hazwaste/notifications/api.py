"""Notification API: the caller's inbox (read, mark read) and their preferences. Every
operation concerns the caller only; another user's notification is a 404."""

from __future__ import annotations

from typing import Any

from hazwaste.api.core import (
    bp,
    commit,
    current_api_user,
    load_json,
    load_query,
    ok,
    service_call,
    token_required,
)
from hazwaste.api.spec import document
from hazwaste.db import utcnow
from hazwaste.extensions import db
from hazwaste.notifications import services
from hazwaste.notifications.schemas import (
    ChoiceOutSchema,
    InboxQuerySchema,
    NotificationOutSchema,
    PreferencesSchema,
)

TAGS = ["notifications"]


def _out(rows: list[Any]) -> list[dict[str, Any]]:
    user = current_api_user()
    presented = [services.presented(row, user) for row in rows]
    return NotificationOutSchema(many=True).dump(presented)


@bp.get("/notifications")
@token_required
@document(
    "/api/v1/notifications",
    "get",
    "The caller's notifications, newest first (50 per page; ?before=<id> for the next)",
    tags=TAGS,
    query=InboxQuerySchema,
    response=NotificationOutSchema,
    many=True,
)
def notifications() -> Any:
    user = current_api_user()
    args = load_query(InboxQuerySchema())
    rows = services.inbox(db.session, user, unread_only=args["unread"], before_id=args["before"])
    return ok(
        _out(rows),
        count=len(rows),
        unread=services.unread_count(db.session, user),
        next_before=rows[-1].id if len(rows) == services.PAGE_SIZE else None,
    )


@bp.post("/notifications/<int:notification_id>/read")
@token_required
@document(
    "/api/v1/notifications/{notification_id}/read",
    "post",
    "Mark one notification read",
    tags=TAGS,
    response=NotificationOutSchema,
)
def read_notification(notification_id: int) -> Any:
    row = services.get_own(db.session, current_api_user(), notification_id)
    services.mark_read(db.session, utcnow(), row)
    return commit(ok(_out([row])[0]))


@bp.post("/notifications/read-all")
@token_required
@document(
    "/api/v1/notifications/read-all",
    "post",
    "Mark every notification of the caller read",
    tags=TAGS,
)
def read_all_notifications() -> Any:
    marked = services.mark_all_read(db.session, utcnow(), current_api_user())
    return commit(ok({"marked": marked}))


def _preferences(user: Any) -> dict[str, Any]:
    return {
        "digest": user.notify_digest,
        "locale": user.locale,
        "email_verified": user.email_verified_at is not None,
        "types": ChoiceOutSchema(many=True).dump(services.choices(db.session, user)),
    }


@bp.get("/notifications/preferences")
@token_required
@document(
    "/api/v1/notifications/preferences",
    "get",
    "The caller's channels per event type, daily digest and e-mail language",
    tags=TAGS,
)
def notification_preferences() -> Any:
    return ok(_preferences(current_api_user()))


@bp.put("/notifications/preferences")
@token_required
@document(
    "/api/v1/notifications/preferences",
    "put",
    'Change channels per type ({"types": {"manifest.rejected": {"email": false}}}), '
    "the digest and the language",
    tags=TAGS,
    request=PreferencesSchema,
)
def update_notification_preferences() -> Any:
    user = current_api_user()
    data = load_json(PreferencesSchema())
    service_call(
        services.save_preferences,
        db.session,
        user,
        data["types"],
        digest=data["digest"],
        locale=data["locale"],
    )
    return commit(ok(_preferences(user)))
