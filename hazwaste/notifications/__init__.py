"""Notifications: an inbox for every user (the bell on every page) and e-mail, for the events
of :mod:`hazwaste.events` the user is entitled to know about, as each user chose."""

from datetime import timedelta
from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l

#: How often the workers look for reminders and digests to send (both idempotent).
PERIODIC_EVERY = timedelta(minutes=15)


def init_app(app: Flask) -> None:
    from flask_login import current_user

    from hazwaste import events
    from hazwaste.extensions import db
    from hazwaste.jobs import outbox
    from hazwaste.notifications import api, services, views  # noqa: F401  (API routes)
    from hazwaste.notifications.cli import notifications_cli
    from hazwaste.notifications.schemas import FanoutJobSchema

    app.register_blueprint(views.bp)
    app.jinja_env.filters["event_type_name"] = lambda t: str(events.EVENT_TYPES.get(t, t))
    app.cli.add_command(notifications_cli)
    events.subscribe("notifications", services.on_event)
    outbox.register(
        services.FANOUT,
        services.fanout,
        schema=FanoutJobSchema,
        summary=lambda payload: str(payload.get("event", {}).get("type", "")),
        label=_l("Notifications of an event"),
    )
    outbox.register_periodic("notifications.periodic", services.periodic_job, PERIODIC_EVERY)

    @app.context_processor
    def bell() -> dict[str, Any]:
        def unread() -> int:
            if not current_user.is_authenticated:
                return 0
            return services.unread_count(db.session, current_user)

        return {"unread_notifications": unread}
