"""Notification pages: the inbox (every page's bell links here), opening one (marks it read
and goes to its object), marking all read, and the preferences. Each user sees only their
own notifications: another user's id is a 404."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from hazwaste.accounts.permissions import login_required
from hazwaste.db import utcnow
from hazwaste.errors import Invalid
from hazwaste.extensions import db
from hazwaste.notifications import services
from hazwaste.notifications.schemas import InboxQuerySchema
from hazwaste.schemas import field_errors

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.get("")
@login_required
def inbox() -> Any:
    try:
        args = InboxQuerySchema().load(request.args)
    except ValidationError:
        args = {"unread": False, "before": None}
    rows = services.inbox(
        db.session, current_user, unread_only=args["unread"], before_id=args["before"]
    )
    return render_template(
        "notifications/inbox.html",
        items=[services.presented(row, current_user) for row in rows],
        unread_only=args["unread"],
        next_before=rows[-1].id if len(rows) == services.PAGE_SIZE else None,
    )


@bp.get("/<int:notification_id>")
@login_required
def open_one(notification_id: int) -> Any:
    """Mark it read and go to what it is about."""
    row = services.get_own(db.session, current_user, notification_id)
    services.mark_read(db.session, utcnow(), row)
    db.session.commit()
    return redirect(services.presented(row, current_user)["link"])


@bp.post("/<int:notification_id>/read")
@login_required
def read(notification_id: int) -> Any:
    row = services.get_own(db.session, current_user, notification_id)
    services.mark_read(db.session, utcnow(), row)
    db.session.commit()
    return redirect(url_for("notifications.inbox"))


@bp.post("/read-all")
@login_required
def read_all() -> Any:
    marked = services.mark_all_read(db.session, utcnow(), current_user)
    db.session.commit()
    flash(_("%(num)s notifications marked read.", num=marked), "success")
    return redirect(url_for("notifications.inbox"))


def _form_choices() -> dict[str, dict[str, bool]]:
    return {
        event_type: {
            "inbox": request.form.get(f"inbox:{event_type}") == "1",
            "email": request.form.get(f"email:{event_type}") == "1",
        }
        for event_type in services.types_for(current_user)
    }


def _preferences_page(choices: list[Any], values: dict[str, Any], errors: Any, status: int) -> Any:
    return (
        render_template(
            "notifications/preferences.html",
            choices=choices,
            values=values,
            errors=errors,
            languages=current_app.config["LANGUAGES"],
        ),
        status,
    )


@bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences() -> Any:
    """Per event type: in the inbox, by e-mail; e-mail at once or in a daily digest; language."""
    if request.method == "GET":
        values = {"digest": current_user.notify_digest, "locale": current_user.locale}
        return _preferences_page(services.choices(db.session, current_user), values, {}, 200)
    chosen = _form_choices()
    values = {"digest": request.form.get("digest") == "1", "locale": request.form.get("locale")}
    try:
        services.save_preferences(
            db.session,
            current_user,
            chosen,
            digest=values["digest"],
            locale=(values["locale"] or "")[:10] or None,
        )
    except (Invalid, ValidationError) as exc:
        db.session.rollback()
        errors = exc.fields if isinstance(exc, Invalid) else field_errors(exc)
        typed = [services.Choice(t, c["inbox"], c["email"]) for t, c in chosen.items()]
        return _preferences_page(typed, values, errors, 422)
    db.session.commit()
    flash(_("Your notification settings are saved."), "success")
    return redirect(url_for("notifications.preferences"))
