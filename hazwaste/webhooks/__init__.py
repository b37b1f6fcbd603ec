"""Signed webhooks: endpoints of organizations and regulator bodies told about domain events."""

from flask import Flask
from flask_babel import lazy_gettext as _l


def init_app(app: Flask) -> None:
    from hazwaste import events
    from hazwaste.jobs import outbox
    from hazwaste.webhooks import api, services, views  # noqa: F401  (API routes: API blueprint)
    from hazwaste.webhooks.schemas import DeliverJobSchema

    app.register_blueprint(views.bp)
    app.register_blueprint(views.developers)
    events.subscribe("webhooks", services.on_event)
    outbox.register(
        services.DELIVER,
        services.deliver,
        schema=DeliverJobSchema,
        summary=lambda payload: f"webhook delivery {payload.get('delivery_id')}",
        label=_l("Webhook delivery"),
    )
