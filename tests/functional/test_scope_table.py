"""The scope table, operation by operation: for every operation of the OpenAPI document that
needs a token, a token with every scope but the one it declares (``x-required-scope``) is
refused with 403 insufficient_scope naming that scope, and a token with only that scope is not
refused for its scope. Public operations declare no scope; every declared scope is a real one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from hazwaste import create_app
from hazwaste.accounts.scopes import SCOPES
from hazwaste.api.scopes import ENDPOINT_SCOPES
from hazwaste.api.spec import build_spec
from hazwaste.ledger.models import Container
from hazwaste.manifests.models import Manifest
from hazwaste.oversight.models import InspectionDraw
from hazwaste.plans.models import ManagementPlan
from hazwaste.reconciliation.models import Flag
from tests.conftest import api_token
from tests.conftest import test_config as config_for
from tests.functional.test_openapi_conformance import (
    CALLER,
    CONTAINER,
    DEMO_ROLES,
    _notification_of,
    _webhook_with_delivery,
    first_id,
    shape,
)

METHODS = ("get", "post", "put", "patch", "delete")


def _document() -> dict[str, Any]:
    """The document as the app builds it (a fresh app: no database is touched)."""
    app = create_app(config_for("sqlite://"))
    with app.app_context():
        return build_spec()


SPEC = _document()
OPERATIONS = [
    (method, path) for path, ops in SPEC["paths"].items() for method in ops if method in METHODS
]

#: The party an operation is meant for, where it is not the one of its path's first segment
#: (``CALLER`` of the conformance test): the hand-offs go to the carrier and the receiver.
CALLER_BY_OPERATION = {
    ("post", "/api/v1/manifests/{manifest_id}/pickup"): "carrier",
    ("post", "/api/v1/manifests/{manifest_id}/delivery"): "carrier",
    ("post", "/api/v1/manifests/{manifest_id}/receipt"): "receiver",
    ("post", "/api/v1/manifests/{manifest_id}/disposal"): "receiver",
}
EMAILS = {**DEMO_ROLES, "auth": "producer@demo.test"}

#: Segments whose objects only the demo world's history has (flags, plans) or needs (a draw).
NEEDS_HISTORY = {"flags", "inspections", "plans"}


def _operation(method: str, path: str) -> dict[str, Any]:
    op: dict[str, Any] = SPEC["paths"][path][method]
    return op


def _named_token(
    client: FlaskClient, login: dict[str, str], name: str, scopes: list[str]
) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/tokens",
        json={"name": name, "scopes": scopes, "expires_in_days": 1},
        headers=login,
    )
    assert response.status_code == 201, response.get_json()
    assert sorted(response.get_json()["data"]["scopes"]) == sorted(scopes)
    return {"Authorization": f"Bearer {response.get_json()['data']['token']}"}


def _path_values(
    client: FlaskClient,
    session: Session,
    now: datetime,
    world: Any,
    segment: str,
    login: dict[str, str],
) -> dict[str, Any]:
    """Real objects for the path parameters of one segment (the conformance test's values);
    only the segment's own objects are made, so each case stays cheap."""
    producer = world.orgs["producer"]
    if segment == "manifests":
        from tests.manifest_factories import make_submitted

        manifest = make_submitted(session, now, world)
        session.commit()
        manifest = session.get(Manifest, manifest.id)
        assert manifest is not None and manifest.number is not None
        return {"number_or_id": manifest.number, "manifest_id": manifest.id}
    if segment == "containers":
        producer_token = api_token(client, "producer@demo.test")
        made = client.post("/api/v1/containers", json=CONTAINER, headers=producer_token)
        assert made.status_code == 201, made.get_json()
        container = first_id(session, Container)
        return {"id_or_code": container, "id": container}
    if segment == "inspections":
        drawn = client.post("/api/v1/inspections/draws", json={"n": 1}, headers=login)
        assert drawn.status_code == 201, drawn.get_json()
        return {"draw_id": first_id(session, InspectionDraw)}
    if segment == "flags":
        return {"flag_id": first_id(session, Flag)}
    if segment == "plans":
        plan = first_id(session, ManagementPlan, ManagementPlan.producer_id == producer.id)
        return {"id": plan}
    if segment == "webhooks":
        return _webhook_with_delivery(session, world, now)
    if segment == "notifications":
        return {"notification_id": _notification_of(session, world, now)}
    return {
        "organizations": {"org_id": producer.id},
        "licences": {"licence_id": world.extra["licence"].id},
        "vehicles": {"vehicle_id": world.extra["vehicles"][0].id},
        "holidays": {"year": 2026},
    }.get(segment, {})


def _token_id(client: FlaskClient, login: dict[str, str], name: str) -> int:
    listed = client.get("/api/v1/auth/tokens", headers=login).get_json()["data"]
    return int(next(t["id"] for t in listed if t["name"] == name))


def test_the_table_is_the_document(client):
    """The operations parametrized here are those the app serves; every operation is public
    or declares a known scope, and that scope is the table's for its endpoint."""
    served = client.get("/api/v1/openapi.json").get_json()
    assert sorted(
        (method, path) for path, ops in served["paths"].items() for method in ops
    ) == sorted(OPERATIONS)
    endpoints = {
        (shape(rule.rule), method.lower()): rule.endpoint
        for rule in client.application.url_map.iter_rules()
        for method in rule.methods or set()
    }
    for method, path in OPERATIONS:
        op = _operation(method, path)
        label = f"{method.upper()} {path}"
        if not op.get("security"):
            assert "x-required-scope" not in op, label
            continue
        scope = op.get("x-required-scope")
        assert scope in SCOPES, f"{label}: {scope!r} is no scope"
        endpoint = endpoints[(shape(path), method)]
        assert ENDPOINT_SCOPES.get(endpoint) == scope, label
    assert len(OPERATIONS) >= 70


@pytest.mark.parametrize(
    ("method", "path"), OPERATIONS, ids=[f"{m.upper()} {p}" for m, p in OPERATIONS]
)
def test_operation_needs_its_scope(client, session, now, method, path):
    op = _operation(method, path)
    if not op.get("security"):
        # Public: no token needed, so no scope either.
        assert "x-required-scope" not in op
        return
    scope = op["x-required-scope"]
    assert scope in SCOPES, f"{scope!r} is not a scope (hazwaste.accounts.scopes.SCOPES)"

    from hazwaste.demo.services import seed_demo

    segment = path.removeprefix("/api/v1/").split("/")[0]
    world = seed_demo(session, now, history=segment in NEEDS_HISTORY)
    session.commit()
    role = CALLER_BY_OPERATION.get((method, path), CALLER.get(segment, "producer"))
    login = api_token(client, EMAILS[role])
    others = [s for s in SCOPES if s != scope]
    without = _named_token(client, login, "without-scope", others)
    only = _named_token(client, login, "only-scope", [scope])
    values = _path_values(client, session, now, world, segment, login)
    if segment == "auth":
        # Revoking a token: the one that lacked the scope, once (a) is done with it.
        values["token_id"] = _token_id(client, login, "without-scope")

    url = path
    for param in op.get("parameters", []):
        if param["in"] == "path":
            url = url.replace("{" + param["name"] + "}", str(values[param["name"]]))
    kwargs: dict[str, Any] = {}
    if method in ("post", "put", "patch"):
        kwargs["json"] = {}

    # (a) Every scope but the one needed: refused for that scope, before anything happens.
    refused = client.open(
        url, method=method.upper(), headers={**without, "Accept-Language": "en"}, **kwargs
    )
    assert refused.status_code == 403, refused.get_data(as_text=True)[:300]
    error = refused.get_json()["error"]
    assert error["code"] == "insufficient_scope"
    assert error["scope"] == scope
    assert refused.headers["WWW-Authenticate"] == (
        f'Bearer error="insufficient_scope", scope="{scope}"'
    )

    # (b) Only the scope needed: not refused for scope (other answers are the view's own).
    answered = client.open(
        url, method=method.upper(), headers={**only, "Accept-Language": "en"}, **kwargs
    )
    body = answered.get_json(silent=True) if answered.is_json else None
    code = (body or {}).get("error", {}).get("code") if isinstance(body, dict) else None
    assert not (answered.status_code == 403 and code == "insufficient_scope"), body
    assert answered.status_code != 401, body
    assert answered.status_code < 500, answered.get_data(as_text=True)[:500]
