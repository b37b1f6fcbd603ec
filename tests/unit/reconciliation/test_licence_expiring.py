"""LICENCE_EXPIRING: a licence ending within 30 days without a renewal is a flag for the
receiver (and, by jurisdiction, its regulators), high in its last week; a renewal or the end
of the licence resolves it; a revoked licence is not "ending"."""

from datetime import timedelta
from decimal import Decimal

from hazwaste.permits import services as permits
from hazwaste.reconciliation.models import FlagStatus, Severity
from tests.unit.reconciliation.conftest import flags, run


def _renewal(session, now, demo, starts, ends):
    return permits.create_licence(
        session,
        now,
        demo.users["receiver2"],
        {
            "number": "蒙危废经第150624099号",
            "valid_from": starts,
            "valid_to": ends,
            "annual_capacity_kg": Decimal("12000000"),
            "scope_categories": ["HW08"],
            "scope_codes": [],
            "methods": ["D10"],
            "note": "",
        },
    )


def test_the_demo_licence_ending_in_25_days_is_flagged_for_its_receiver(session, now, demo):
    run(session, now, "LICENCE_EXPIRING")
    (flag,) = flags(session, "LICENCE_EXPIRING")
    licence = demo.extra["licence2"]
    assert (flag.subject_type, flag.subject_id) == ("licence", licence.id)
    assert flag.receiver_id == demo.orgs["receiver2"].id
    assert flag.severity is Severity.MEDIUM
    assert '"days_left":25' in flag.evidence
    # The other receiver's licence runs for years: nothing.
    assert demo.extra["licence"].id not in {
        f.subject_id for f in flags(session, "LICENCE_EXPIRING")
    }


def test_high_in_the_last_week_and_resolved_once_ended(session, now, demo):
    licence = demo.extra["licence2"]
    run(session, now + timedelta(days=19), "LICENCE_EXPIRING")  # 6 days left
    (flag,) = flags(session, "LICENCE_EXPIRING")
    assert flag.severity is Severity.HIGH
    run(session, now + timedelta(days=27), "LICENCE_EXPIRING")  # ended two days ago
    (flag,) = flags(session, "LICENCE_EXPIRING")
    assert flag.status is FlagStatus.RESOLVED
    assert licence.valid_to < (now + timedelta(days=27)).date()


def test_a_renewal_resolves_it(session, now, demo):
    run(session, now, "LICENCE_EXPIRING")
    assert flags(session, "LICENCE_EXPIRING")[0].status is FlagStatus.OPEN
    ends = demo.extra["licence2"].valid_to
    _renewal(session, now, demo, ends + timedelta(days=1), ends + timedelta(days=5 * 365))
    run(session, now + timedelta(hours=1), "LICENCE_EXPIRING")
    (flag,) = flags(session, "LICENCE_EXPIRING")
    assert flag.status is FlagStatus.RESOLVED


def test_a_late_successor_is_no_renewal(session, now, demo):
    ends = demo.extra["licence2"].valid_to
    # Starts 40 days after the end: a gap during which the receiver may take nothing in.
    _renewal(session, now, demo, ends + timedelta(days=40), ends + timedelta(days=400))
    run(session, now, "LICENCE_EXPIRING")
    (flag,) = flags(session, "LICENCE_EXPIRING")
    assert flag.status is FlagStatus.OPEN


def test_a_revoked_licence_is_not_ending(session, now, demo):
    demo.extra["licence2"].revoked_at = now
    session.flush()
    run(session, now, "LICENCE_EXPIRING")
    assert flags(session, "LICENCE_EXPIRING") == []


def test_the_flag_page_and_dossier_open_for_its_regulator_only(client, session, now, demo):
    from tests.conftest import login

    run(session, now, "LICENCE_EXPIRING")
    (flag,) = flags(session, "LICENCE_EXPIRING")
    session.commit()
    login(client, "regulator@demo.test")  # 150600 holds receiver2 (鄂托克旗)
    page = client.get(f"/cases/{flag.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "经营许可证即将到期且无续证" in text and demo.extra["licence2"].number in text
    pdf = client.get(f"/oversight/dossiers/flag/{flag.id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    other = client.application.test_client()
    login(other, "producer@demo.test")  # not a party
    assert other.get(f"/cases/{flag.id}").status_code in (403, 404)
