"""Notifications: each event reaches the right people only (parties of the manifest, the
organization of a flag, regulators inside their jurisdiction, the inspector of a case), in the
inbox and by real e-mail (an in-process SMTP server) in the recipient's language; preferences
and the daily digest are respected; the inbox pages and API show only one's own."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from hazwaste.accounts.models import User
from hazwaste.cases import lifecycle as cases
from hazwaste.cases import services as case_services
from hazwaste.events import types as T
from hazwaste.jobs.models import OutboxJob
from hazwaste.manifests import lifecycle
from hazwaste.notifications import services
from hazwaste.notifications.models import Notification
from hazwaste.permits.models import CarrierPermit, Licence
from hazwaste.reconciliation.models import Flag, Severity
from tests import factories
from tests.conftest import api_token, login
from tests.manifest_factories import make_submitted, pickup_data, receipt_data

HOUR = timedelta(hours=1)


def drain(run_jobs, at: datetime, passes: int = 4) -> None:
    """Run the outbox until quiet: dispatch → fan-out → e-mail are jobs that enqueue jobs."""
    for _ in range(passes):
        run_jobs(at + timedelta(seconds=1))


def told(session, event_type: str) -> set[str]:
    """E-mail addresses of the users who got an inbox or e-mail row of this type."""
    rows = session.execute(
        select(User.email)
        .join(Notification, Notification.user_id == User.id)
        .where(Notification.event_type == event_type)
    ).all()
    return {r.email for r in rows}


def mailed(session, event_type: str) -> set[str]:
    """E-mail addresses an e-mail of this type was queued for (the ``mail.send`` job keyed
    by the event and the person: what the SMTP server is then handed)."""
    rows = session.execute(
        select(User.email, Notification.event_id, Notification.user_id)
        .join(Notification, Notification.user_id == User.id)
        .where(Notification.event_type == event_type, Notification.emailed_at.is_not(None))
    ).all()
    keys = {f"mail:notify:{r.event_id}:{r.user_id}": r.email for r in rows}
    queued = set(
        session.scalars(
            select(OutboxJob.dedupe_key).where(
                OutboxJob.kind == "mail.send", OutboxJob.dedupe_key.in_(list(keys) or [""])
            )
        )
    )
    return {email for key, email in keys.items() if key in queued}


def wait_for(smtp, count: int) -> list:
    for _ in range(100):
        if len(smtp.messages) >= count:
            break
        time.sleep(0.02)
    return smtp.messages


@pytest.fixture()
def quiet(session, demo, now, run_jobs):
    """The demo world with the notifications of its own seeding delivered and forgotten."""
    drain(run_jobs, now + timedelta(days=2))
    session.query(Notification).delete()
    session.commit()
    return demo


def _submitted(session, now, demo):
    manifest = make_submitted(session, now, demo)
    session.commit()
    return manifest


def test_a_submission_tells_the_carrier_and_the_receiver_office_not_the_producer(
    session, now, quiet, run_jobs
):
    demo = quiet
    _submitted(session, now, demo)
    drain(run_jobs, now)
    people = told(session, T.MANIFEST_SUBMITTED)
    assert "carrier@demo.test" in people and "receiver@demo.test" in people
    assert "producer@demo.test" not in people  # the producer submitted it
    assert "producer2@demo.test" not in people and "receiver2@demo.test" not in people
    assert "driver@demo.test" not in people  # drivers act on the scan pages
    assert mailed(session, T.MANIFEST_SUBMITTED) == people  # verified, e-mail on by default
    assert not any(p.startswith("regulator") for p in people)


def test_hand_offs_tell_the_other_parties_and_never_the_actor(session, now, quiet, run_jobs):
    demo = quiet
    manifest = _submitted(session, now, demo)
    data = pickup_data(manifest, demo.extra["vehicles"][0].id)
    lifecycle.pickup(session, now + HOUR, manifest, demo.users["driver"], data)
    lifecycle.deliver(session, now + 2 * HOUR, manifest, demo.users["driver"], {"note": ""})
    lifecycle.receive(
        session, now + 3 * HOUR, manifest, demo.users["receiver"], receipt_data(manifest)
    )
    session.commit()
    drain(run_jobs, now + 3 * HOUR)
    assert told(session, T.MANIFEST_PICKED_UP) >= {"producer@demo.test", "receiver@demo.test"}
    assert "carrier@demo.test" not in told(session, T.MANIFEST_PICKED_UP)
    assert told(session, T.MANIFEST_DELIVERED) >= {"producer@demo.test", "receiver@demo.test"}
    received = told(session, T.MANIFEST_RECEIVED)
    assert received >= {"producer@demo.test", "carrier@demo.test"}
    assert "receiver@demo.test" not in received  # the receiver recorded it
    outsiders = {"producer2@demo.test", "receiver2@demo.test"}
    for kind in (T.MANIFEST_PICKED_UP, T.MANIFEST_DELIVERED, T.MANIFEST_RECEIVED):
        assert not told(session, kind) & outsiders
    assert told(session, T.MANIFEST_DISCREPANCY) == set()  # weights matched
    # Routine steps are inbox-only unless asked for.
    for kind in (T.MANIFEST_PICKED_UP, T.MANIFEST_DELIVERED, T.MANIFEST_RECEIVED):
        assert mailed(session, kind) == set()


def test_a_weight_gap_and_a_rejection_alert_producer_and_carrier_at_once(
    session, now, quiet, run_jobs
):
    demo = quiet
    manifest = _submitted(session, now, demo)
    data = pickup_data(manifest, demo.extra["vehicles"][0].id)
    lifecycle.pickup(session, now + HOUR, manifest, demo.users["driver"], data)
    lifecycle.deliver(session, now + 2 * HOUR, manifest, demo.users["driver"], {"note": ""})
    receipt = receipt_data(manifest, factor=Decimal("0.92"))
    first = manifest.lines[0].id
    for line in receipt["lines"]:
        if line["line_id"] == first:
            line.update(decision="partial", rejected_kg=Decimal("1"), rejection_reason="破损")
    lifecycle.receive(session, now + 3 * HOUR, manifest, demo.users["receiver"], receipt)
    session.commit()
    drain(run_jobs, now + 3 * HOUR)
    assert told(session, T.MANIFEST_DISCREPANCY) >= {"producer@demo.test", "carrier@demo.test"}
    assert told(session, T.MANIFEST_REJECTED) >= {"producer@demo.test", "carrier@demo.test"}
    assert "receiver@demo.test" not in told(session, T.MANIFEST_REJECTED)
    for kind in (T.MANIFEST_DISCREPANCY, T.MANIFEST_REJECTED):
        assert mailed(session, kind) == told(session, kind)
    row = session.scalar(
        select(Notification).where(Notification.event_type == T.MANIFEST_DISCREPANCY).limit(1)
    )
    text = services.messages.render(row.event_type, row.data, "enterprise")
    assert manifest.number in text.title and "-8" in text.body


def test_a_flag_reaches_its_organization_and_regulators_over_it_only(session, now, quiet, run_jobs):
    demo = quiet
    admin = demo.users["admin"]
    _, outside = factories.regulator(session, now, admin, region_code="150602")
    session.commit()
    flag = Flag(
        rule="PRODUCER_BALANCE",
        subject_type="organization",
        subject_id=demo.orgs["producer"].id,
        period="2026",
        severity=Severity.HIGH,
        producer_id=demo.orgs["producer"].id,
        first_seen_at=now,
        last_seen_at=now,
    )
    session.add(flag)
    session.flush()
    services.events.publish(
        session,
        now,
        T.FLAG_RAISED,
        subject_kind="flag",
        subject_id=flag.id,
        organization_ids=[flag.producer_id],
        data={"rule": flag.rule, "severity": "high"},
    )
    session.commit()
    drain(run_jobs, now)
    people = told(session, T.FLAG_RAISED)
    assert "producer@demo.test" in people
    assert {"regulator@demo.test", "regulator-otog@demo.test"} <= people  # 150600, 150624
    assert outside.email not in people  # 150602 does not hold the producer (150624)
    assert "carrier@demo.test" not in people and "producer2@demo.test" not in people
    assert mailed(session, T.FLAG_RAISED) == people


def test_reconciliation_publishes_each_new_flag_once(session, now, quiet, run_jobs):
    demo = quiet
    manifest = _submitted(session, now, demo)
    data = pickup_data(manifest, demo.extra["vehicles"][0].id)
    lifecycle.pickup(session, now, manifest, demo.users["driver"], data)
    session.commit()
    from hazwaste.reconciliation import services as recon

    later = now + timedelta(days=5)
    recon.run(session, later, later, rules=["TRANSIT_OVERDUE"])
    recon.run(session, later + HOUR, later + HOUR, rules=["TRANSIT_OVERDUE"])
    session.commit()
    drain(run_jobs, later + HOUR)
    flag = session.scalar(
        select(Flag).where(Flag.rule == "TRANSIT_OVERDUE", Flag.manifest_id == manifest.id)
    )
    rows = session.scalars(
        select(Notification).where(
            Notification.event_type == T.FLAG_RAISED, Notification.subject_id == flag.id
        )
    ).all()
    producer = demo.users["producer"]
    assert [r.user_id for r in rows].count(producer.id) == 1


def test_case_assignment_decision_and_response_reach_the_right_people(
    session, now, quiet, run_jobs
):
    demo = quiet
    boss = demo.users["regulator_city"]
    _, inspector = factories.regulator(session, now, demo.users["admin"], body=boss.regulator_body)
    inspector.email_verified_at = now
    flag = Flag(
        rule="PRODUCER_BALANCE",
        subject_type="organization",
        subject_id=demo.orgs["producer"].id,
        period="2026-x",
        severity=Severity.MEDIUM,
        producer_id=demo.orgs["producer"].id,
        first_seen_at=now,
        last_seen_at=now,
    )
    session.add(flag)
    session.commit()
    cases.assign(session, now, boss, flag, inspector.id)
    session.commit()
    drain(run_jobs, now)
    assert told(session, T.CASE_ASSIGNED) == {inspector.email}
    assert mailed(session, T.CASE_ASSIGNED) == {inspector.email}

    case_services.respond(session, now, demo.users["producer"], flag, {"body": "盘点误差"})
    session.commit()
    drain(run_jobs, now)
    assert told(session, T.CASE_RESPONSE) == {inspector.email}  # the case's inspector
    assert mailed(session, T.CASE_RESPONSE) == {inspector.email}

    session.refresh(flag)
    cases.start(session, now, inspector, flag)
    session.refresh(flag)
    cases.close(session, now, inspector, flag, "explained", "盘点误差已核实")
    session.commit()
    drain(run_jobs, now)
    decided = told(session, T.FLAG_DECIDED)
    assert "producer@demo.test" in decided
    assert not any(p.startswith("regulator") for p in decided)
    assert mailed(session, T.FLAG_DECIDED) == decided


def test_organization_approval_tells_its_staff(session, now, quiet, run_jobs):
    demo = quiet
    _org, admin = factories.organization(session, now, approved_by=demo.users["admin"])
    session.commit()
    drain(run_jobs, now)
    assert told(session, T.ORGANIZATION_APPROVED) == {admin.email}
    # A new account has not proved its address yet: the inbox only.
    assert mailed(session, T.ORGANIZATION_APPROVED) == set()


def test_reminders_receipt_due_overdue_and_licence_expiring_are_published_once(
    session, now, quiet, run_jobs
):
    demo = quiet
    manifest = _submitted(session, now, demo)
    data = pickup_data(manifest, demo.extra["vehicles"][0].id)
    lifecycle.pickup(session, now, manifest, demo.users["driver"], data)
    lifecycle.deliver(session, now + HOUR, manifest, demo.users["driver"], {"note": ""})
    session.commit()
    due = manifest.receipt_due_date
    day_before = datetime.combine(due - timedelta(days=1), datetime.min.time(), UTC) + 2 * HOUR
    assert services.remind(session, day_before) >= 1
    services.remind(session, day_before + HOUR)  # a second run publishes nothing again
    session.commit()
    drain(run_jobs, day_before + HOUR)
    assert told(session, T.RECEIPT_DUE) == {"receiver@demo.test"}
    assert mailed(session, T.RECEIPT_DUE) == {"receiver@demo.test"}
    rows = session.scalars(
        select(Notification).where(
            Notification.event_type == T.RECEIPT_DUE, Notification.subject_id == manifest.id
        )
    ).all()
    assert len(rows) == 1

    after = day_before + timedelta(days=3)
    services.remind(session, after)
    session.commit()
    drain(run_jobs, after)
    overdue = told(session, T.RECEIPT_OVERDUE)
    assert overdue >= {"receiver@demo.test", "producer@demo.test"}
    assert "carrier@demo.test" not in overdue and "producer2@demo.test" not in overdue
    assert mailed(session, T.RECEIPT_OVERDUE) == overdue

    licence = session.scalar(
        select(Licence).where(Licence.organization_id == demo.orgs["receiver"].id).limit(1)
    )
    soon = datetime.combine(licence.valid_to - timedelta(days=29), datetime.min.time(), UTC)
    services.remind(session, soon)
    services.remind(session, soon + HOUR)
    session.commit()
    drain(run_jobs, soon + HOUR)
    licence_rows = session.scalars(
        select(Notification).where(
            Notification.event_type == T.LICENCE_EXPIRING, Notification.subject_id == licence.id
        )
    ).all()
    assert {r.user.email for r in licence_rows} == {"receiver@demo.test"}  # its admin
    assert len(licence_rows) == 1
    assert licence_rows[0].data["days"] == 29
    # (receiver2's licence ends within 60 days too: its own reminder, to its own admin.)
    assert mailed(session, T.LICENCE_EXPIRING) == told(session, T.LICENCE_EXPIRING)
    assert "receiver@demo.test" in mailed(session, T.LICENCE_EXPIRING)

    permit = session.scalar(
        select(CarrierPermit).where(CarrierPermit.organization_id == demo.orgs["carrier"].id)
    )
    week = datetime.combine(permit.valid_to - timedelta(days=6), datetime.min.time(), UTC)
    services.remind(session, week)
    session.commit()
    drain(run_jobs, week)
    assert told(session, T.PERMIT_EXPIRING) == {"carrier@demo.test"}  # the carrier's admin
    assert mailed(session, T.PERMIT_EXPIRING) == {"carrier@demo.test"}


def test_email_in_the_recipients_language_and_preferences_respected(
    session,
    now,
    quiet,
    run_jobs,
    smtp_inbox,
):
    demo = quiet
    carrier = demo.users["carrier"]
    receiver = demo.users["receiver"]
    carrier.locale = "en"
    services.save_preferences(
        session, receiver, {T.MANIFEST_SUBMITTED: {"inbox": True, "email": False}}
    )
    session.commit()
    manifest = _submitted(session, now, demo)
    drain(run_jobs, now)
    messages = wait_for(smtp_inbox, 1)
    to = {m["To"]: m for m in messages}
    assert carrier.email in to
    assert receiver.email not in to  # e-mail turned off for this type
    english = to[carrier.email]
    assert english["Subject"] == f"Manifest {manifest.number} has been submitted to you"
    body = english.get_body(preferencelist=("plain",)).get_content()
    assert f"/manifests/{manifest.id}" in body
    # The receiver still has it in the inbox, in Chinese on a Chinese page.
    row = session.scalar(
        select(Notification).where(
            Notification.user_id == receiver.id, Notification.event_type == T.MANIFEST_SUBMITTED
        )
    )
    assert row is not None and row.inbox and row.emailed_at is None


def test_unverified_addresses_get_no_email(session, now, quiet, run_jobs, smtp_inbox):
    demo = quiet
    carrier = demo.users["carrier"]
    carrier.email_verified_at = None
    session.commit()
    _submitted(session, now, demo)
    drain(run_jobs, now)
    time.sleep(0.2)
    assert carrier.email not in {m["To"] for m in smtp_inbox.messages}
    assert carrier.email in told(session, T.MANIFEST_SUBMITTED)  # the inbox still has it


def test_the_daily_digest_sends_one_message_at_the_digest_hour(
    session,
    now,
    quiet,
    run_jobs,
    smtp_inbox,
):
    demo = quiet
    carrier = demo.users["carrier"]
    carrier.notify_digest = True
    session.commit()
    _submitted(session, now, demo)
    _submitted(session, now, demo)
    drain(run_jobs, now)
    time.sleep(0.2)
    assert carrier.email not in {m["To"] for m in smtp_inbox.messages}  # kept for the digest
    early = datetime(2026, 11, 21, 23, 0, tzinfo=UTC)  # 07:00 in China: before the hour
    assert services.send_digests(session, early) == 0
    at_eight = datetime(2026, 11, 22, 0, 5, tzinfo=UTC)  # 08:05 China time
    assert services.send_digests(session, at_eight) >= 1
    assert services.send_digests(session, at_eight + HOUR) == 0  # once a day
    session.commit()
    drain(run_jobs, at_eight)
    digest = [m for m in wait_for(smtp_inbox, 1) if m["To"] == carrier.email]
    assert len(digest) == 1
    assert "2" in digest[0]["Subject"]
    body = digest[0].get_body(preferencelist=("plain",)).get_content()
    assert body.count("/manifests/") == 2
    assert carrier.digest_sent_on == date(2026, 11, 22)


def test_inbox_page_bell_open_and_mark_read(client, session, now, quiet, run_jobs):
    demo = quiet
    manifest = _submitted(session, now, demo)
    drain(run_jobs, now)
    login(client, "carrier@demo.test")
    home = client.get("/").get_data(as_text=True)
    assert 'class="bell-count">1<' in home
    page = client.get("/notifications").get_data(as_text=True)
    assert f"联单 {manifest.number} 已提交给您" in page
    row = session.scalar(
        select(Notification).where(Notification.user_id == demo.users["carrier"].id)
    )
    opened = client.get(f"/notifications/{row.id}")
    assert opened.status_code == 302 and opened.location.endswith(f"/manifests/{manifest.id}")
    session.expire_all()
    assert session.get(Notification, row.id).read_at is not None
    assert 'class="bell-count"' not in client.get("/").get_data(as_text=True)


def test_someone_elses_notification_is_a_404_on_pages_and_api(
    client, session, now, quiet, run_jobs
):
    demo = quiet
    _submitted(session, now, demo)
    drain(run_jobs, now)
    row = session.scalar(
        select(Notification).where(Notification.user_id == demo.users["carrier"].id)
    )
    login(client, "producer2@demo.test")
    assert client.get(f"/notifications/{row.id}").status_code == 404
    assert client.post(f"/notifications/{row.id}/read").status_code in (400, 404)
    headers = api_token(client, "producer2@demo.test")
    assert client.post(f"/api/v1/notifications/{row.id}/read", headers=headers).status_code == 404
    listed = client.get("/api/v1/notifications", headers=headers).get_json()["data"]
    assert row.id not in {n["id"] for n in listed}
    session.expire_all()
    assert session.get(Notification, row.id).read_at is None


def test_api_inbox_and_preferences(client, session, now, quiet, run_jobs):
    demo = quiet
    manifest = _submitted(session, now, demo)
    drain(run_jobs, now)
    headers = {**api_token(client, "carrier@demo.test"), "Accept-Language": "en"}
    answer = client.get("/api/v1/notifications", headers=headers).get_json()
    assert answer["meta"]["unread"] == 1
    [item] = answer["data"]
    assert item["type"] == T.MANIFEST_SUBMITTED
    assert item["title"] == f"Manifest {manifest.number} has been submitted to you"
    assert item["link"] == f"/manifests/{manifest.id}"
    done = client.post(f"/api/v1/notifications/{item['id']}/read", headers=headers)
    assert done.status_code == 200 and done.get_json()["data"]["read_at"]
    assert client.get("/api/v1/notifications?unread=1", headers=headers).get_json()["data"] == []

    prefs = client.get("/api/v1/notifications/preferences", headers=headers).get_json()["data"]
    kinds = {t["type"] for t in prefs["types"]}
    assert T.MANIFEST_SUBMITTED in kinds and T.CASE_ASSIGNED not in kinds  # not a regulator
    changed = client.put(
        "/api/v1/notifications/preferences",
        headers=headers,
        json={"types": {T.MANIFEST_SUBMITTED: {"inbox": False}}, "digest": True, "locale": "en"},
    )
    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()["data"]
    assert body["digest"] is True and body["locale"] == "en"
    submitted = next(t for t in body["types"] if t["type"] == T.MANIFEST_SUBMITTED)
    assert submitted["inbox"] is False and submitted["email"] is True
    refused = client.put(
        "/api/v1/notifications/preferences",
        headers=headers,
        json={"types": {T.CASE_ASSIGNED: {"inbox": False}}, "locale": "fr"},
    )
    assert refused.status_code == 422
    assert "types" in refused.get_json()["error"]["fields"]
    session.expire_all()
    assert factories.user_by_email(session, "carrier@demo.test").locale == "en"  # unchanged

    _submitted(session, now, demo)  # inbox off for this type now: no inbox row
    drain(run_jobs, now)
    assert client.get("/api/v1/notifications?unread=1", headers=headers).get_json()["data"] == []


def test_preferences_page_saves_and_keeps_what_was_typed_on_error(client, session, quiet):
    login(client, "carrier@demo.test")
    page = client.get("/notifications/preferences").get_data(as_text=True)
    assert "联单已提交给您" in page or "提交" in page
    saved = client.post(
        "/notifications/preferences",
        data={f"inbox:{T.MANIFEST_SUBMITTED}": "1", "digest": "1", "locale": "zh_CN"},
    )
    assert saved.status_code == 302
    session.expire_all()
    carrier = factories.user_by_email(session, "carrier@demo.test")
    assert carrier.notify_digest is True
    choice = next(
        c for c in services.choices(session, carrier) if c.event_type == T.MANIFEST_PICKED_UP
    )
    assert (choice.inbox, choice.email) == (False, False)
    bad = client.post(
        "/notifications/preferences",
        data={f"email:{T.MANIFEST_REJECTED}": "1", "locale": "xx"},
    )
    assert bad.status_code == 422
    assert "checked" in bad.get_data(as_text=True)
    session.expire_all()
    assert factories.user_by_email(session, "carrier@demo.test").locale == "zh_CN"
