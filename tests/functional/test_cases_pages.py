"""The regulator's case queue and case page through the client, with the jurisdiction walk."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import openpyxl
import pytest

from hazwaste.cases.models import FlagResponse
from hazwaste.reconciliation.models import CaseStatus, Severity
from tests import factories
from tests.conftest import login
from tests.unit.cases.helpers import make_flag

EN = {"Accept-Language": "en"}


@pytest.fixture()
def flags(session, now, demo):
    """Two flags inside 鄂托克旗 (producer 1), one only in 东胜区 (producer 2)."""
    otog = make_flag(
        session,
        now - timedelta(days=10),
        producer=demo.orgs["producer"],
        severity=Severity.CRITICAL,
        quantity_kg=Decimal("3500"),
        rule="WEIGHT_GAP",
    )
    otog2 = make_flag(
        session,
        now - timedelta(days=2),
        producer=demo.orgs["producer"],
        severity=Severity.LOW,
        quantity_kg=Decimal("20"),
        rule="TRANSIT_OVERDUE",
    )
    dongsheng = make_flag(
        session,
        now - timedelta(days=5),
        producer=demo.orgs["producer2"],
        severity=Severity.MEDIUM,
        quantity_kg=Decimal("800"),
        rule="RECEIPT_OVERDUE",
    )
    session.commit()
    return otog, otog2, dongsheng


def ids_on(html):
    return [int(i) for i in re.findall(r'data-flag-id="(\d+)"', html)]


def test_queue_counts_filters_and_sort(client, session, flags):
    otog, otog2, dongsheng = flags
    login(client, "regulator@demo.test")
    page = client.get("/cases/", headers=EN)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert ids_on(html) == [otog.id, dongsheng.id, otog2.id]  # most severe first
    assert 'data-status="new">New <span class="count">3</span>' in html
    assert ids_on(client.get("/cases/?sort=tonnage").get_data(as_text=True)) == [
        otog.id,
        dongsheng.id,
        otog2.id,
    ]
    assert ids_on(client.get("/cases/?sort=age").get_data(as_text=True))[0] == otog.id
    assert ids_on(client.get("/cases/?min_tonnes=0.5").get_data(as_text=True)) == [
        otog.id,
        dongsheng.id,
    ]
    assert ids_on(client.get("/cases/?region=150602").get_data(as_text=True)) == [dongsheng.id]
    assert ids_on(client.get("/cases/?rule=TRANSIT_OVERDUE").get_data(as_text=True)) == [otog2.id]
    assert ids_on(client.get("/cases/?case_status=investigating").get_data(as_text=True)) == []
    producer2 = dongsheng.producer_id
    assert ids_on(client.get(f"/cases/?organization_id={producer2}").get_data(as_text=True)) == [
        dongsheng.id
    ]
    assert f'<option value="{producer2}"' in html  # the enterprise filter lists it
    bad = client.get("/cases/?min_tonnes=lots&sort=weird", headers=EN)
    assert bad.status_code == 422
    assert len(ids_on(bad.get_data(as_text=True))) == 3


def test_queue_is_jurisdiction_scoped(client, flags):
    otog, otog2, _dongsheng = flags
    login(client, "regulator-otog@demo.test")
    assert sorted(ids_on(client.get("/cases/").get_data(as_text=True))) == sorted(
        [otog.id, otog2.id]
    )
    client.post("/logout")
    login(client, "producer@demo.test")
    assert client.get("/cases/").status_code == 403
    assert client.get("/cases/export.csv").status_code == 403


def test_case_page_walk_and_work(client, session, now, demo, flags):
    otog, _otog2, dongsheng = flags
    login(client, "regulator-otog@demo.test")
    for url in (f"/cases/{dongsheng.id}",):
        assert client.get(url).status_code == 404
    for url, data in (
        (f"/cases/{dongsheng.id}/transition", {"action": "start"}),
        (f"/cases/{dongsheng.id}/assignment", {"assignee_id": ""}),
        (f"/cases/{dongsheng.id}/notes", {"body": "x"}),
    ):
        assert client.post(url, data=data).status_code == 404
    client.post("/logout")
    for email in ("producer@demo.test", "producer2@demo.test", "carrier@demo.test"):
        login(client, email)
        assert client.get(f"/cases/{otog.id}").status_code == 403
        assert (
            client.post(f"/cases/{otog.id}/transition", data={"action": "start"}).status_code == 403
        )
        client.post("/logout")
    login(client, "regulator@demo.test")
    page = client.get(f"/cases/{otog.id}", headers=EN)
    assert page.status_code == 200
    assert "Start investigating" in page.get_data(as_text=True)
    response = client.post(
        f"/cases/{otog.id}/transition", data={"action": "start", "note": "电话核实"}, headers=EN
    )
    assert response.status_code == 302
    session.refresh(otog)
    assert otog.case_status is CaseStatus.INVESTIGATING
    # Closing without a finding: 422, the note typed is kept, nothing changes.
    bad = client.post(
        f"/cases/{otog.id}/transition", data={"action": "close", "note": "保留的文字"}, headers=EN
    )
    assert bad.status_code == 422
    assert "保留的文字" in bad.get_data(as_text=True)
    assert "Choose the finding." in bad.get_data(as_text=True)
    session.refresh(otog)
    assert otog.case_status is CaseStatus.INVESTIGATING
    # A second "start" (a stale page) is a conflict naming the status.
    stale = client.post(f"/cases/{otog.id}/transition", data={"action": "start"}, headers=EN)
    assert stale.status_code == 409
    assert 'id="case-status">Investigating<' in stale.get_data(as_text=True)
    assert client.post(f"/cases/{otog.id}/notes", data={"body": ""}).status_code == 422
    assert client.post(f"/cases/{otog.id}/notes", data={"body": "现场检查"}).status_code == 302
    me = demo.users["regulator_city"]
    assert (
        client.post(
            f"/cases/{otog.id}/assignment",
            data={"assignee_id": str(demo.users["regulator_otog"].id)},
        ).status_code
        == 422
    )
    assert (
        client.post(f"/cases/{otog.id}/assignment", data={"assignee_id": str(me.id)}).status_code
        == 302
    )
    html = client.get(f"/cases/{otog.id}", headers=EN).get_data(as_text=True)
    assert "电话核实" in html and "现场检查" in html
    assert ids_on(client.get("/cases/?assignee=mine").get_data(as_text=True)) == [otog.id]
    response = client.post(
        f"/cases/{otog.id}/transition", data={"action": "refer", "referral_note": "移送公安机关"}
    )
    assert response.status_code == 302
    session.refresh(otog)
    assert otog.case_status is CaseStatus.REFERRED


@pytest.mark.parametrize(
    ("region", "status"), [("150000", 200), ("150600", 200), ("150624", 200), ("150602", 404)]
)
def test_case_page_jurisdiction_levels(client, session, now, demo, flags, region, status):
    otog = flags[0]
    _, inspector = factories.regulator(session, now, demo.users["admin"], region_code=region)
    session.commit()
    login(client, inspector.email, factories.PASSWORD)
    assert client.get(f"/cases/{otog.id}").status_code == status
    assert (otog.id in ids_on(client.get("/cases/").get_data(as_text=True))) == (status == 200)


def test_enterprise_response(client, session, demo, flags):
    otog = flags[0]
    login(client, "producer2@demo.test")
    assert client.post(f"/flags/{otog.id}/responses", data={"body": "x"}).status_code == 404
    client.post("/logout")
    login(client, "regulator@demo.test")
    assert client.post(f"/flags/{otog.id}/responses", data={"body": "x"}).status_code == 403
    client.post("/logout")
    login(client, "producer@demo.test")
    page = client.get(f"/flags/{otog.id}", headers=EN).get_data(as_text=True)
    assert 'id="form-response"' in page
    bad = client.post(f"/flags/{otog.id}/responses", data={"attachments": "磅单"}, headers=EN)
    assert bad.status_code == 422 and "磅单" in bad.get_data(as_text=True)
    ok = client.post(
        f"/flags/{otog.id}/responses",
        data={"body": "地磅误差", "attachments": "磅单 2026-11-03\n\n现场照片"},
    )
    assert ok.status_code == 302
    saved = session.query(FlagResponse).one()
    assert saved.attachments == "磅单 2026-11-03\n现场照片"
    client.post("/logout")
    login(client, "regulator@demo.test")
    html = client.get(f"/cases/{otog.id}").get_data(as_text=True)
    assert "地磅误差" in html and "现场照片" in html
    queue = client.get("/cases/", headers=EN).get_data(as_text=True)
    row = queue.split(f'data-flag-id="{otog.id}"')[1].split("</tr>")[0]
    assert "Responded" in row


def test_exports_match_the_page(client, flags):
    login(client, "regulator@demo.test")
    query = "sort=tonnage&min_tonnes=0.01"
    shown = ids_on(client.get(f"/cases/?{query}").get_data(as_text=True))
    assert len(shown) == 3
    raw = client.get(f"/cases/export.csv?{query}").get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [int(r[0]) for r in rows[1:]] == shown
    assert rows[1][8] == "3500"
    data = client.get(f"/cases/export.xlsx?{query}").get_data()
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    values = list(sheet.iter_rows(values_only=True))
    assert [r[0] for r in values[1:]] == shown
    assert Decimal(str(values[1][8])) == Decimal("3500")
    filtered = client.get("/cases/export.csv?region=150602").get_data().decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(filtered)))) == 2


def test_exports_stay_in_the_jurisdiction(client, flags):
    otog, otog2, dongsheng = flags
    login(client, "regulator-otog@demo.test")
    text = client.get("/cases/export.csv").get_data().decode("utf-8-sig")
    assert sorted(int(r[0]) for r in list(csv.reader(io.StringIO(text)))[1:]) == sorted(
        [otog.id, otog2.id]
    )
    sheet = openpyxl.load_workbook(io.BytesIO(client.get("/cases/export.xlsx").get_data())).active
    assert dongsheng.id not in [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)]
    # A region outside the jurisdiction is simply empty, never someone else's flags.
    text = client.get("/cases/export.csv?region=150602").get_data().decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(text)))) == 1


def test_nav_links(client, flags):
    login(client, "regulator@demo.test")
    html = client.get("/cases/", headers=EN).get_data(as_text=True)
    assert 'href="/cases/"' in html
    client.post("/logout")
    login(client, "producer@demo.test")
    html = client.get("/flags/", headers=EN).get_data(as_text=True)
    assert 'href="/cases/"' not in html and 'href="/flags/"' in html


def test_close_and_reopen_through_the_page(client, session, demo, flags):
    otog = flags[0]
    login(client, "regulator@demo.test")
    url = f"/cases/{otog.id}/transition"
    assert client.post(url, data={"action": "start"}).status_code == 302
    html = client.get(f"/cases/{otog.id}", headers=EN).get_data(as_text=True)
    assert 'id="form-close"' in html and 'id="form-refer"' in html
    assert 'id="form-start"' not in html
    done = client.post(url, data={"action": "close", "finding": "false_alarm", "note": "误报"})
    assert done.status_code == 302
    html = client.get(f"/cases/{otog.id}", headers=EN).get_data(as_text=True)
    assert "False alarm" in html and 'id="form-reopen"' in html and 'id="form-assign"' not in html
    bad = client.post(url, data={"action": "reopen", "note": ""}, headers=EN)
    assert bad.status_code == 422 and "Say why the case is reopened." in bad.get_data(as_text=True)
    assert client.post(url, data={"action": "reopen", "note": "新线索"}).status_code == 302
    session.refresh(otog)
    assert otog.case_status is CaseStatus.INVESTIGATING and otog.case_finding is None
    assert client.post(url, data={"action": "fly"}).status_code == 422
