"""Holiday schedules as data: the project's file loaded by ``load-reference``, a year loaded
by an administrator (page, API, CLI) with row-level errors, due dates past the last known
year provisional and computed again (with their RECEIPT_OVERDUE flags) once the year is
loaded, and the warning from 1 November when next year is missing.

``tests/data/holidays_2027_test.csv`` is made up for these tests (Spring Festival 2027 from
Friday 5 to Saturday 13 February, Sunday 14 a make-up working day): the State Council's
2027 notice was not available to the project when they were written.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hazwaste import workdays
from hazwaste.audit.models import AuditEntry
from hazwaste.errors import Forbidden, Invalid
from hazwaste.holidays import services as holidays
from hazwaste.holidays.models import HolidayDay, HolidayYear
from hazwaste.manifests import lifecycle
from hazwaste.reconciliation import services as recon
from hazwaste.reconciliation.models import Flag, FlagStatus
from tests.conftest import api_token, login
from tests.manifest_factories import make_submitted, pickup_data

TEST_2027 = Path(__file__).resolve().parent.parent / "data" / "holidays_2027_test.csv"


def china(day: date, hour: int = 10) -> datetime:
    """``hour`` o'clock in China on ``day``, as UTC."""
    return datetime(day.year, day.month, day.day, hour - 8, tzinfo=UTC)


def load_2027(session, now, admin):
    written = holidays.load_text(session, now, TEST_2027.read_text(), "测试用日程", admin)
    session.commit()
    return written


def test_the_project_file_holds_the_official_years_and_loads_once(session, now):
    written = holidays.load_data_file(session, now)
    session.commit()
    years = set(session.scalars(select(HolidayYear.year)))
    assert years == set(range(2004, 2027))
    assert written == len(years)
    assert holidays.load_data_file(session, now) == 0  # the same again: nothing written
    # It agrees with the library it was transcribed from, day by day, for 2026.
    holidays.refresh(session, force=True)
    day = date(2026, 1, 1)
    while day.year == 2026:
        import chinese_calendar

        assert workdays.is_workday(day) == (chinese_calendar.is_workday(day), True), day
        day += timedelta(days=1)


def test_late_december_2026_is_provisional_until_2027_is_loaded(session, now, demo):
    # Monday 28 December 2026: 29, 30, 31 December, then 1 January is a holiday even in
    # the estimate, so 4 and 5 January.
    due, exact = lifecycle.receipt_due(china(date(2026, 12, 28)))
    assert (due, exact) == (date(2027, 1, 5), False)
    load_2027(session, now, demo.users["admin"])
    holidays.refresh(session, force=True)
    assert lifecycle.receipt_due(china(date(2026, 12, 28))) == (date(2027, 1, 5), True)


def test_spring_festival_2027_from_the_schedule(session, now, demo):
    # Thursday 4 February 2027. The estimate knows 除夕 (5th) and 初一–初三 (6th–8th) only.
    assert lifecycle.receipt_due(china(date(2027, 2, 4))) == (date(2027, 2, 15), False)
    load_2027(session, now, demo.users["admin"])
    holidays.refresh(session, force=True)
    # Off from the 5th to the 13th; Sunday the 14th is worked: 14, 15, 16, 17, 18.
    assert lifecycle.receipt_due(china(date(2027, 2, 4))) == (date(2027, 2, 18), True)
    assert workdays.is_workday(date(2027, 2, 14)) == (True, True)
    assert workdays.is_workday(date(2027, 2, 10)) == (False, True)


def test_loading_the_year_recomputes_due_dates_and_their_flags(session, now, demo, run_jobs):
    manifest = make_submitted(session, now, demo)
    vehicle = demo.extra["vehicles"][0].id
    lifecycle.pickup(
        session,
        china(date(2027, 2, 3)),
        manifest,
        demo.users["driver"],
        pickup_data(manifest, vehicle),
    )
    lifecycle.deliver(
        session, china(date(2027, 2, 4)), manifest, demo.users["driver"], {"note": ""}
    )
    session.commit()
    assert (manifest.receipt_due_date, manifest.receipt_due_exact) == (date(2027, 2, 15), False)

    # On the 17th, by the estimate, the receipt is two working days late.
    at = china(date(2027, 2, 17), 12)
    recon.run(session, at, at, rules=["RECEIPT_OVERDUE"])
    session.commit()
    flag = session.scalar(
        select(Flag).where(Flag.rule == "RECEIPT_OVERDUE", Flag.manifest_id == manifest.id)
    )
    assert flag is not None and flag.status is FlagStatus.OPEN

    load_2027(session, at, demo.users["admin"])
    run_jobs(at + timedelta(seconds=1))  # recompute, then the manifest's reconciliation
    run_jobs(at + timedelta(seconds=2))
    session.refresh(manifest)
    assert (manifest.receipt_due_date, manifest.receipt_due_exact) == (date(2027, 2, 18), True)
    recomputed = session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "manifest.receipt_due_recomputed",
            AuditEntry.object_id == str(manifest.id),
        )
    )
    assert recomputed is not None
    assert json.loads(recomputed.payload)["from"] == "2027-02-15"
    session.refresh(flag)
    assert flag.status is FlagStatus.RESOLVED  # not late before the 18th


def test_a_bad_file_loads_nothing_and_names_each_line(session, now, demo):
    bad = (
        "date,kind,name\n"
        "2027-01-01,holiday,元旦\n"
        "2027-13-01,holiday,x\n"  # no such month
        "2027-01-04,workday,x\n"  # a Monday cannot be a make-up working day
        "2027-01-01,holiday,元旦\n"  # twice
        "2027-01-09,rest,x\n"  # unknown kind
    )
    with pytest.raises(Invalid) as refused:
        holidays.load_text(session, now, bad, "", demo.users["admin"])
    lines = refused.value.fields["file"]
    assert [m.split(":")[0] for m in lines] == [f"文件第 {n} 行" for n in (3, 4, 5, 6)]
    assert session.scalar(select(func.count()).select_from(HolidayDay)) == 0
    with pytest.raises(Invalid):
        holidays.load_text(session, now, "day,type\n2027-01-01,holiday\n", "", demo.users["admin"])
    with pytest.raises(Forbidden):
        holidays.load_text(session, now, TEST_2027.read_text(), "", demo.users["producer"])


def test_the_admin_page_uploads_and_refuses_with_line_errors(client, session, now, demo):
    login(client, "admin@demo.test")
    page = client.get("/admin/holidays").get_data(as_text=True)
    assert "2027" in page and "估算" in page
    bad = client.post(
        "/admin/holidays",
        data={
            "file": (io.BytesIO("date,kind,name\n2027-01-04,上班,x\n".encode()), "h.csv"),
            "source": "国办发明电",
        },
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "文件第 2 行" in text and "只有周末才能作为调休上班日" in text
    assert 'value="国办发明电"' in text  # what was typed is kept
    good = client.post(
        "/admin/holidays",
        data={"file": (io.BytesIO(TEST_2027.read_bytes()), "2027.csv"), "source": "测试用日程"},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert good.status_code == 200
    text = good.get_data(as_text=True)
    assert "已载入 2027 年的放假安排" in text
    assert session.get(HolidayYear, 2027).source == "测试用日程"
    # Others may not.
    other = client.application.test_client()
    login(other, "producer@demo.test")
    assert other.get("/admin/holidays").status_code == 403
    assert other.post("/admin/holidays", data={}).status_code == 403


def test_the_api_reports_sources_and_loads_for_administrators(client, session, now, demo):
    token = api_token(client, "producer@demo.test")
    listed = client.get("/api/v1/holidays?since=2026&until=2027", headers=token).get_json()
    assert [(y["year"], y["source"]) for y in listed["data"]] == [
        (2026, "library"),
        (2027, "estimate"),
    ]
    body = {
        "source": "测试用日程",
        "days": [
            {"date": "2027-02-05", "kind": "holiday", "name": "春节"},
            {"date": "2027-02-14", "kind": "workday", "name": "春节"},
        ],
    }
    assert client.put("/api/v1/holidays/2027", json=body, headers=token).status_code == 403
    admin = api_token(client, "admin@demo.test")
    wrong = {"days": [{"date": "2027-02-15", "kind": "workday", "name": ""}]}  # a Monday
    refused = client.put("/api/v1/holidays/2027", json=wrong, headers=admin)
    assert refused.status_code == 422
    loaded = client.put("/api/v1/holidays/2027", json=body, headers=admin)
    assert loaded.status_code == 200 and loaded.get_json()["data"]["changed"] is True
    again = client.put("/api/v1/holidays/2027", json=body, headers=admin)
    assert again.get_json()["data"]["changed"] is False
    days = client.get("/api/v1/holidays/2027", headers=token).get_json()["data"]
    assert [d["kind"] for d in days] == ["holiday", "workday"]
    assert client.get("/api/v1/holidays/2031", headers=token).status_code == 404
    assert client.get("/api/v1/holidays/99999", headers=token).status_code == 404
    # Years outside 2000–2100 are a field error, however large (found by the fuzz stage).
    for since in ("1000000", "154451589974097383111795387924480", "-5"):
        answer = client.get(f"/api/v1/holidays?since={since}", headers=token)
        assert answer.status_code == 422, (since, answer.get_json())
        assert "since" in answer.get_json()["error"]["fields"]


def test_next_year_missing_is_warned_from_november(client, session, demo):
    assert holidays.missing_next_year(session, china(date(2026, 10, 31))) is None
    assert holidays.missing_next_year(session, china(date(2026, 11, 1))) == 2027
    login(client, "admin@demo.test")
    page = client.get("/").get_data(as_text=True)
    # The dashboard warns by today's date (the warning's wording: 尚未载入).
    assert ("尚未载入" in page) == bool(holidays.missing_next_year(session, datetime.now(UTC)))
    load_2027(session, datetime.now(UTC), demo.users["admin"])
    assert holidays.missing_next_year(session, china(date(2026, 11, 1))) is None


def test_the_cli_loads_a_file(app, session, demo):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["holidays", "load", str(TEST_2027), "--source", "测试用日程"])
    assert result.exit_code == 0, result.output
    assert "2027: loaded" in result.output
    status = runner.invoke(args=["holidays", "status"])
    assert "2027: official" in status.output


def test_query_errors_are_in_the_users_language(client, session, demo):
    token = api_token(client, "producer@demo.test")
    zh = client.get("/api/v1/holidays?since=1999", headers=token).get_json()
    assert zh["error"]["fields"]["since"] == ["年份须在 2000 至 2100 之间。"]
    page = client.get(
        "/api/v1/waste-codes?offset=-1", headers={**token, "Accept-Language": "en"}
    ).get_json()
    assert page["error"]["fields"]["offset"] == ["An offset between 0 and 10000."]
