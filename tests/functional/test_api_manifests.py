"""The manifest API: the whole lifecycle through HTTP only, who may see and do what on every
endpoint, wrong states (409 with the current status), invalid data (422 with field paths),
lists with filters and pages, draft PATCH, exact quantities."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from hazwaste.accounts import services as accounts
from hazwaste.db import utcnow
from hazwaste.ledger import services as ledger
from hazwaste.manifests import lifecycle
from hazwaste.manifests.models import ManifestStatus
from hazwaste.manifests.services import local_date
from tests.conftest import api_token
from tests.manifest_factories import make_draft, make_submitted, pickup_data

API = "/api/v1/manifests"
ACTIONS = ("submit", "pickup", "delivery", "receipt", "disposal", "cancel", "correction")
#: Demo users allowed to perform each action on a manifest of the demo parties.
ALLOWED = {
    "submit": {"producer"},
    "cancel": {"producer"},
    "correction": {"producer"},
    "pickup": {"carrier", "driver"},
    "delivery": {"carrier", "driver", "receiver"},
    "receipt": {"receiver"},
    "disposal": {"receiver"},
}
PARTIES = ("producer", "carrier", "driver", "receiver", "regulator_city")
EMAILS = {
    "producer": "producer@demo.test",
    "producer_staff": "producer-staff@demo.test",
    "producer2": "producer2@demo.test",
    "carrier": "carrier@demo.test",
    "driver": "driver@demo.test",
    "driver2": "driver2@demo.test",
    "receiver": "receiver@demo.test",
    "regulator_city": "regulator@demo.test",
    "regulator_bj": "regulator-bj@demo.test",
}
POSITION_KEYS = {"latitude", "longitude", "accuracy_m"}


def today() -> date:
    """The API stamps real time, so dates sent to it follow the real clock (China time)."""
    return local_date(utcnow())


def draft_body(demo: Any, planned: date, **overrides: Any) -> dict[str, Any]:
    body = {
        "carrier_id": demo.orgs["carrier"].id,
        "receiver_id": demo.orgs["receiver"].id,
        "vehicle_id": demo.extra["vehicles"][0].id,
        "driver_id": demo.extra["drivers"][0].id,
        "planned_date": planned.isoformat(),
        "emergency_measures": "泄漏时围堵并报告。",
        "lines": [
            {
                "waste_code": "900-249-08",
                "waste_name": "废矿物油",
                "physical_form": "liquid",
                "hazards": ["T", "I"],
                "packaging": "桶",
                "container_count": 5,
                "declared_qty": "1.25",
                "declared_unit": "t",
            }
        ],
    }
    body.update(overrides)
    return body


def action_body(action: str, manifest: Any, demo: Any) -> dict[str, Any] | None:
    """A well-formed body for each action, so only party and state decide the answer."""
    lines = [ln.id for ln in manifest.lines]
    return {
        "submit": None,
        "pickup": {
            "vehicle_id": demo.extra["vehicles"][0].id,
            "lines": [{"line_id": i, "loaded_qty": "100"} for i in lines],
        },
        "delivery": {},
        "receipt": {
            "lines": [{"line_id": i, "received_qty": "100", "decision": "accept"} for i in lines]
        },
        "disposal": {
            "lines": [
                {
                    "line_id": i,
                    "method": "R2",
                    "disposed_kg": "100",
                    "disposal_date": today().isoformat(),
                }
                for i in lines
            ]
        },
        "cancel": {"reason": "计划变更"},
        "correction": {"reason": "更换措施", "emergency_measures": "新的应急措施"},
    }[action]


def field_paths(fields: dict[str, Any], prefix: str = "") -> set[str]:
    """``{"lines": {"0": {"loaded_qty": [...]}}}`` → ``{"lines.0.loaded_qty"}``."""
    paths: set[str] = set()
    for key, value in fields.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            paths |= field_paths(value, path + ".")
        else:
            assert value and all(isinstance(m, str) and m for m in value), (path, value)
            paths.add(path)
    return paths


def assert_exact_quantities(value: Any, key: str = "") -> None:
    """Quantities are decimal strings; the only JSON numbers with a fraction are positions."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k.endswith(("_kg", "_qty", "_pct")):
                assert v is None or (isinstance(v, str) and Decimal(v).is_finite()), (k, v)
            assert_exact_quantities(v, k)
    elif isinstance(value, list):
        for item in value:
            assert_exact_quantities(item, key)
    elif isinstance(value, float):
        assert key in POSITION_KEYS, (key, value)


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    error = response.get_json()["error"]
    assert set(error) >= {"code", "message", "fields"}
    if code:
        assert error["code"] == code
    return dict(error)


@pytest.fixture()
def tokens(client: Any) -> Any:
    """Bearer headers per demo user key, issued on first use."""
    cache: dict[str, dict[str, str]] = {}

    def get(key: str) -> dict[str, str]:
        if key not in cache:
            cache[key] = api_token(client, EMAILS[key])
        return cache[key]

    return get


@pytest.fixture()
def beijing_regulator(session: Any, now: Any, demo: Any) -> Any:
    """A regulator whose jurisdiction (北京市, 110000) touches none of the demo parties."""
    admin = demo.users["admin"]
    body = accounts.create_regulator_body(
        session, now, admin, {"name": "北京市生态环境局", "region_code": "110000"}
    )
    user = accounts.create_regulator_user(
        session,
        now,
        admin,
        body,
        {
            "email": EMAILS["regulator_bj"],
            "name": "赵敏",
            "phone": "",
            "password": "demo-pass-2026",
            "role": "inspector",
        },
        10,
    )
    session.commit()
    return user


def post(client: Any, path: str, headers: dict[str, str], body: Any = None) -> Any:
    if body is None:
        return client.post(path, headers=headers)
    return client.post(path, headers=headers, json=body)


# -- the whole lifecycle -------------------------------------------------------------------------


def test_full_lifecycle_through_the_api_only(app, client, session, demo, tokens):
    producer, driver, receiver = tokens("producer"), tokens("driver"), tokens("receiver")
    created = client.post(API, json=draft_body(demo, today()), headers=producer)
    assert created.status_code == 201, created.get_json()
    manifest = created.get_json()["data"]
    assert manifest["status"] == "draft" and manifest["number"] is None
    assert manifest["lines"][0]["declared_kg"] == "1250.000"
    mid = manifest["id"]

    submitted = client.post(f"{API}/{mid}/submit", headers=producer)
    assert submitted.status_code == 200, submitted.get_json()
    number = submitted.get_json()["data"]["number"]
    assert submitted.get_json()["data"]["status"] == "submitted"
    assert len(number) == 14 and number.startswith(f"{today().year}1506")
    line_id = submitted.get_json()["data"]["lines"][0]["id"]

    picked = client.post(
        f"{API}/{mid}/pickup",
        headers=driver,
        json={
            "vehicle_id": demo.extra["vehicles"][1].id,
            "latitude": 39.348,
            "longitude": 106.959,
            "accuracy_m": 12.5,
            "note": "装车完毕",
            "lines": [{"line_id": line_id, "loaded_qty": "1248.5"}],
        },
    )
    assert picked.status_code == 200, picked.get_json()
    assert picked.get_json()["data"]["status"] == "in_transit"
    assert picked.get_json()["data"]["lines"][0]["loaded_kg"] == "1248.500"

    delivered = client.post(
        f"{API}/{mid}/delivery", headers=driver, json={"position_note": "denied"}
    )
    assert delivered.status_code == 200, delivered.get_json()
    assert delivered.get_json()["data"]["status"] == "delivered"
    assert delivered.get_json()["data"]["receipt_due_date"] is not None

    received = client.post(
        f"{API}/{mid}/receipt",
        headers=receiver,
        json={
            "latitude": 39.81,
            "longitude": 109.98,
            "lines": [{"line_id": line_id, "received_qty": "1240", "decision": "accept"}],
        },
    )
    assert received.status_code == 200, received.get_json()
    line = received.get_json()["data"]["lines"][0]
    assert received.get_json()["data"]["status"] == "received"
    assert (line["received_kg"], line["discrepancy_kg"], line["discrepancy_pct"]) == (
        "1240.000",
        "-8.500",
        "-0.68",
    )

    done = client.post(
        f"{API}/{mid}/disposal",
        headers=receiver,
        json={
            "lines": [
                {
                    "line_id": line_id,
                    "method": "R2",
                    "disposed_kg": "1240",
                    "disposal_date": today().isoformat(),
                }
            ]
        },
    )
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["data"]["status"] == "completed"
    assert done.get_json()["data"]["lines"][0]["disposed_kg"] == "1240.000"
    for response in (created, submitted, picked, delivered, received, done):
        assert_exact_quantities(response.get_json())

    by_number = client.get(f"{API}/{number}", headers=producer)
    assert by_number.status_code == 200 and by_number.get_json()["data"]["id"] == mid

    events = client.get(f"{API}/{mid}/events", headers=producer)
    assert events.status_code == 200
    timeline = events.get_json()["data"]
    assert_exact_quantities(events.get_json())
    assert [e["kind"] for e in timeline] == [
        "created",
        "submitted",
        "picked_up",
        "delivered",
        "received",
        "disposed",
    ]
    pickup, arrival, receipt, disposal = timeline[2:]
    assert (pickup["latitude"], pickup["longitude"], pickup["accuracy_m"]) == (
        39.348,
        106.959,
        12.5,
    )
    assert pickup["vehicle_plate"] == demo.extra["vehicles"][1].plate
    assert pickup["actor"] == demo.users["driver"].name and pickup["note"] == "装车完毕"
    assert pickup["total_kg"] == "1248.500"
    assert pickup["payload"]["lines"] == [{"line_no": 1, "loaded_kg": "1248.500"}]
    assert arrival["latitude"] is None and arrival["position_note"] == "denied"
    assert receipt["actor_organization"] == demo.orgs["receiver"].name
    assert receipt["payload"]["lines"][0]["discrepancy_kg"] == "-8.500"
    assert disposal["payload"]["lines"][0]["method"] == "R2"
    assert disposal["total_kg"] == "1240.000"

    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "OK" in result.output, result.output


def test_rejection_cancel_and_correction_through_the_api(client, session, now, demo, tokens):
    producer, receiver = tokens("producer"), tokens("receiver")
    to_cancel = make_submitted(session, utcnow(), demo, planned_date=today())
    to_correct = make_submitted(session, utcnow(), demo, planned_date=today())
    to_reject = make_submitted(session, utcnow(), demo, planned_date=today())
    driver = demo.users["driver"]
    lifecycle.pickup(
        session, utcnow(), to_reject, driver, pickup_data(to_reject, demo.extra["vehicles"][0].id)
    )
    lifecycle.deliver(session, utcnow(), to_reject, driver, {})
    session.commit()

    cancelled = client.post(
        f"{API}/{to_cancel.id}/cancel", headers=producer, json={"reason": "计划变更"}
    )
    assert cancelled.status_code == 200, cancelled.get_json()
    assert cancelled.get_json()["data"]["status"] == "cancelled"
    assert cancelled.get_json()["data"]["cancel_reason"] == "计划变更"

    corrected = client.post(
        f"{API}/{to_correct.id}/correction",
        headers=producer,
        json={
            "reason": "包装数量录错",
            "lines": [{"line_id": to_correct.lines[0].id, "container_count": 12}],
        },
    )
    assert corrected.status_code == 200, corrected.get_json()
    body = corrected.get_json()["data"]
    assert body["status"] == "submitted" and body["lines"][0]["container_count"] == 12
    events = client.get(f"{API}/{to_correct.id}/events", headers=tokens("carrier")).get_json()
    assert events["data"][-1]["kind"] == "corrected"
    assert events["data"][-1]["note"] == "包装数量录错"

    rejected = client.post(
        f"{API}/{to_reject.id}/receipt",
        headers=receiver,
        json={
            "lines": [
                {
                    "line_id": ln.id,
                    "received_qty": str(ln.loaded_kg),
                    "decision": "reject",
                    "rejection_reason": "与联单不符",
                }
                for ln in to_reject.lines
            ]
        },
    )
    assert rejected.status_code == 200, rejected.get_json()
    assert rejected.get_json()["data"]["status"] == "rejected"
    seen = client.get(f"{API}/{to_reject.id}", headers=producer).get_json()["data"]
    assert seen["status"] == "rejected"
    assert {ln["rejection_reason"] for ln in seen["lines"]} == {"与联单不符"}


# -- authorization ---------------------------------------------------------------------------


def endpoints(manifest: Any, demo: Any) -> list[tuple[str, str, Any]]:
    """(method, path, body) of every endpoint addressing one manifest."""
    mid = manifest.id
    rows: list[tuple[str, str, Any]] = [
        ("GET", f"{API}/{mid}", None),
        ("GET", f"{API}/{mid}/events", None),
        ("PATCH", f"{API}/{mid}", {"emergency_measures": "改"}),
    ]
    rows += [("POST", f"{API}/{mid}/{a}", action_body(a, manifest, demo)) for a in ACTIONS]
    if manifest.number:
        rows += [
            ("GET", f"{API}/{manifest.number}", None),
            ("GET", f"{API}/{manifest.number}/events", None),
        ]
    return rows


def call(client: Any, method: str, path: str, headers: dict[str, str], body: Any) -> Any:
    return client.open(path, method=method, headers=headers, json=body)


def test_every_endpoint_needs_a_valid_token(client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    rows = [*endpoints(m, demo), ("GET", API, None), ("POST", API, draft_body(demo, today()))]
    for method, path, body in rows:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
            response = call(client, method, path, headers, body)
            assert_error(response, 401, "unauthorized")
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert session.get(type(m), m.id).status is ManifestStatus.SUBMITTED


def test_manifests_of_others_do_not_exist_for_strangers(
    client, session, now, demo, tokens, beijing_regulator
):
    """An enterprise not party to it and a regulator outside its jurisdiction: 404 on every
    endpoint, by id and by number, and absent from their lists."""
    m = make_submitted(session, now, demo)
    draft = make_draft(session, now, demo)
    session.commit()
    for who in ("producer2", "regulator_bj"):
        headers = tokens(who)
        for method, path, body in endpoints(m, demo) + endpoints(draft, demo):
            assert_error(call(client, method, path, headers, body), 404, "not_found")
        assert client.get(API, headers=headers).get_json()["data"] == []
    assert session.get(type(m), m.id).status is ManifestStatus.SUBMITTED
    assert [e.kind.value for e in m.events] == ["created", "submitted"]


def test_drafts_are_invisible_to_the_other_parties(client, session, now, demo, tokens):
    draft = make_draft(session, now, demo)
    session.commit()
    for who in ("carrier", "driver", "receiver", "regulator_city"):
        headers = tokens(who)
        for method, path, body in endpoints(draft, demo):
            assert_error(call(client, method, path, headers, body), 404, "not_found")
        assert draft.id not in [
            x["id"] for x in client.get(API, headers=headers).get_json()["data"]
        ]
    for who in ("producer", "producer_staff"):
        shown = client.get(f"{API}/{draft.id}", headers=tokens(who))
        assert shown.status_code == 200 and shown.get_json()["data"]["status"] == "draft"


def test_parties_see_the_manifest_but_act_only_in_their_role(client, session, now, demo, tokens):
    """Each action by every visible party that does not perform it: 403, nothing changes.
    The party check comes first, so the answer does not depend on the state."""
    m = make_submitted(session, now, demo)
    session.commit()
    for who in PARTIES:
        headers = tokens(who)
        assert client.get(f"{API}/{m.id}", headers=headers).status_code == 200
        assert client.get(f"{API}/{m.number}/events", headers=headers).status_code == 200
        assert m.id in [x["id"] for x in client.get(API, headers=headers).get_json()["data"]]
        for action in ACTIONS:
            if who in ALLOWED[action]:
                continue
            response = post(client, f"{API}/{m.id}/{action}", headers, action_body(action, m, demo))
            assert_error(response, 403, "forbidden")
        if who != "producer":
            patched = client.patch(f"{API}/{m.id}", headers=headers, json={"lines": "x"})
            assert_error(patched, 403, "forbidden")
    session.expire_all()
    assert m.status is ManifestStatus.SUBMITTED
    assert [e.kind.value for e in m.events] == ["created", "submitted"]


def test_only_producer_staff_create_drafts(client, session, demo, tokens):
    body = draft_body(demo, today())
    for who in ("carrier", "driver", "receiver", "regulator_city"):
        assert_error(client.post(API, json=body, headers=tokens(who)), 403, "forbidden")
    assert client.post(API, json=body, headers=tokens("producer_staff")).status_code == 201


# -- wrong state, invalid data -----------------------------------------------------------------


def test_wrong_state_is_409_with_the_current_status(client, session, now, demo, tokens):
    producer, driver, receiver = tokens("producer"), tokens("driver"), tokens("receiver")
    m = make_submitted(session, utcnow(), demo, planned_date=today())
    session.commit()
    mid = m.id

    def conflict(response: Any, status: str) -> None:
        error = assert_error(response, 409, "conflict")
        assert error["status"] == status and error["message"]

    conflict(client.post(f"{API}/{mid}/submit", headers=producer), "submitted")
    conflict(client.patch(f"{API}/{mid}", headers=producer, json={"lines": []}), "submitted")
    conflict(client.post(f"{API}/{mid}/delivery", headers=driver, json={}), "submitted")
    # The state is checked before the body: a wrong body to the wrong state is still 409.
    conflict(client.post(f"{API}/{mid}/receipt", headers=receiver, json={"lines": 5}), "submitted")
    body = action_body("pickup", m, demo)
    assert client.post(f"{API}/{mid}/pickup", headers=driver, json=body).status_code == 200
    conflict(client.post(f"{API}/{mid}/pickup", headers=driver, json=body), "in_transit")
    conflict(
        client.post(f"{API}/{mid}/cancel", headers=producer, json={"reason": "晚了"}),
        "in_transit",
    )
    conflict(
        client.post(
            f"{API}/{mid}/disposal", headers=receiver, json=action_body("disposal", m, demo)
        ),
        "in_transit",
    )
    other = make_submitted(session, now, demo)
    lifecycle.cancel(session, now, other, demo.users["producer"], "不运了")
    session.commit()
    conflict(
        client.post(
            f"{API}/{other.id}/pickup", headers=driver, json=action_body("pickup", other, demo)
        ),
        "cancelled",
    )
    conflict(
        client.post(f"{API}/{other.id}/correction", headers=producer, json={"reason": "x"}),
        "cancelled",
    )


def test_invalid_data_is_422_with_field_paths(client, session, now, demo, tokens):
    producer, driver = tokens("producer"), tokens("driver")
    m = make_submitted(session, now, demo)
    session.commit()
    line_ids = [ln.id for ln in m.lines]
    bad_pickup = client.post(
        f"{API}/{m.id}/pickup",
        headers=driver,
        json={
            "vehicle_id": demo.extra["vehicles"][0].id,
            "latitude": 91,
            "lines": [
                {"line_id": line_ids[0], "loaded_qty": "-5"},
                {"line_id": line_ids[1], "loaded_qty": "1.0001"},
            ],
        },
    )
    error = assert_error(bad_pickup, 422, "invalid")
    assert field_paths(error["fields"]) >= {"lines.0.loaded_qty", "latitude"}
    rules = client.post(
        f"{API}/{m.id}/pickup",
        headers=driver,
        json={
            "vehicle_id": demo.extra["vehicles"][0].id,
            "lines": [{"line_id": 999999, "loaded_qty": "100"}],
        },
    )
    assert field_paths(assert_error(rules, 422)["fields"]) == {"lines.0.line_id", "lines._schema"}
    overload = client.post(
        f"{API}/{m.id}/pickup",
        headers=driver,
        json={
            "vehicle_id": demo.extra["vehicles"][1].id,
            "unit": "t",
            "lines": [{"line_id": i, "loaded_qty": "5"} for i in line_ids],
        },
    )
    assert field_paths(assert_error(overload, 422)["fields"]) == {"vehicle_id"}
    for body in (None, [1, 2], "text"):
        response = client.post(f"{API}/{m.id}/cancel", headers=producer, json=body)
        assert "_schema" in assert_error(response, 422)["fields"]
    bad_draft = client.post(
        API,
        headers=producer,
        json=draft_body(
            demo,
            today(),
            planned_date="2026-13-01",
            carrier_id="x",
            lines=[
                {
                    "waste_code": "900-249",
                    "physical_form": "plasma",
                    "packaging": "桶",
                    "declared_qty": "abc",
                    "hazards": ["Q"],
                }
            ],
        ),
    )
    assert field_paths(assert_error(bad_draft, 422)["fields"]) == {
        "planned_date",
        "carrier_id",
        "lines.0.waste_code",
        "lines.0.physical_form",
        "lines.0.declared_qty",
        "lines.0.hazards.0",
    }
    unknown = client.post(API, headers=producer, json=draft_body(demo, today(), vehicle_id=999999))
    assert field_paths(assert_error(unknown, 422)["fields"]) == {"vehicle_id"}
    session.expire_all()
    assert m.status is ManifestStatus.SUBMITTED and all(ln.loaded_kg is None for ln in m.lines)


def test_submit_reports_every_problem_at_once(client, session, now, demo, tokens):
    producer = tokens("producer")
    body = draft_body(
        demo,
        today() - timedelta(days=1),
        driver_id=None,
        emergency_measures="",
        lines=[
            draft_body(demo, today())["lines"][0] | {"declared_qty": "30"},
            {
                "waste_code": "072-002-29",
                "physical_form": "solid",
                "packaging": "吨袋",
                "declared_qty": "10",
            },
        ],
    )
    created = client.post(API, headers=producer, json=body)
    assert created.status_code == 201, created.get_json()
    mid = created.get_json()["data"]["id"]
    response = client.post(f"{API}/{mid}/submit", headers=producer)
    error = assert_error(response, 422, "invalid")
    assert field_paths(error["fields"]) == {
        "planned_date",
        "driver_id",
        "emergency_measures",
        "vehicle_id",
        "lines.1.waste_code",
    }
    assert "30010" in error["fields"]["vehicle_id"][0].replace(",", "")
    shown = client.get(f"{API}/{mid}", headers=producer).get_json()["data"]
    assert shown["status"] == "draft" and shown["number"] is None


# -- lists ----------------------------------------------------------------------------------------


def test_list_filters_and_pages(client, session, now, demo, tokens):
    a = make_submitted(session, now, demo, planned_date=date(2026, 12, 1))
    b = make_submitted(session, now, demo, planned_date=date(2026, 12, 5))
    c = make_submitted(
        session,
        now,
        demo,
        planned_date=date(2026, 12, 9),
        receiver_id=demo.orgs["receiver2"].id,
        lines=[
            {
                "waste_code": "900-041-49",
                "physical_form": "solid",
                "packaging": "吨袋",
                "declared_kg": Decimal("200"),
            }
        ],
    )
    draft = make_draft(session, now, demo)
    lifecycle.pickup(
        session, now, b, demo.users["driver"], pickup_data(b, demo.extra["vehicles"][0].id)
    )
    session.commit()
    producer = tokens("producer")

    def ids(query: str = "", who: dict[str, str] = producer) -> list[int]:
        response = client.get(f"{API}?{query}", headers=who)
        assert response.status_code == 200, response.get_json()
        return [x["id"] for x in response.get_json()["data"]]

    assert ids() == [draft.id, c.id, b.id, a.id]
    assert ids("status=in_transit") == [b.id]
    assert ids("status=draft") == [draft.id]
    assert ids("date_from=2026-12-02&date_to=2026-12-08") == [b.id]
    assert ids("date_from=2026-12-05") == [c.id, b.id]
    assert ids(f"counterpart_id={demo.orgs['receiver2'].id}") == [c.id]
    assert ids("waste_code=900-249-08") == [draft.id, b.id, a.id]
    assert ids(f"q={a.number}") == [a.id]
    assert ids(f"q={a.number[:8]}") == [c.id, b.id, a.id]
    assert ids(who=tokens("receiver")) == [b.id, a.id]
    assert ids(who=tokens("regulator_city")) == [c.id, b.id, a.id]

    page = client.get(f"{API}?per_page=2&page=2", headers=producer).get_json()
    assert [x["id"] for x in page["data"]] == [b.id, a.id]
    assert page["meta"] == {"page": 2, "per_page": 2, "total": 4, "pages": 2}
    assert client.get(f"{API}?per_page=2&page=3", headers=producer).get_json()["data"] == []
    assert_exact_quantities(page)
    bad = client.get(f"{API}?status=lost&date_from=tomorrow&per_page=0", headers=producer)
    assert field_paths(assert_error(bad, 422)["fields"]) == {"status", "date_from", "per_page"}


# -- PATCH a draft --------------------------------------------------------------------------------


def test_patch_is_partial_and_keeps_what_it_does_not_name(client, session, demo, tokens):
    producer = tokens("producer")
    created = client.post(API, headers=producer, json=draft_body(demo, today())).get_json()["data"]
    mid = created["id"]
    changed = client.patch(f"{API}/{mid}", headers=producer, json={"emergency_measures": "新措施"})
    assert changed.status_code == 200, changed.get_json()
    data = changed.get_json()["data"]
    assert data["emergency_measures"] == "新措施" and data["version"] == created["version"] + 1
    assert data["lines"] == [
        {**created["lines"][0], "id": data["lines"][0]["id"]}
    ]  # same line, still typed in tonnes
    assert data["driver_id"] == created["driver_id"]

    replaced = client.patch(
        f"{API}/{mid}",
        headers=producer,
        json={
            "vehicle_id": None,
            "lines": [
                {
                    "waste_code": "900-041-49",
                    "physical_form": "solid",
                    "packaging": "吨袋",
                    "declared_qty": "420.5",
                }
            ],
        },
    ).get_json()["data"]
    assert replaced["vehicle_id"] is None and replaced["emergency_measures"] == "新措施"
    assert [(ln["waste_code"], ln["declared_kg"]) for ln in replaced["lines"]] == [
        ("900-041-49", "420.500")
    ]

    invalid = client.patch(
        f"{API}/{mid}", headers=producer, json={"planned_date": "soon", "lines": []}
    )
    assert field_paths(assert_error(invalid, 422)["fields"]) == {"planned_date"}
    empty = client.patch(f"{API}/{mid}", headers=producer, json={"lines": []})
    assert field_paths(assert_error(empty, 422)["fields"]) == {"lines._schema"}
    not_object = client.patch(f"{API}/{mid}", headers=producer, json=["lines"])
    assert field_paths(assert_error(not_object, 422)["fields"]) == {"_schema"}
    after = client.get(f"{API}/{mid}", headers=producer).get_json()["data"]
    assert after["version"] == replaced["version"] and len(after["lines"]) == 1
    kinds = [
        e["kind"] for e in client.get(f"{API}/{mid}/events", headers=producer).get_json()["data"]
    ]
    assert kinds == ["created", "edited", "edited"]


def test_patch_keeps_the_lines_built_from_containers(client, session, now, demo, tokens):
    row = {
        "waste_code": "900-249-08",
        "waste_name": "废矿物油",
        "physical_form": "liquid",
        "hazards": ["T", "I"],
        "packaging_type": "drum",
        "net_weight_kg": Decimal("180.5"),
        "generation_date": now.date(),
        "source_process": "检修",
    }
    drums = ledger.register_containers(session, now, demo.users["producer"], [row] * 2, now.date())
    session.commit()
    producer = tokens("producer")
    body = draft_body(demo, today(), container_ids=[d.id for d in drums])
    body["lines"][0] |= {"waste_code": "900-041-49", "physical_form": "solid"}
    created = client.post(API, headers=producer, json=body).get_json()["data"]
    assert [(ln["waste_code"], ln["declared_kg"]) for ln in created["lines"]] == [
        ("900-249-08", "361.000"),
        ("900-041-49", "1250.000"),
    ]
    patched = client.patch(
        f"{API}/{created['id']}", headers=producer, json={"emergency_measures": "改"}
    ).get_json()["data"]
    assert [(ln["waste_code"], ln["declared_kg"]) for ln in patched["lines"]] == [
        ("900-249-08", "361.000"),
        ("900-041-49", "1250.000"),
    ]
    released = client.patch(
        f"{API}/{created['id']}", headers=producer, json={"container_ids": []}
    ).get_json()["data"]
    assert [ln["waste_code"] for ln in released["lines"]] == ["900-041-49"]


# -- the OpenAPI document -------------------------------------------------------------------------


def test_every_manifest_endpoint_is_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths[API])
    assert "get" in paths[f"{API}/{{number_or_id}}"]
    assert "patch" in paths[f"{API}/{{manifest_id}}"]
    assert "get" in paths[f"{API}/{{number_or_id}}/events"]
    assert "201" in paths[API]["post"]["responses"]
    for action in ACTIONS:
        op = paths[f"{API}/{{manifest_id}}/{action}"]["post"]
        assert {"401", "403", "404", "409"} <= set(op["responses"])
        assert any(p["name"] == "Idempotency-Key" for p in op["parameters"])
        assert ("requestBody" in op) == (action != "submit")
