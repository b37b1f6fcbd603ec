"""The phone flow behind the manifest QR: verification, pickup, arrival, receipt, disposal.

Each test drives the scan pages over the test client as the user who scans (driver,
receiver's staff, a visitor) and checks what the database holds afterwards.
"""

import re
from decimal import Decimal

from sqlalchemy import func, select

from hazwaste.api.models import IdempotencyRecord
from hazwaste.db import utcnow
from hazwaste.manifests import lifecycle
from hazwaste.manifests.models import EventKind, ManifestEvent, ManifestStatus
from hazwaste.manifests.services import local_date
from hazwaste.manifests.tokens import make_token
from tests.conftest import login
from tests.manifest_factories import make_submitted, pickup_data

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


def field_error(page, form, name, line=None):
    """The message shown right under a form field (``None`` if there is none)."""
    ident = f"{form}-{name}" + ("" if line is None else f"-{line}") + "-err"
    found = re.search(rf'<p class="err" id="{ident}">([^<]*)</p>', page)
    return found.group(1) if found else None


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


def receipt_form(m, key="r1", decisions=None, less_kg=Decimal(0), **extra):
    data = {"unit": "kg", "position_note": "unsupported", "idempotency_key": key}
    for i, ln in enumerate(m.lines):
        data.update(
            {
                f"lines-{i}-line_id": str(ln.id),
                f"lines-{i}-decision": (decisions or {}).get(i, "accept"),
                f"lines-{i}-received_qty": str(ln.loaded_kg - less_kg),
            }
        )
    data.update(extra)
    return data


def in_transit(session, now, demo):
    m = make_submitted(session, now, demo)
    lifecycle.pickup(
        session, now, m, demo.users["driver"], pickup_data(m, demo.extra["vehicles"][0].id)
    )
    return m


def delivered(session, now, demo):
    m = in_transit(session, now, demo)
    lifecycle.deliver(session, now, m, demo.users["driver"], {"position_note": "denied"})
    return m


# -- the code itself -----------------------------------------------------------------------------


def test_forged_and_altered_codes_are_invalid(app, client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    path = scan_path(app, m)
    forged = client.get("/m/forged.token", headers=EN)
    assert forged.status_code == 404 and "Invalid code" in forged.get_data(as_text=True)
    for position in (4, len("/m/") + 2, len(path) - 3):  # one character changed anywhere
        altered = path[:position] + ("A" if path[position] != "A" else "B") + path[position + 1 :]
        response = client.get(altered, headers=EN)
        assert response.status_code == 404, altered
        assert "Invalid code" in response.get_data(as_text=True)
        assert m.number not in response.get_data(as_text=True)
    login(client, "driver@demo.test")
    assert client.post(f"{path[:-3]}AAA/pickup", data={}).status_code == 404
    assert client.post(f"{path}/teleport", data={}).status_code == 404


# -- who sees what ------------------------------------------------------------------------------


def test_logged_out_visitor_sees_verification_only(app, client, session, now, demo):
    m = in_transit(session, now, demo)
    session.commit()
    path = scan_path(app, m)
    page = client.get(path, headers=EN).get_data(as_text=True)
    assert m.number in page and "Genuine code" in page and "In transit" in page
    assert demo.orgs["producer"].name in page and demo.orgs["receiver"].name in page
    assert "HW08, HW49" in page and "2.2205 t" in page  # categories and total tonnage
    for private in ("泄漏", "1800.5", "1,800.5", "废矿物油", "李建国", "蒙K5B120", "0477"):
        assert private not in page, private  # emergency text, line weights, driver, vehicle
    assert "<form" not in page
    assert f'href="/login?next={path}"' in page  # comes back here


def test_login_returns_the_driver_to_the_manifest(app, client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    path = scan_path(app, m)
    login_page = client.get(f"/login?next={path}", headers=EN).get_data(as_text=True)
    assert f'name="next" value="{path}"' in login_page  # the form keeps where to return
    response = client.post(
        "/login",
        data={"email": "driver@demo.test", "password": "demo-pass-2026", "next": path},
    )
    assert response.status_code == 302 and response.headers["Location"] == path
    # A post from a logged-out phone (session expired) is sent to log in, then back here.
    client.post("/logout")
    response = client.post(f"{path}/pickup", data={})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_user_who_may_not_view_gets_the_verification_view(app, client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "producer2@demo.test")
    path = scan_path(app, m)
    page = client.get(path, headers=EN).get_data(as_text=True)
    assert "Genuine code" in page and "not a party" in page and "<form" not in page
    assert "1800.5" not in page and "泄漏" not in page
    response = client.post(f"{path}/pickup", data=pickup_form(m, demo.extra["vehicles"][0].id))
    assert response.status_code == 403


def test_other_parties_see_status_and_receipt_due_date_without_actions(
    app, client, session, now, demo
):
    m = delivered(session, now, demo)
    session.commit()
    path = scan_path(app, m)
    for email in ("producer@demo.test", "regulator@demo.test", "driver@demo.test"):
        login(client, email)
        page = client.get(path, headers=EN).get_data(as_text=True)
        assert "Delivered" in page and "Receipt due" in page, email
        assert m.receipt_due_date.isoformat() in page, email
        assert "<form" not in page, email
        client.post("/logout")


# -- pickup ----------------------------------------------------------------------------------------


def test_driver_sees_the_pickup_form(app, client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "driver@demo.test")
    page = client.get(scan_path(app, m), headers=EN).get_data(as_text=True)
    truck, tanker = demo.extra["vehicles"]
    assert "Confirm pickup" in page
    assert f'<option value="{truck.id}" selected>{truck.plate}</option>' in page  # planned one
    assert f'<option value="{tanker.id}" >{tanker.plate}</option>' in page
    assert 'name="lines-0-loaded_qty"' in page and 'name="lines-1-loaded_qty"' in page
    assert '<option value="t"' in page  # the unit select
    for hidden in ("latitude", "longitude", "accuracy_m", "position_note", "idempotency_key"):
        assert f'name="{hidden}"' in page
    # Without JavaScript the position note says why there is no position.
    assert 'name="position_note" value="unsupported"' in page
    assert "/static/js/scan.js" in page


def test_driver_picks_up_with_position(app, client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "driver@demo.test")
    path = scan_path(app, m)
    form = pickup_form(m, demo.extra["vehicles"][1].id, note="装车正常", unit="t")
    form.update({"lines-0-loaded_qty": "1.7995", "lines-1-loaded_qty": "0.42"})
    response = client.post(f"{path}/pickup", data=form, headers=EN)
    assert response.status_code == 302 and response.headers["Location"] == path
    assert "Pickup recorded." in client.get(path, headers=EN).get_data(as_text=True)
    session.expire_all()
    assert m.status is ManifestStatus.IN_TRANSIT
    assert m.pickup_vehicle_id == demo.extra["vehicles"][1].id
    assert [ln.loaded_kg for ln in m.lines] == [Decimal("1799.5"), Decimal("420")]
    event = m.events[-1]
    assert event.kind is EventKind.PICKED_UP and event.note == "装车正常"
    assert (event.latitude, event.longitude, event.accuracy_m) == (39.3481, 106.9592, 9)
    assert event.position_note == ""


def test_pickup_without_position_records_why(app, client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "driver@demo.test")
    no_position = {"latitude": "", "longitude": "", "accuracy_m": ""}
    form = pickup_form(m, demo.extra["vehicles"][0].id, position_note="denied", **no_position)
    assert client.post(f"{scan_path(app, m)}/pickup", data=form).status_code == 302
    session.expire_all()
    assert m.status is ManifestStatus.IN_TRANSIT
    assert m.events[-1].latitude is None and m.events[-1].position_note == "denied"


def test_wrong_vehicle_is_shown_next_to_the_field_and_changes_nothing(
    app, client, session, now, demo
):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "driver@demo.test")
    path = scan_path(app, m)
    foreign = 999999
    form = pickup_form(m, foreign, note="第二次", **{"lines-1-loaded_qty": "433.5"})
    response = client.post(f"{path}/pickup", data=form, headers=EN)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(page, "pickup", "vehicle_id") == "Choose an active vehicle of your company."
    assert 'value="433.5"' in page and 'value="第二次"' in page  # what was typed is kept
    assert 'name="idempotency_key" value="k1"' in page  # the same form, corrected, may retry
    # Too heavy for the small tanker: also a vehicle problem.
    form = pickup_form(m, demo.extra["vehicles"][1].id, **{"lines-0-loaded_qty": "9500"})
    page = client.post(f"{path}/pickup", data=form, headers=EN).get_data(as_text=True)
    assert "maximum load" in field_error(page, "pickup", "vehicle_id")
    session.expire_all()
    assert m.status is ManifestStatus.SUBMITTED and events(session, m, "picked_up") == 0
    assert all(ln.loaded_kg is None for ln in m.lines)
    assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0
    # Corrected, with the same form key: recorded.
    fixed = pickup_form(m, demo.extra["vehicles"][0].id)
    assert client.post(f"{path}/pickup", data=fixed).status_code == 302


def test_bad_line_quantity_is_shown_next_to_its_line(app, client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "driver@demo.test")
    form = pickup_form(m, demo.extra["vehicles"][0].id, **{"lines-1-loaded_qty": "abc"})
    response = client.post(f"{scan_path(app, m)}/pickup", data=form, headers=EN)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(page, "pickup", "loaded_qty", 1) == "Enter a number, for example 1250.5."
    assert field_error(page, "pickup", "loaded_qty", 0) is None
    form = pickup_form(m, demo.extra["vehicles"][0].id, **{"lines-0-loaded_qty": ""})
    page = client.post(f"{scan_path(app, m)}/pickup", data=form, headers=EN).get_data(as_text=True)
    assert field_error(page, "pickup", "loaded_qty", 0)


def test_retried_pickup_with_the_same_key_shows_the_first_result(app, client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "driver@demo.test")
    path = scan_path(app, m)
    form = pickup_form(m, demo.extra["vehicles"][0].id, key="retry-1")
    first = client.post(f"{path}/pickup", data=form)
    again = client.post(f"{path}/pickup", data=form, headers=EN)
    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"] == path
    assert "already recorded" in client.get(path, headers=EN).get_data(as_text=True)
    session.expire_all()
    assert m.status is ManifestStatus.IN_TRANSIT and events(session, m, "picked_up") == 1
    # Without the key the same post is simply too late: a conflict, not a second pickup.
    late = client.post(f"{path}/pickup", data={**form, "idempotency_key": ""}, headers=EN)
    assert late.status_code == 409 and events(session, m, "picked_up") == 1


def test_second_driver_after_the_first_gets_a_clear_conflict(app, client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "driver@demo.test")
    path = scan_path(app, m)
    client.post(f"{path}/pickup", data=pickup_form(m, demo.extra["vehicles"][0].id, "a"))
    client.post("/logout")
    login(client, "driver2@demo.test")
    response = client.post(
        f"{path}/pickup", data=pickup_form(m, demo.extra["vehicles"][1].id, "b"), headers=EN
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "someone else acted on this manifest first. It is now: In transit." in page
    assert "Confirm pickup" not in page
    session.expire_all()
    assert events(session, m, "picked_up") == 1
    assert m.pickup_vehicle_id == demo.extra["vehicles"][0].id


# -- arrival -------------------------------------------------------------------------------------


def test_driver_confirms_arrival(app, client, session, now, demo):
    m = in_transit(session, now, demo)
    session.commit()
    login(client, "driver@demo.test")
    path = scan_path(app, m)
    assert "Confirm arrival" in client.get(path, headers=EN).get_data(as_text=True)
    form = {"idempotency_key": "d1", "latitude": "39.8", "longitude": "109.9", "accuracy_m": "20"}
    assert client.post(f"{path}/deliver", data=form).status_code == 302
    session.expire_all()
    assert m.status is ManifestStatus.DELIVERED and m.receipt_due_date is not None
    assert m.events[-1].latitude == 39.8


def test_receivers_first_scan_records_the_arrival(app, client, session, now, demo):
    m = in_transit(session, now, demo)
    session.commit()
    login(client, "receiver@demo.test")
    path = scan_path(app, m)
    page = client.get(path, headers=EN).get_data(as_text=True)
    assert "Record arrival" in page and "Confirm arrival" not in page
    assert client.post(f"{path}/deliver", data={"position_note": "timeout"}).status_code == 302
    session.expire_all()
    assert m.status is ManifestStatus.DELIVERED
    event = m.events[-1]
    assert event.kind is EventKind.DELIVERED and event.actor_user_id == demo.users["receiver"].id
    assert event.position_note == "timeout"
    page = client.get(path, headers=EN).get_data(as_text=True)
    assert "Show the discrepancies" in page  # the receipt form follows at once
    assert f"<dt>Receipt due</dt><dd>{m.receipt_due_date.isoformat()}</dd>" in page


# -- receipt ---------------------------------------------------------------------------------------


def test_receipt_confirmation_step_shows_the_discrepancy_first(app, client, session, now, demo):
    m = delivered(session, now, demo)
    session.commit()
    login(client, "receiver@demo.test")
    path = scan_path(app, m)
    data = receipt_form(m, less_kg=Decimal(18), note="桶内残液沉淀")
    preview = client.post(f"{path}/receive", data=data, headers=EN)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Confirm receipt" in text
    assert "-18 kg (-1.00 %)" in text and "-18 kg (-4.29 %)" in text  # received − loaded
    assert 'name="confirm" value="1"' in text and 'value="r1"' in text
    # Line 2 (liquid, 2 % tolerance) is 4.29 % short: the alert is announced for it only.
    assert text.count("This difference is beyond the 2 % tolerance") == 1
    session.expire_all()
    assert m.status is ManifestStatus.DELIVERED  # nothing saved before confirming
    assert all(ln.received_kg is None for ln in m.lines)
    # "Change" goes back to the form with the values typed.
    back = client.post(f"{path}/receive", data={**data, "edit": "1"}, headers=EN)
    back_text = back.get_data(as_text=True)
    assert back.status_code == 200 and "Show the discrepancies" in back_text
    assert f'value="{m.lines[0].loaded_kg - 18}"' in back_text
    done = client.post(f"{path}/receive", data={**data, "confirm": "1"})
    assert done.status_code == 302
    session.expire_all()
    assert m.status is ManifestStatus.RECEIVED
    assert m.lines[0].received_kg == m.lines[0].loaded_kg - 18
    assert m.lines[0].discrepancy_kg == Decimal(-18)
    assert events(session, m, "received") == 1


def test_the_confirmation_says_in_red_when_a_gap_will_raise_an_alert(
    app, client, session, now, demo
):
    m = delivered(session, now, demo)
    session.commit()
    login(client, "receiver@demo.test")
    path = scan_path(app, m)
    preview = client.post(f"{path}/receive", data=receipt_form(m, less_kg=Decimal(150)))
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert (
        text.count('class="flash bad" role="alert">该差异超出') == 2
    )  # both lines: 8.3 % and 35.7 % short
    assert "并向监管部门发出重量差异预警" in text and '<dd class="code bad">' in text
    # Confirmed without a note: refused, the note field says why, nothing is recorded.
    refused = client.post(
        f"{path}/receive", data={**receipt_form(m, less_kg=Decimal(150)), "confirm": "1"}
    )
    assert refused.status_code == 422
    assert "超出允许范围，请在备注中说明差异原因" in refused.get_data(as_text=True)
    session.expire_all()
    assert m.status is ManifestStatus.DELIVERED
    explained = {
        **receipt_form(m, key="r2", less_kg=Decimal(150), note="雨天桶内进水后倒出"),
        "confirm": "1",
    }
    assert client.post(f"{path}/receive", data=explained).status_code == 302
    session.expire_all()
    assert m.status is ManifestStatus.RECEIVED


def test_rejection_needs_a_reason_next_to_its_line(app, client, session, now, demo):
    m = delivered(session, now, demo)
    session.commit()
    login(client, "receiver@demo.test")
    path = scan_path(app, m)
    data = receipt_form(m, decisions={1: "reject"})
    for confirm in ("", "1"):  # refused at the preview and at the confirmation alike
        response = client.post(f"{path}/receive", data={**data, "confirm": confirm}, headers=EN)
        page = response.get_data(as_text=True)
        assert response.status_code == 422
        assert field_error(page, "receive", "rejection_reason", 1) == (
            "Give the reason for the rejection."
        )
        assert field_error(page, "receive", "rejection_reason", 0) is None
        assert '<option value="reject" selected>' in page  # the decision typed is kept
    # A partial rejection's weight must lie between zero and what was received.
    partial = receipt_form(
        m,
        decisions={0: "partial"},
        **{"lines-0-rejected_qty": "99999", "lines-0-rejection_reason": "含水"},
    )
    page = client.post(f"{path}/receive", data=partial, headers=EN).get_data(as_text=True)
    assert "partial rejection" in field_error(page, "receive", "rejected_qty", 0)
    session.expire_all()
    assert m.status is ManifestStatus.DELIVERED and events(session, m, "received") == 0


def test_full_rejection_ends_rejected_and_the_producer_sees_why(app, client, session, now, demo):
    m = delivered(session, now, demo)
    session.commit()
    login(client, "receiver@demo.test")
    path = scan_path(app, m)
    data = receipt_form(
        m,
        decisions={0: "reject", 1: "reject"},
        confirm="1",
        **{"lines-0-rejection_reason": "含水率超标", "lines-1-rejection_reason": "包装破损"},
    )
    assert client.post(f"{path}/receive", data=data).status_code == 302
    session.expire_all()
    assert m.status is ManifestStatus.REJECTED and events(session, m, "rejected") == 1
    client.post("/logout")
    login(client, "producer@demo.test")
    page = client.get(path, headers=EN).get_data(as_text=True)
    assert "Rejected" in page and "含水率超标" in page and "包装破损" in page
    assert "<form" not in page


# -- disposal --------------------------------------------------------------------------------------


def test_disposal_within_the_licence(app, client, session, now, demo):
    m = delivered(session, now, demo)
    session.commit()
    login(client, "receiver@demo.test")
    path = scan_path(app, m)
    data = receipt_form(
        m,
        decisions={1: "reject"},
        confirm="1",
        **{"lines-1-rejection_reason": "包装破损"},
    )
    assert client.post(f"{path}/receive", data=data).status_code == 302
    page = client.get(path, headers=EN).get_data(as_text=True)
    assert "Record disposal" in page
    # Only the methods of the licence covering the line's code are offered.
    offered = re.findall(r'<option value="([A-Z]\d+)"', page)
    assert "R2" in offered and "D1" not in offered
    assert 'name="lines-1-method"' not in page  # the rejected line has nothing to dispose of
    today = local_date(utcnow()).isoformat()
    assert f'name="lines-0-disposal_date" value="{today}"' in page
    session.expire_all()
    dispose = {
        "idempotency_key": "x1",
        "lines-0-line_id": str(m.lines[0].id),
        "lines-0-method": "D1",
        "lines-0-disposed_kg": str(m.lines[0].accepted_kg),
        "lines-0-disposal_date": today,
    }
    assert '<select id="d-m-0" name="lines-0-method"><option value="">—</option>' in page
    unchosen = client.post(f"{path}/dispose", data={**dispose, "lines-0-method": ""}, headers=EN)
    assert unchosen.status_code == 422
    assert field_error(unchosen.get_data(as_text=True), "dispose", "method", 0)
    bad = client.post(f"{path}/dispose", data=dispose, headers=EN)
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "licence does not allow D1" in field_error(page, "dispose", "method", 0)
    session.expire_all()
    assert m.status is ManifestStatus.RECEIVED and m.lines[0].disposal_method is None
    dispose["lines-0-method"] = "R2"
    assert client.post(f"{path}/dispose", data=dispose).status_code == 302
    assert client.post(f"{path}/dispose", data=dispose).status_code == 302  # a retry
    session.expire_all()
    assert m.status is ManifestStatus.COMPLETED and events(session, m, "disposed") == 1
    assert m.lines[0].disposal_method == "R2"
