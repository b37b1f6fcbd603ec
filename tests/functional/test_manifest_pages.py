"""The producer's desktop pages: form, list, detail, cancel, correction."""

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from hazwaste.db import utcnow
from hazwaste.manifests.models import Manifest, ManifestStatus
from hazwaste.manifests.services import local_date
from tests.conftest import login
from tests.manifest_factories import make_draft, make_submitted

EN = {"Accept-Language": "en"}


def form_data(demo, **overrides):
    data = {
        "receiver_id": str(demo.orgs["receiver"].id),
        "carrier_id": str(demo.orgs["carrier"].id),
        "vehicle_id": str(demo.extra["vehicles"][0].id),
        "driver_id": str(demo.extra["drivers"][0].id),
        # The form refuses a planned date in the past: the view reads the real clock.
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
        "lines-1-waste_code": "",
        "lines-1-declared_qty": "",
    }
    data.update(overrides)
    return data


def count(session):
    return session.scalar(select(func.count()).select_from(Manifest))


def test_producer_saves_draft_then_submits(client, session, demo):
    login(client, "producer@demo.test")
    response = client.post("/manifests/new", data=form_data(demo, action="save"), headers=EN)
    assert response.status_code == 302
    manifest = session.scalars(select(Manifest)).one()
    assert manifest.status is ManifestStatus.DRAFT
    assert manifest.lines[0].declared_kg == Decimal("1800.000")
    assert manifest.lines[0].declared_unit == "t"
    page = client.get(f"/manifests/{manifest.id}/edit", headers=EN).get_data(as_text=True)
    assert 'value="1.8"' in page
    response = client.post(
        f"/manifests/{manifest.id}/edit", data=form_data(demo, action="submit"), headers=EN
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    session.expire_all()
    assert manifest.status is ManifestStatus.SUBMITTED
    assert manifest.number and len(manifest.number) == 14


def test_bad_input_keeps_values_and_saves_nothing(client, session, demo):
    login(client, "producer@demo.test")
    before = count(session)
    response = client.post(
        "/manifests/new",
        headers=EN,
        data=form_data(
            demo,
            **{
                "lines-0-declared_qty": "-3",
                "lines-0-waste_code": "12-34",
                "lines-0-waste_name": "我的废油",
                "action": "save",
            },
        ),
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Must be greater than zero." in page
    assert "A waste code looks like 900-041-49." in page
    assert 'value="我的废油"' in page
    assert count(session) == before


def test_submit_problems_are_shown_next_to_fields(client, session, demo):
    login(client, "producer@demo.test")
    response = client.post(
        "/manifests/new",
        headers=EN,
        data=form_data(
            demo,
            **{"lines-0-waste_code": "841-001-01", "emergency_measures": "", "action": "submit"},
        ),
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "licence does not cover 841-001-01" in page
    assert "Describe the emergency measures." in page
    manifest = session.scalars(select(Manifest)).one()
    assert manifest.status is ManifestStatus.DRAFT  # the draft was kept, not issued


def test_list_filters_and_visibility(client, session, now, demo):
    make_submitted(session, now, demo)
    make_draft(session, now, demo)
    session.commit()
    login(client, "producer@demo.test")
    page = client.get("/manifests/", headers=EN).get_data(as_text=True)
    assert "2 manifests" in page
    page = client.get("/manifests/?status=draft", headers=EN).get_data(as_text=True)
    assert "1 manifest" in page
    client.post("/logout")
    login(client, "receiver@demo.test")
    page = client.get("/manifests/", headers=EN).get_data(as_text=True)
    assert "1 manifest" in page  # drafts are the producer's own
    client.post("/logout")
    login(client, "receiver2@demo.test")
    page = client.get("/manifests/", headers=EN).get_data(as_text=True)
    assert "0 manifests" in page


def test_detail_visible_to_parties_and_regulator_only(client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    for email, status in (
        ("producer@demo.test", 200),
        ("carrier@demo.test", 200),
        ("driver@demo.test", 200),
        ("receiver@demo.test", 200),
        ("regulator@demo.test", 200),
        ("regulator-otog@demo.test", 200),
        ("producer2@demo.test", 404),
        ("receiver2@demo.test", 404),
    ):
        login(client, email)
        assert client.get(f"/manifests/{m.id}").status_code == status, email
        client.post("/logout")
    assert client.get(f"/manifests/{m.id}").status_code == 302


def test_cancel_with_reason(client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "producer@demo.test")
    response = client.post(f"/manifests/{m.id}/cancel", data={"reason": ""}, headers=EN)
    assert response.status_code == 422
    response = client.post(f"/manifests/{m.id}/cancel", data={"reason": "客户取消"})
    assert response.status_code == 302
    session.expire_all()
    assert m.status is ManifestStatus.CANCELLED
    client.post("/logout")
    login(client, "receiver@demo.test")
    assert client.post(f"/manifests/{m.id}/cancel", data={"reason": "x"}).status_code == 403


def test_correction_is_recorded_and_visible(client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "producer@demo.test")
    data = {
        "reason": "桶数录错",
        "lines-0-line_id": str(m.lines[0].id),
        "lines-0-container_count": "9",
    }
    response = client.post(f"/manifests/{m.id}/correct", data=data)
    assert response.status_code == 302
    client.post("/logout")
    login(client, "receiver@demo.test")
    page = client.get(f"/manifests/{m.id}", headers=EN).get_data(as_text=True)
    assert "Corrected" in page and "桶数录错" in page
    assert client.get(f"/manifests/{m.id}/correct").status_code == 403


def test_form_builds_lines_from_ticked_containers(client, session, now, demo):
    from datetime import date

    from hazwaste.ledger import services as ledger

    row = {
        "waste_code": "900-249-08",
        "waste_name": "废矿物油",
        "physical_form": "liquid",
        "hazards": ["T", "I"],
        "packaging_type": "drum",
        "net_weight_kg": Decimal("200"),
        "generation_date": date(2026, 11, 2),
        "source_process": "",
    }
    made = ledger.register_containers(session, now, demo.users["producer"], [row, row], now.date())
    session.commit()
    login(client, "producer@demo.test")
    page = client.get("/manifests/new", headers=EN).get_data(as_text=True)
    assert made[0].code in page
    data = form_data(demo, action="save", container_ids=[str(c.id) for c in made])
    data.update(
        {
            "lines-0-waste_code": "",
            "lines-0-declared_qty": "",
            "lines-0-packaging": "",
            "lines-0-waste_name": "",
            "lines-0-physical_form": "",
            "lines-0-container_count": "",
            "lines-0-hazards": [],
        }
    )
    response = client.post("/manifests/new", data=data, headers=EN)
    body = response.get_data(as_text=True)
    assert response.status_code == 302, body[body.find("flash-error") :][:1500]
    manifest = session.scalars(select(Manifest)).one()
    (line,) = manifest.lines
    assert line.container_count == 2 and line.declared_kg == Decimal("400.000")
