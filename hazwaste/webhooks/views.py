"""Webhook pages: an organization's or regulator body's administrators list, create, rotate,
disable/enable and delete endpoints and read each one's delivery log (with replay); the public
developer page documents the payload, the headers, the retries and the verification snippet.

A non-administrator gets 403, another owner's endpoint is a 404 (the services decide).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from hazwaste.accounts.permissions import login_required
from hazwaste.db import utcnow
from hazwaste.errors import Invalid
from hazwaste.events.types import EVENT_TYPES
from hazwaste.extensions import db
from hazwaste.schemas import field_errors, form_dict
from hazwaste.webhooks import services
from hazwaste.webhooks.schemas import EndpointSchema

#: The body of a delivery, as the developer page shows it (JSON: nothing to translate).
EXAMPLE_BODY = (
    '{"id": "9f1c…", "type": "manifest.picked_up", "time": "2026-11-20T10:00:00+08:00",\n'
    ' "object": {"kind": "manifest", "id": 42}, "link": "https://…/manifests/42",\n'
    ' "data": {"number": "…"}}'
)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
developers = Blueprint("developers", __name__, url_prefix="/developers")

#: The verification snippet shown on the developer page (the tests import this very file).
VERIFY_SNIPPET = Path(__file__).with_name("verify_snippet.py")


def _list(values: dict[str, Any], errors: dict[str, Any], status: int = 200) -> Any:
    return (
        render_template(
            "webhooks/list.html",
            endpoints=services.endpoints_of(db.session, current_user),
            event_types=EVENT_TYPES,
            values=values,
            errors=errors,
        ),
        status,
    )


@bp.route("", methods=["GET", "POST"])
@login_required
def index() -> Any:
    """The owner's endpoints; POST registers one and shows its secret once."""
    services.owner_of(current_user)
    if request.method == "GET":
        return _list({"event_types": []}, {})
    values = form_dict(request.form, {"event_types"})
    values.setdefault("event_types", [])
    try:
        data = EndpointSchema().load(values)
        endpoint = services.create_endpoint(
            db.session, utcnow(), current_user, data["url"], data["event_types"]
        )
    except ValidationError as exc:
        return _list(values, field_errors(exc), 422)
    except Invalid as exc:
        db.session.rollback()
        return _list(values, exc.fields, 422)
    db.session.commit()
    return _secret_page(endpoint)


def _secret_page(endpoint: Any) -> Any:
    return render_template("webhooks/secret.html", endpoint=endpoint)


@bp.get("/<int:webhook_id>")
@login_required
def detail(webhook_id: int) -> Any:
    endpoint = services.get_endpoint(db.session, current_user, webhook_id)
    return render_template(
        "webhooks/detail.html",
        endpoint=endpoint,
        deliveries=services.deliveries_of(db.session, endpoint),
        event_types=EVENT_TYPES,
        china_time=services.china_time,
    )


@bp.post("/<int:webhook_id>/rotate")
@login_required
def rotate(webhook_id: int) -> Any:
    endpoint = services.get_endpoint(db.session, current_user, webhook_id)
    services.update_endpoint(db.session, utcnow(), endpoint, rotate_secret=True)
    db.session.commit()
    return _secret_page(endpoint)


@bp.post("/<int:webhook_id>/active")
@login_required
def active(webhook_id: int) -> Any:
    endpoint = services.get_endpoint(db.session, current_user, webhook_id)
    on = request.form.get("active") == "1"
    services.update_endpoint(db.session, utcnow(), endpoint, active=on)
    db.session.commit()
    flash(_("Endpoint enabled.") if on else _("Endpoint disabled."))
    return redirect(url_for("webhooks.detail", webhook_id=endpoint.id))


@bp.post("/<int:webhook_id>/delete")
@login_required
def delete(webhook_id: int) -> Any:
    endpoint = services.get_endpoint(db.session, current_user, webhook_id)
    services.delete_endpoint(db.session, endpoint)
    db.session.commit()
    flash(_("Endpoint deleted."))
    return redirect(url_for("webhooks.index"))


@bp.post("/<int:webhook_id>/deliveries/<int:delivery_id>/replay")
@login_required
def replay(webhook_id: int, delivery_id: int) -> Any:
    endpoint = services.get_endpoint(db.session, current_user, webhook_id)
    delivery = services.get_delivery(db.session, endpoint, delivery_id)
    services.replay(db.session, utcnow(), delivery)
    db.session.commit()
    flash(_("The delivery will be sent again now."))
    return redirect(url_for("webhooks.detail", webhook_id=endpoint.id))


@developers.get("/webhooks")
def docs() -> Any:
    """Public: how to receive and verify our webhooks."""
    return render_template(
        "webhooks/developers.html",
        snippet=VERIFY_SNIPPET.read_text(),
        event_types=EVENT_TYPES,
        schedule=services.RETRY_SCHEDULE,
        example=EXAMPLE_BODY,
    )
