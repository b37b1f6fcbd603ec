"""The OpenAPI document tells the truth: every documented operation, called for real on the
demo world, answers a status documented for it with a body its schema accepts; every API route
is documented and every documented operation is a route."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator
from sqlalchemy import select

from hazwaste.audit.models import AuditEntry
from hazwaste.audit.services import checkpoint
from hazwaste.holidays import services as holidays
from hazwaste.ledger.models import Container
from hazwaste.manifests.models import Manifest
from hazwaste.notifications.models import Notification
from hazwaste.oversight.models import InspectionDraw
from hazwaste.plans.models import ManagementPlan
from hazwaste.reconciliation.models import Flag
from tests.conftest import api_token

DEMO_ROLES = {
    "producer": "producer@demo.test",
    "carrier": "carrier@demo.test",
    "receiver": "receiver@demo.test",
    "regulator": "regulator@demo.test",
}

#: Who calls an operation (by the path's first segment): the party it is meant for, so
#: reads succeed; everything else is the producer.
CALLER = {
    "flags": "regulator",
    "balances": "regulator",
    "risk": "regulator",
    "inspections": "regulator",
    "licences": "receiver",
    "licence-coverage": "receiver",
    "carrier-permits": "carrier",
    "vehicles": "carrier",
    "drivers": "carrier",
    "auth": "auth",
    "audit": "regulator",
}

CONTAINER = {
    "waste_code": "900-249-08",
    "waste_name": "废矿物油",
    "physical_form": "liquid",
    "hazards": ["T", "I"],
    "packaging_type": "drum",
    "net_weight_kg": "180.5",
    "generation_date": "2026-11-02",
}


def shape(path: str) -> str:
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


@pytest.fixture()
def world(session, now):
    from hazwaste.demo.services import seed_demo

    world = seed_demo(session, now, history=True)
    session.commit()
    return world


def first_id(session, model, *where) -> int:
    found = session.scalar(select(model.id).where(*where).order_by(model.id))
    assert found is not None, f"the demo world has no {model.__name__}"
    return int(found)


def path_values(session, world) -> dict[str, dict[str, Any]]:
    """Real objects for each path parameter, by the path's first segment."""
    producer = world.orgs["producer"]
    manifest = session.scalar(
        select(Manifest)
        .where(Manifest.producer_id == producer.id, Manifest.number.is_not(None))
        .order_by(Manifest.id)
    )
    assert manifest is not None
    container = first_id(session, Container)
    draw = first_id(session, InspectionDraw)
    return {
        "organizations": {"org_id": producer.id},
        "licences": {"licence_id": world.extra["licence"].id},
        "vehicles": {"vehicle_id": world.extra["vehicles"][0].id},
        "manifests": {"number_or_id": manifest.number, "manifest_id": manifest.id},
        "flags": {"flag_id": first_id(session, Flag)},
        "containers": {"id_or_code": container, "id": container},
        "plans": {
            "id": first_id(session, ManagementPlan, ManagementPlan.producer_id == producer.id)
        },
        "inspections": {"draw_id": draw},
    }


def _webhook_with_delivery(session, world, now) -> dict[str, int]:
    """An endpoint of the producer with one delivery (rows only: no DNS lookup, no HTTP)."""
    from hazwaste.webhooks.models import WebhookDelivery, WebhookEndpoint

    endpoint = WebhookEndpoint(
        organization_id=world.orgs["producer"].id,
        url="https://example.com/hook",
        event_types_csv="manifest.picked_up",
        secret="0" * 64,
        created_at=now,
    )
    session.add(endpoint)
    session.flush()
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id,
        event_id="e" * 32,
        event_type="manifest.picked_up",
        payload="{}",
        created_at=now,
    )
    session.add(delivery)
    session.commit()
    return {"webhook_id": endpoint.id, "delivery_id": delivery.id}


def valid_bodies(world) -> dict[tuple[str, str], Any]:
    """Bodies that should succeed, for the operations that create something."""
    today = date(2026, 11, 20)
    return {
        ("post", "/api/v1/containers"): CONTAINER,
        ("post", "/api/v1/containers/bulk"): {"containers": [CONTAINER, CONTAINER]},
        ("post", "/api/v1/ledger"): {
            "waste_code": "900-249-08",
            "kind": "generated",
            "quantity_kg": 12.5,
            "occurred_on": "2026-11-03",
        },
        ("post", "/api/v1/plans"): {
            "year": today.year,
            "waste_code": "900-249-08",
            "planned_generation_kg": "25000",
            "planned_transfer_kg": 25000,
            "intended_receiver_id": world.orgs["receiver"].id,
        },
        ("post", "/api/v1/manifests"): {
            "carrier_id": world.orgs["carrier"].id,
            "receiver_id": world.orgs["receiver"].id,
            "planned_date": "2026-11-25",
            "lines": [
                {
                    "waste_code": "900-249-08",
                    "physical_form": "liquid",
                    "hazards": ["T"],
                    "packaging": "200L铁桶",
                    "declared_qty": "1.5",
                    "declared_unit": "t",
                }
            ],
        },
        ("post", "/api/v1/inspections/draws"): {"n": 2, "seed": "conformance"},
        ("post", "/api/v1/auth/token"): {"email": "producer@demo.test", "password": "wrong"},
    }


def query_values(world) -> dict[str, Any]:
    """Values for required query parameters."""
    return {"receiver_id": world.orgs["receiver"].id, "waste_code": "900-249-08"}


def validator(spec: dict[str, Any], schema: dict[str, Any]) -> OAS30Validator:
    # The document's components travel with the schema so that its $refs resolve.
    return OAS30Validator({**schema, "components": spec["components"]})


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Reads first, then writes, deletions last (so what the reads need still exists)."""
    order = {"get": 0, "post": 1, "patch": 1, "put": 1, "delete": 2}
    found = [
        (method, path, op)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if method in order
    ]
    # Revoking the caller's own token goes last: nothing after it could authenticate.
    return sorted(
        found, key=lambda item: (order[item[0]], item[:2] == ("delete", "/api/v1/auth/token"))
    )


def test_every_route_is_documented_and_every_operation_is_a_route(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    documented = {(shape(path), method) for path, ops in spec["paths"].items() for method in ops}
    routes = {
        (shape(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert routes - documented == set(), "routes missing from the document"
    assert documented - routes == set(), "documented operations that are no route"


def _notification_of(session, world, now) -> int:
    """One notification of the producer's (the default caller), told by a real fan-out."""
    from hazwaste.events import Event
    from hazwaste.notifications import services as notifications

    event = Event(
        id="conformance",
        type="organization.approved",
        occurred_at=now.replace(tzinfo=None),
        subject_kind="organization",
        subject_id=world.orgs["producer"].id,
        organization_ids=(world.orgs["producer"].id,),
    )
    assert notifications.notify(session, now, event) >= 1
    session.commit()
    return int(
        session.scalar(
            select(Notification.id).where(Notification.user_id == world.users["producer"].id)
        )
    )


def test_every_documented_operation_answers_as_documented(client, session, now, world):
    spec = client.get("/api/v1/openapi.json").get_json()
    tokens = {role: api_token(client, email) for role, email in DEMO_ROLES.items()}
    # The demo world has no container in store and no inspection draw yet: make one of each.
    made = client.post("/api/v1/containers", json=CONTAINER, headers=tokens["producer"])
    assert made.status_code == 201, made.get_json()
    drawn = client.post("/api/v1/inspections/draws", json={"n": 1}, headers=tokens["regulator"])
    assert drawn.status_code == 201, drawn.get_json()
    objects = path_values(session, world)
    # The token operations get tokens of their own: one to call them with, one to revoke.
    tokens["auth"] = api_token(client, "producer@demo.test")
    spare = api_token(client, "producer@demo.test")
    listed = client.get("/api/v1/auth/tokens", headers=spare).get_json()["data"]
    objects["auth"] = {"token_id": next(t["id"] for t in listed if t["current"])}
    # Two signed tree heads, so the audit proofs have something to prove.
    first = checkpoint(session, now)
    client.post("/api/v1/containers", json=CONTAINER, headers=tokens["producer"])
    second = checkpoint(session, now)
    session.commit()
    assert first is not None and second is not None
    objects["audit"] = {"entry_id": first_id(session, AuditEntry)}
    objects["webhooks"] = _webhook_with_delivery(session, world, now)
    objects["notifications"] = {"notification_id": _notification_of(session, world, now)}
    holidays.load_data_file(session, now)  # as `flask load-reference` does
    session.commit()
    objects["holidays"] = {"year": 2026}
    bodies = valid_bodies(world)
    required_query = {
        **query_values(world),
        "first": first.tree_size,
        "second": second.tree_size,
    }
    problems: list[str] = []
    answered: dict[str, int] = {}

    for method, path, op in operations(spec):
        segment = path.removeprefix("/api/v1/").split("/")[0]
        label = f"{method.upper()} {path}"
        url = path
        query: dict[str, Any] = {}
        for param in op.get("parameters", []):
            if param["in"] == "path":
                value = objects[segment][param["name"]]
                url = url.replace("{" + param["name"] + "}", str(value))
            elif param["in"] == "query" and param.get("required"):
                query[param["name"]] = required_query[param["name"]]
        headers = {"Accept-Language": "en"}
        if op.get("security"):
            headers.update(tokens[CALLER.get(segment, "producer")])
        kwargs: dict[str, Any] = {"headers": headers, "query_string": query}
        content = op.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            kwargs["json"] = bodies.get((method, path), {})
        elif "text/csv" in content:
            kwargs["data"] = (
                b"year,waste_code,planned_generation_t,planned_transfer_t\n2026,900-249-08,24,24\n"
            )
            headers["Content-Type"] = "text/csv"
        response = client.open(url, method=method.upper(), **kwargs)
        answered[label] = response.status_code
        documented = op["responses"].get(str(response.status_code))
        if documented is None:
            problems.append(
                f"{label}: {response.status_code} not documented "
                f"({sorted(op['responses'])}): {response.get_data(as_text=True)[:300]}"
            )
            continue
        media = documented.get("content", {})
        if not media:
            continue
        mimetype = response.mimetype
        if mimetype not in media:
            problems.append(f"{label}: {response.status_code} as {mimetype}, not {list(media)}")
            continue
        if mimetype == "application/json":
            errors = sorted(
                validator(spec, media[mimetype]["schema"]).iter_errors(response.get_json()),
                key=str,
            )
            for error in errors[:3]:
                where = "/".join(map(str, error.absolute_path))
                problems.append(f"{label}: {response.status_code} body at {where}: {error.message}")

    assert problems == []
    # Every read, called by the party it is meant for on real objects, succeeds; so do the
    # creations with valid bodies (so success bodies, not only errors, were checked).
    failed_reads = {k: v for k, v in answered.items() if k.startswith("GET") and v >= 300}
    assert failed_reads == {}
    created = {f"{m.upper()} {p}" for m, p in bodies if p != "/api/v1/auth/token"}
    assert {k: answered[k] for k in created if answered[k] >= 300} == {}
    assert answered["POST /api/v1/auth/token"] == 401
    assert len(answered) == sum(len(ops) for ops in spec["paths"].values())


def test_document_conventions(client, session, demo):
    """Decimals are strings, every error status an operation can give is listed with the Error
    schema, and the Idempotency-Key header is documented with its limit (and enforced)."""
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    decimal = {"type": "string", "format": "decimal", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
    # Answers: decimal strings. Requests: a decimal string or a JSON number.
    assert schemas["LineOut"]["properties"]["declared_kg"] == decimal
    assert schemas["ManifestOut"]["properties"]["declared_total_kg"] == decimal
    assert schemas["Container"]["properties"]["net_weight_kg"]["oneOf"] == [
        decimal,
        {"type": "number"},
    ]
    rejected = schemas["ReceiptLine"]["properties"]["rejected_qty"]["oneOf"]
    assert rejected == [{**decimal, "nullable": True}, {"type": "number"}]
    numbers = [
        f"{name}.{prop}"
        for name, schema in schemas.items()
        for prop, value in schema.get("properties", {}).items()
        if value.get("type") == "number"
    ]
    assert [n for n in numbers if n.endswith(("_kg", "_t", "_qty"))] == []

    error = {"$ref": "#/components/schemas/Error"}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            label = f"{method.upper()} {path}"
            statuses = {int(s) for s in op["responses"]}
            params = op.get("parameters", [])
            if op.get("security"):
                assert {401, 403} <= statuses, label
            if any(p["in"] == "path" for p in params):
                assert 404 in statuses, label
            if "requestBody" in op or any(p["in"] == "query" for p in params):
                assert 422 in statuses, label
            if method in ("post", "patch"):
                assert 413 in statuses, label
            if any(p["in"] == "path" for p in params) and method == "post":
                assert 409 in statuses, label
            for status in statuses - set(range(200, 300)):
                body = op["responses"][str(status)]["content"]["application/json"]["schema"]
                assert body == error, (label, status)
            keys = [p for p in params if p["in"] == "header" and p["name"] == "Idempotency-Key"]
            if keys:
                assert keys[0]["schema"] == {"type": "string", "maxLength": 200}
                assert {409, 422} <= statuses, label
    # Only the login, the password reset and the transparency log are public (read from
    # each view's token_required).
    public = {
        f"{method.upper()} {path}"
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if not op.get("security")
    }
    assert public == {
        "POST /api/v1/auth/token",
        "POST /api/v1/auth/password-reset",
        "POST /api/v1/auth/password-reset/confirm",
        "POST /api/v1/auth/verify-email/confirm",
        # The transparency log: anyone may keep tree heads and check proofs.
        "GET /api/v1/audit/checkpoints",
        "GET /api/v1/audit/checkpoints/key",
        "GET /api/v1/audit/entries/{entry_id}/proof",
        "GET /api/v1/audit/consistency",
    }
    assert 429 in {int(s) for s in spec["paths"]["/api/v1/auth/token"]["post"]["responses"]}
    listing = spec["paths"]["/api/v1/manifests"]["get"]["responses"]
    assert "422" in listing

    producer = api_token(client, "producer@demo.test")
    response = client.post(
        "/api/v1/containers", json=CONTAINER, headers={**producer, "Idempotency-Key": "k" * 201}
    )
    assert response.status_code == 422
    assert "Idempotency-Key" in response.get_json()["error"]["fields"]
    # Every idempotent operation documents the header (the view's decorator decides).
    idempotent_views = {
        (shape(rule.rule), method.lower())
        for rule in client.application.url_map.iter_rules()
        if getattr(client.application.view_functions[rule.endpoint], "api_idempotent", False)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    with_header = {
        (shape(path), method)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if any(p["name"] == "Idempotency-Key" for p in op.get("parameters", []))
    }
    assert idempotent_views == with_header and len(with_header) >= 15
