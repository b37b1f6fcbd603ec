"""Malformed nested form field names on the manifest form, edit, correction and the scan
page's actions: ignored (the rest of the form is handled as usual), never a 500."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from hazwaste.db import utcnow
from hazwaste.manifests import lifecycle
from hazwaste.manifests.models import EventKind, Manifest, ManifestEvent, ManifestStatus
from hazwaste.manifests.services import local_date
from hazwaste.manifests.tokens import make_token
from hazwaste.schemas import nested_form
from tests.conftest import login
from tests.manifest_factories import make_draft, make_submitted, pickup_data

EN = {"Accept-Language": "en"}
MALFORMED = [
    ("lines-0", "x"),
    ("lines-²-waste_code", "x"),
    ("lines-١-waste_code", "x"),
    ("lines--x", "1"),
    ("lines-0-", "x"),
    ("lines-99999999999-waste_code", "x"),
    ("lines-1000-waste_code", "x"),
    ("lines-0-Waste_Code", "x"),
    ("lines-0-a-b", "x"),
    ("lines", "x"),
]


def test_nested_form_matches_keys_strictly():
    form = MultiDict([*MALFORMED, ("lines-0-waste_code", "900-249-08"), ("note", "n")])
    assert nested_form(form) == {"note": "n", "lines": [{"waste_code": "900-249-08"}]}
    assert nested_form(MultiDict([("lines-12-x", "1")]), max_rows=10) == {"lines": []}


def manifest_form(demo: Any) -> dict[str, Any]:
    return {
        "receiver_id": str(demo.orgs["receiver"].id),
        "carrier_id": str(demo.orgs["carrier"].id),
        "vehicle_id": str(demo.extra["vehicles"][0].id),
        "driver_id": str(demo.extra["drivers"][0].id),
        "planned_date": (local_date(utcnow()) + timedelta(days=5)).isoformat(),
        "emergency_measures": "泄漏时围堵并报告。",
        "lines-0-waste_code": "900-249-08",
        "lines-0-waste_name": "废矿物油",
        "lines-0-physical_form": "liquid",
        "lines-0-hazards": ["T", "I"],
        "lines-0-packaging": "200L铁桶",
        "lines-0-container_count": "10",
        "lines-0-declared_qty": "1.8",
        "lines-0-declared_unit": "t",
    }


def count(session: Any) -> int:
    return session.scalar(select(func.count()).select_from(Manifest)) or 0


@pytest.mark.parametrize(("key", "value"), MALFORMED)
def test_manifest_form_ignores_malformed_keys(client, session, demo, key, value):
    login(client, "producer@demo.test")
    response = client.post("/manifests/new", data={**manifest_form(demo), key: value})
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    manifest = session.scalars(select(Manifest)).one()
    assert [ln.waste_code for ln in manifest.lines] == ["900-249-08"]


@pytest.mark.parametrize(("key", "value"), MALFORMED)
def test_manifest_form_with_only_malformed_lines_says_what_is_missing(
    client, session, demo, key, value
):
    login(client, "producer@demo.test")
    form = {k: v for k, v in manifest_form(demo).items() if not k.startswith("lines-")}
    response = client.post("/manifests/new", data={**form, key: value}, headers=EN)
    assert response.status_code == 422
    assert count(session) == 0


@pytest.mark.parametrize(("key", "value"), MALFORMED)
def test_edit_form_ignores_malformed_keys(client, session, now, demo, key, value):
    draft = make_draft(session, now, demo)
    session.commit()
    login(client, "producer@demo.test")
    data = {**manifest_form(demo), "lines-0-container_count": "7", key: value}
    response = client.post(f"/manifests/{draft.id}/edit", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    session.expire_all()
    assert [ln.container_count for ln in draft.lines] == [7]


@pytest.mark.parametrize(("key", "value"), MALFORMED)
def test_correction_ignores_malformed_keys(client, session, now, demo, key, value):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "producer@demo.test")
    data = {
        "reason": "桶数录错",
        "lines-0-line_id": str(m.lines[0].id),
        "lines-0-container_count": "9",
        key: value,
    }
    response = client.post(f"/manifests/{m.id}/correct", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    session.expire_all()
    assert m.lines[0].container_count == 9


def scan_path(app: Any, m: Any) -> str:
    with app.test_request_context():
        return f"/m/{make_token(m.id, m.number)}"


@pytest.mark.parametrize(("key", "value"), MALFORMED)
def test_scan_pickup_ignores_malformed_keys(app, client, session, now, demo, key, value):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "driver@demo.test")
    data = {
        "vehicle_id": str(demo.extra["vehicles"][0].id),
        "unit": "kg",
        "idempotency_key": "k1",
        "position_note": "denied",
        key: value,
    }
    for i, ln in enumerate(m.lines):
        data[f"lines-{i}-line_id"] = str(ln.id)
        data[f"lines-{i}-loaded_qty"] = str(ln.declared_kg)
    response = client.post(f"{scan_path(app, m)}/pickup", data=data, headers=EN)
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    session.expire_all()
    assert m.status is ManifestStatus.IN_TRANSIT


@pytest.mark.parametrize(("key", "value"), MALFORMED)
@pytest.mark.parametrize("verb", ["deliver", "receive", "dispose"])
def test_scan_actions_with_malformed_keys_never_crash(
    app, client, session, now, demo, key, value, verb
):
    m = make_submitted(session, now, demo)
    lifecycle.pickup(
        session, now, m, demo.users["driver"], pickup_data(m, demo.extra["vehicles"][0].id)
    )
    session.commit()
    login(client, "receiver@demo.test" if verb != "deliver" else "driver@demo.test")
    data = {"position_note": "denied", "unit": "kg", key: value}
    response = client.post(f"{scan_path(app, m)}/{verb}", data=data, headers=EN)
    # deliver needs no lines (recorded); receive and dispose without lines say what is
    # missing (422) or that the state does not allow it (409).
    assert response.status_code in (302, 409, 422), response.status_code
    session.expire_all()
    if verb == "deliver":
        assert response.status_code == 302 and m.status is ManifestStatus.DELIVERED
    else:
        assert m.status is ManifestStatus.IN_TRANSIT
        kinds = {EventKind.RECEIVED, EventKind.DISPOSED}
        assert not session.scalar(
            select(func.count())
            .select_from(ManifestEvent)
            .where(ManifestEvent.manifest_id == m.id, ManifestEvent.kind.in_(kinds))
        )
