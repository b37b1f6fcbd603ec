"""The phone flow behind the manifest QR: verification, pickup, arrival, receipt, disposal."""

from decimal import Decimal

from sqlalchemy import func, select

from hazwaste.db import utcnow
from hazwaste.manifests.models import ManifestEvent, ManifestStatus
from hazwaste.manifests.services import local_date
from hazwaste.manifests.tokens import make_token
from tests.conftest import login
from tests.manifest_factories import make_submitted

EN = {"Accept-Language": "en"}


def scan_path(app, manifest):
    with app.test_request_context():
        return f"/m/{make_token(manifest.id, manifest.number)}"


def events(session, manifest, kind):
    return session.scalar(
        select(func.count())
        .select_from(ManifestEvent)
        .where(ManifestEvent.manifest_id == manifest.id, ManifestEvent.kind == kind)
    )


def pickup_form(m, vehicle_id, key="k1", **extra):
    data = {
        "vehicle_id": str(vehicle_id),
        "unit": "kg",
        "idempotency_key": key,
        "note": "",
        "latitude": "39.3481",
        "longitude": "106.9592",
        "accuracy_m": "9",
        "position_note": "",
    }
    for i, ln in enumerate(m.lines):
        data[f"lines-{i}-line_id"] = str(ln.id)
        data[f"lines-{i}-loaded_qty"] = str(ln.declared_kg)
    data.update(extra)
    return data


def test_forged_and_altered_codes_are_invalid(app, client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    path = scan_path(app, m)
    assert "Invalid code" in client.get("/m/forged.token", headers=EN).get_data(as_text=True)
    altered = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]
    response = client.get(altered, headers=EN)
    assert response.status_code == 404 and "Invalid code" in response.get_data(as_text=True)


def test_logged_out_visitor_sees_verification_only(app, client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    page = client.get(scan_path(app, m), headers=EN).get_data(as_text=True)
    assert m.number in page and "Genuine code" in page and "HW08" in page
    assert "泄漏" not in page and "1800.5" not in page  # no emergency text, no line weights
    assert "/login?next=" in page


def test_driver_picks_up_with_position_and_retry_is_idempotent(app, client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "driver@demo.test")
    path = scan_path(app, m)
    assert "Confirm pickup" in client.get(path, headers=EN).get_data(as_text=True)
    form = pickup_form(m, demo.extra["vehicles"][0].id)
    assert client.post(f"{path}/pickup", data=form).status_code == 302
    again = client.post(f"{path}/pickup", data=form, headers=EN, follow_redirects=True)
    assert "already recorded" in again.get_data(as_text=True)
    session.expire_all()
    assert m.status is ManifestStatus.IN_TRANSIT and events(session, m, "picked_up") == 1
    assert m.events[-1].latitude == 39.3481


def test_pickup_without_position_records_why(app, client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "driver@demo.test")
    form = pickup_form(
        m,
        demo.extra["vehicles"][0].id,
        latitude="",
        longitude="",
        accuracy_m="",
        position_note="denied",
    )
    assert client.post(f"{scan_path(app, m)}/pickup", data=form).status_code == 302
    session.expire_all()
    assert m.events[-1].latitude is None and m.events[-1].position_note == "denied"


def test_bad_pickup_keeps_input_and_changes_nothing(app, client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "driver@demo.test")
    form = pickup_form(m, demo.extra["vehicles"][1].id, **{"lines-0-loaded_qty": "9500"})
    response = client.post(f"{scan_path(app, m)}/pickup", data=form, headers=EN)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "maximum load" in page and 'value="9500"' in page
    session.expire_all()
    assert m.status is ManifestStatus.SUBMITTED


def test_second_pickup_is_a_clear_conflict(app, client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "driver@demo.test")
    path = scan_path(app, m)
    client.post(f"{path}/pickup", data=pickup_form(m, demo.extra["vehicles"][0].id, "a"))
    client.post("/logout")
    login(client, "driver2@demo.test")
    response = client.post(
        f"{path}/pickup", data=pickup_form(m, demo.extra["vehicles"][0].id, "b"), headers=EN
    )
    assert response.status_code == 409
    assert "cannot be changed this way" in response.get_data(as_text=True)


def test_receiver_first_scan_arrival_then_receipt_with_confirmation(
    app, client, session, now, demo
):
    m = make_submitted(session, now, demo)
    session.commit()
    path = scan_path(app, m)
    login(client, "driver@demo.test")
    client.post(f"{path}/pickup", data=pickup_form(m, demo.extra["vehicles"][0].id))
    client.post("/logout")
    login(client, "receiver@demo.test")
    assert client.post(f"{path}/deliver", data={"position_note": "unsupported"}).status_code == 302
    session.expire_all()
    assert m.status is ManifestStatus.DELIVERED
    data = {"unit": "kg", "position_note": "unsupported"}
    for i, ln in enumerate(m.lines):
        data.update(
            {
                f"lines-{i}-line_id": str(ln.id),
                f"lines-{i}-decision": "accept",
                f"lines-{i}-received_qty": str(ln.loaded_kg - 18),
            }
        )
    preview = client.post(f"{path}/receive", data=data, headers=EN)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Confirm receipt" in text and "-18" in text
    session.expire_all()
    assert m.status is ManifestStatus.DELIVERED  # nothing saved before confirming
    data["lines-1-decision"] = "reject"
    missing_reason = client.post(f"{path}/receive", data=data, headers=EN)
    assert missing_reason.status_code == 422
    assert "reason for the rejection" in missing_reason.get_data(as_text=True)
    data["lines-1-rejection_reason"] = "包装破损"
    assert client.post(f"{path}/receive", data={**data, "confirm": "1"}).status_code == 302
    session.expire_all()
    assert m.status is ManifestStatus.RECEIVED
    assert m.lines[0].received_kg == m.lines[0].loaded_kg - Decimal(18)
    dispose = {
        "lines-0-line_id": str(m.lines[0].id),
        "lines-0-method": "D1",
        "lines-0-disposed_kg": str(m.lines[0].accepted_kg),
        "lines-0-disposal_date": local_date(utcnow()).isoformat(),
    }
    bad = client.post(f"{path}/dispose", data=dispose, headers=EN)
    assert bad.status_code == 422 and "licence does not allow" in bad.get_data(as_text=True)
    dispose["lines-0-method"] = "R2"
    assert client.post(f"{path}/dispose", data=dispose).status_code == 302
    session.expire_all()
    assert m.status is ManifestStatus.COMPLETED
