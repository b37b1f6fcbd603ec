"""Webhook API: an organization's or regulator body's administrators manage its endpoints
and read their delivery log. Another owner's endpoint is a 404; a non-administrator of the
owner gets 403."""

from __future__ import annotations

from typing import Any

from hazwaste.api.core import (
    bp,
    commit,
    current_api_user,
    load_json,
    ok,
    service_call,
    token_required,
)
from hazwaste.api.spec import document
from hazwaste.db import utcnow
from hazwaste.extensions import db
from hazwaste.webhooks import services
from hazwaste.webhooks.schemas import (
    DeliveryOutSchema,
    EndpointOutSchema,
    EndpointPatchSchema,
    EndpointSchema,
    EndpointWithSecretOutSchema,
)

TAGS = ["webhooks"]


@bp.get("/webhooks")
@token_required
@document(
    "/api/v1/webhooks",
    "get",
    "The owner's webhook endpoints (administrators)",
    tags=TAGS,
    response=EndpointOutSchema,
    many=True,
)
def webhooks() -> Any:
    rows = services.endpoints_of(db.session, current_api_user())
    return ok(EndpointOutSchema(many=True).dump(rows), count=len(rows))


@bp.post("/webhooks")
@token_required
@document(
    "/api/v1/webhooks",
    "post",
    "Register an endpoint (URL, event types); the answer shows its signing secret once",
    tags=TAGS,
    request=EndpointSchema,
    response=EndpointWithSecretOutSchema,
    statuses={201: "Created", 403: "Not an administrator"},
)
def create_webhook() -> Any:
    user = current_api_user()
    services.owner_of(user)  # 403 before the body's 422
    data = load_json(EndpointSchema())
    endpoint = service_call(
        services.create_endpoint, db.session, utcnow(), user, data["url"], data["event_types"]
    )
    return commit(ok(EndpointWithSecretOutSchema().dump(endpoint), 201))


@bp.get("/webhooks/<int:webhook_id>")
@token_required
@document(
    "/api/v1/webhooks/{webhook_id}", "get", "One endpoint", tags=TAGS, response=EndpointOutSchema
)
def webhook(webhook_id: int) -> Any:
    return ok(
        EndpointOutSchema().dump(services.get_endpoint(db.session, current_api_user(), webhook_id))
    )


@bp.patch("/webhooks/<int:webhook_id>")
@token_required
@document(
    "/api/v1/webhooks/{webhook_id}",
    "patch",
    "Change the URL or event types, disable/enable, or rotate the secret (shown once)",
    tags=TAGS,
    request=EndpointPatchSchema,
    response=EndpointWithSecretOutSchema,
)
def update_webhook(webhook_id: int) -> Any:
    endpoint = services.get_endpoint(db.session, current_api_user(), webhook_id)
    data = load_json(EndpointPatchSchema())
    service_call(services.update_endpoint, db.session, utcnow(), endpoint, **data)
    out = EndpointWithSecretOutSchema() if data.get("rotate_secret") else EndpointOutSchema()
    return commit(ok(out.dump(endpoint)))


@bp.delete("/webhooks/<int:webhook_id>")
@token_required
@document(
    "/api/v1/webhooks/{webhook_id}",
    "delete",
    "Delete an endpoint and its log",
    tags=TAGS,
    response=EndpointOutSchema,
)
def delete_webhook(webhook_id: int) -> Any:
    endpoint = services.get_endpoint(db.session, current_api_user(), webhook_id)
    dumped = EndpointOutSchema().dump(endpoint)
    services.delete_endpoint(db.session, endpoint)
    return commit(ok(dumped))


@bp.get("/webhooks/<int:webhook_id>/deliveries")
@token_required
@document(
    "/api/v1/webhooks/{webhook_id}/deliveries",
    "get",
    "The endpoint's latest deliveries, newest first",
    tags=TAGS,
    response=DeliveryOutSchema,
    many=True,
)
def deliveries(webhook_id: int) -> Any:
    endpoint = services.get_endpoint(db.session, current_api_user(), webhook_id)
    rows = services.deliveries_of(db.session, endpoint)
    return ok(DeliveryOutSchema(many=True).dump(rows), count=len(rows))


@bp.post("/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/replay")
@token_required
@document(
    "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/replay",
    "post",
    "Send a delivery again now, as a new attempt with the same event id",
    tags=TAGS,
    response=DeliveryOutSchema,
)
def replay(webhook_id: int, delivery_id: int) -> Any:
    endpoint = services.get_endpoint(db.session, current_api_user(), webhook_id)
    delivery = services.get_delivery(db.session, endpoint, delivery_id)
    services.replay(db.session, utcnow(), delivery)
    return commit(ok(DeliveryOutSchema().dump(delivery)))
