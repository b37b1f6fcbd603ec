"""Management plans: rules of a plan row, upsert and delete with audit, CSV import
all-or-nothing with line numbers, plan versus actual figures, pages and API with their
authorization and error rules."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from hazwaste.audit.models import AuditEntry
from hazwaste.errors import Forbidden, Invalid, NotFound
from hazwaste.ledger.models import LedgerEntry, LedgerKind
from hazwaste.manifests import lifecycle
from hazwaste.plans import services
from hazwaste.plans.models import ManagementPlan
from hazwaste.plans.schemas import CSV_COLUMNS
from tests import factories
from tests.conftest import api_token, login
from tests.manifest_factories import make_submitted, pickup_data

EN = {"Accept-Language": "en"}
YEAR = 2026


def data(**overrides):
    values = {
        "year": YEAR,
        "waste_code": "900-249-08",
        "planned_generation_kg": Decimal("12500"),
        "planned_transfer_kg": Decimal("12000"),
        "intended_receiver_id": None,
        "note": "设备检修",
    }
    values.update(overrides)
    return values


def with_receiver(demo, **overrides):
    return data(intended_receiver_id=demo.orgs["receiver"].id, **overrides)


def count_plans(session):
    return session.scalar(select(func.count()).select_from(ManagementPlan))


def audit_actions(session, plan_id):
    return list(
        session.scalars(
            select(AuditEntry.action)
            .where(
                AuditEntry.object_type == "management_plan", AuditEntry.object_id == str(plan_id)
            )
            .order_by(AuditEntry.id)
        )
    )


def csv_bytes(rows, columns=CSV_COLUMNS, encoding="utf-8"):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns] if isinstance(row, dict) else row)
    return out.getvalue().encode(encoding)


def csv_row(demo, **overrides):
    row = {
        "year": str(YEAR),
        "waste_code": "900-249-08",
        "planned_generation_t": "12.5",
        "planned_transfer_t": "12",
        "intended_receiver_uscc": demo.orgs["receiver"].uscc,
        "note": "设备检修产生的废矿物油",
    }
    row.update(overrides)
    return row


# -- service rules ----------------------------------------------------------------------------


def test_save_creates_then_updates_the_same_row(session, now, demo):
    user = demo.users["producer"]
    first = services.save_plan(session, now, user, with_receiver(demo))
    assert first.created and first.warnings == []
    plan = first.plan
    assert (plan.planned_generation_kg, plan.planned_transfer_kg) == (
        Decimal("12500"),
        Decimal("12000"),
    )
    second = services.save_plan(
        session,
        now,
        demo.users["producer_staff"],
        with_receiver(demo, planned_generation_kg=Decimal("13000.5")),
    )
    assert not second.created and second.plan.id == plan.id
    assert plan.planned_generation_kg == Decimal("13000.5")
    assert count_plans(session) == 1
    assert audit_actions(session, plan.id) == ["plan.created", "plan.updated"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"waste_code": "999-999-99"}, "waste_code"),  # not in the catalogue
        ({"year": 2020}, "waste_code"),  # no edition in force on 1 January 2020
        ({"planned_transfer_kg": Decimal("1")}, "intended_receiver_id"),  # transfer, no receiver
    ],
)
def test_invalid_rows(session, now, demo, overrides, field):
    with pytest.raises(Invalid) as exc:
        services.save_plan(session, now, demo.users["producer"], data(**overrides))
    assert field in exc.value.fields
    assert count_plans(session) == 0


def test_receiver_must_be_an_approved_receiver(session, now, demo):
    admin = factories.platform_admin(session, now)
    pending, _ = factories.organization(session, now, roles=("receiver",))
    approved_producer = demo.orgs["producer2"]
    for org_id in (pending.id, approved_producer.id, 999999):
        with pytest.raises(Invalid) as exc:
            services.save_plan(
                session, now, demo.users["producer"], data(intended_receiver_id=org_id)
            )
        assert list(exc.value.fields) == ["intended_receiver_id"]
    other, _ = factories.organization(session, now, roles=("receiver",), approved_by=admin)
    result = services.save_plan(
        session, now, demo.users["producer"], data(intended_receiver_id=other.id)
    )
    # Approved but without any licence: saved, with a warning.
    assert result.created and len(result.warnings) == 1


def test_licence_not_covering_the_code_on_1_january_warns(session, now, demo):
    user = demo.users["producer"]
    # The demo receiver's licence excludes HW01.
    result = services.save_plan(session, now, user, with_receiver(demo, waste_code="841-001-01"))
    assert result.created
    assert result.warnings and "841-001-01" in result.warnings[0]
    # Services outside a request speak the default language (zh_CN).
    assert f"{YEAR} 年 1 月 1 日" in result.warnings[0] and "841-001-01" in result.warnings[0]
    # The incinerator covers HW01 on 1 January 2026 but its licence ends in December 2026.
    incinerator = demo.orgs["receiver2"].id
    ok = services.save_plan(
        session, now, user, data(waste_code="841-001-01", intended_receiver_id=incinerator)
    )
    assert ok.warnings == []
    later = services.save_plan(
        session,
        now,
        user,
        data(year=YEAR + 1, waste_code="841-001-01", intended_receiver_id=incinerator),
    )
    assert later.created and len(later.warnings) == 1


def test_only_producer_office_staff(session, now, demo):
    for key in ("carrier", "driver", "receiver", "regulator_city", "admin"):
        with pytest.raises(Forbidden):
            services.save_plan(session, now, demo.users[key], data())
    _org, pending_admin = factories.organization(session, now)
    with pytest.raises(Forbidden):
        services.save_plan(session, now, pending_admin, data())


def test_edit_onto_another_rows_code_is_refused(session, now, demo):
    user = demo.users["producer"]
    oil = services.save_plan(session, now, user, data(planned_transfer_kg=Decimal(0))).plan
    drums = services.save_plan(
        session, now, user, data(waste_code="900-041-49", planned_transfer_kg=Decimal(0))
    ).plan
    with pytest.raises(Invalid) as exc:
        services.save_plan(
            session, now, user, data(planned_transfer_kg=Decimal(0)), plan_id=drums.id
        )
    assert "waste_code" in exc.value.fields
    moved = services.save_plan(
        session, now, user, data(year=YEAR + 1, planned_transfer_kg=Decimal(0)), plan_id=oil.id
    )
    assert moved.plan.id == oil.id and oil.year == YEAR + 1


def test_delete_is_audited_and_limited_to_own_rows(session, now, demo):
    plan = services.save_plan(session, now, demo.users["producer"], with_receiver(demo)).plan
    with pytest.raises(NotFound):
        services.delete_plan(session, now, demo.users["producer2"], plan.id)
    services.delete_plan(session, now, demo.users["producer_staff"], plan.id)
    assert count_plans(session) == 0
    assert audit_actions(session, plan.id) == ["plan.created", "plan.deleted"]
    with pytest.raises(NotFound):
        services.delete_plan(session, now, demo.users["producer"], plan.id)


# -- CSV import ---------------------------------------------------------------------------------


def test_import_saves_every_row(session, now, demo):
    raw = csv_bytes(
        [
            csv_row(demo),
            csv_row(
                demo,
                waste_code="900-041-49",
                planned_generation_t="0.4605",
                planned_transfer_t="0",
                intended_receiver_uscc="",
            ),
        ]
    )
    result = services.import_plans(session, now, demo.users["producer"], raw)
    assert (result.created, result.updated, result.years) == (2, 0, [YEAR])
    plans = {
        p.waste_code: p for p in services.plans_for_year(session, demo.orgs["producer"].id, YEAR)
    }
    assert plans["900-249-08"].planned_generation_kg == Decimal("12500")
    assert plans["900-249-08"].intended_receiver_id == demo.orgs["receiver"].id
    assert plans["900-041-49"].planned_generation_kg == Decimal("460.5")
    assert plans["900-041-49"].intended_receiver_id is None


def test_import_is_all_or_nothing_with_line_numbers(session, now, demo):
    services.save_plan(session, now, demo.users["producer"], with_receiver(demo))
    before = count_plans(session)
    rows = [
        csv_row(demo, planned_generation_t="99"),  # line 2: fine (would update)
        csv_row(demo, waste_code="999-999-99"),  # line 3
        [""] * len(CSV_COLUMNS),  # line 4: blank, skipped
        csv_row(demo, waste_code="900-041-49", planned_generation_t="1.0000001"),  # line 5
        csv_row(demo, waste_code="900-041-49", intended_receiver_uscc="91110000MA00000000"),
        csv_row(demo, planned_transfer_t="-1"),  # line 7, also a repeat of line 2
    ]
    with pytest.raises(Invalid) as exc:
        services.import_plans(session, now, demo.users["producer"], csv_bytes(rows))
    errors = exc.value.fields["rows"]
    assert sorted(errors) == [3, 5, 6, 7]
    assert "waste_code" in errors[3]
    assert "planned_generation_t" in errors[5]
    assert "intended_receiver_uscc" in errors[6]
    assert "planned_transfer_t" in errors[7]
    assert "waste_code" in errors[7]  # the repeat of line 2 is reported too
    assert count_plans(session) == before
    plan = services.plans_for_year(session, demo.orgs["producer"].id, YEAR)[0]
    assert plan.planned_generation_kg == Decimal("12500")  # line 2 did not apply


def test_import_reports_duplicates_and_missing_receiver(session, now, demo):
    rows = [
        csv_row(demo),
        csv_row(demo),
        csv_row(demo, waste_code="900-041-49", intended_receiver_uscc=""),
    ]
    with pytest.raises(Invalid) as exc:
        services.import_plans(session, now, demo.users["producer"], csv_bytes(rows))
    errors = exc.value.fields["rows"]
    assert "第 2 行" in errors[3]["waste_code"][0]  # default language zh_CN outside a request
    assert "intended_receiver_uscc" in errors[4]


def test_reimport_updates_and_gb18030_is_read(session, now, demo):
    user = demo.users["producer"]
    services.import_plans(session, now, user, csv_bytes([csv_row(demo)]))
    raw = csv_bytes([csv_row(demo, planned_generation_t="14", note="扩产后")], encoding="gb18030")
    result = services.import_plans(session, now, user, raw)
    assert (result.created, result.updated) == (0, 1)
    (plan,) = services.plans_for_year(session, demo.orgs["producer"].id, YEAR)
    assert plan.planned_generation_kg == Decimal("14000") and plan.note == "扩产后"


def test_import_file_problems(session, now, demo):
    user = demo.users["producer"]
    for raw in (
        b"",
        b"year,waste_code\n2026,900-249-08\n",
        "\ufeff".encode() + b"\xff\xfe\x00",
        csv_bytes([]),
    ):
        with pytest.raises(Invalid) as exc:
            services.import_plans(session, now, user, raw)
        assert "file" in exc.value.fields
    # A quoted note over two lines: the next row's line number follows the file's lines.
    raw = csv_bytes([csv_row(demo, note="第一行\n第二行"), csv_row(demo, waste_code="bad")])
    with pytest.raises(Invalid) as exc:
        services.import_plans(session, now, user, raw)
    assert list(exc.value.fields["rows"]) == [4]


def test_import_returns_licence_warnings(session, now, demo):
    raw = csv_bytes([csv_row(demo), csv_row(demo, waste_code="841-001-01")])
    result = services.import_plans(session, now, demo.users["producer"], raw)
    assert list(result.warnings) == [3]


# -- plan versus actual -----------------------------------------------------------------------


def ledger(session, now, org, user, day, kg, code="900-249-08", kind=LedgerKind.GENERATED):
    session.add(
        LedgerEntry(
            producer_id=org.id,
            waste_code=code,
            kind=kind,
            quantity_kg=Decimal(kg),
            occurred_on=day,
            created_by_id=user.id,
            created_at=now,
        )
    )
    session.flush()


def picked_up(session, now, demo, factor="1", at=None):
    manifest = make_submitted(session, now, demo)
    lifecycle.pickup(
        session,
        now,
        manifest,
        demo.users["driver"],
        pickup_data(manifest, demo.extra["vehicles"][0].id, Decimal(factor)),
    )
    if at is not None:
        manifest.picked_up_at = at
    session.flush()
    return manifest


def test_plan_vs_actual_figures_are_exact(session, now, demo):
    org, user = demo.orgs["producer"], demo.users["producer"]
    services.save_plan(
        session,
        now,
        user,
        with_receiver(
            demo, planned_generation_kg=Decimal("3000"), planned_transfer_kg=Decimal("2400")
        ),
    )
    ledger(session, now, org, user, date(YEAR, 1, 1), "1000.001")
    ledger(session, now, org, user, date(YEAR, 12, 31), "1234.567")
    ledger(session, now, org, user, date(YEAR - 1, 12, 31), "5000")  # other year
    ledger(session, now, org, user, date(YEAR, 5, 1), "800", kind=LedgerKind.SHIPPED_OUT)
    ledger(session, now, org, user, date(YEAR, 5, 1), "77.7", code="261-084-45")  # unplanned
    ledger(session, now, demo.orgs["producer2"], demo.users["producer2"], date(YEAR, 5, 1), "9")
    # Draft lines: 900-249-08 1800.5 kg and 900-041-49 420 kg; loaded at 99.9 %.
    picked_up(session, now, demo, factor="0.999")
    # 2026-01-01 00:00 in China is still 2025 in UTC: counts for 2026.
    picked_up(session, now, demo, at=datetime(2025, 12, 31, 16, 0, tzinfo=UTC))
    # One second earlier is 2025 in China: does not count.
    picked_up(session, now, demo, at=datetime(2025, 12, 31, 15, 59, 59, tzinfo=UTC))
    make_submitted(session, now, demo)  # not picked up: does not count

    rows = {r.waste_code: r for r in services.plan_vs_actual(session, org.id, YEAR)}
    assert list(rows) == ["261-084-45", "900-041-49", "900-249-08"]
    oil = rows["900-249-08"]
    assert oil.actual_generated_kg == Decimal("2234.568")
    assert oil.actual_shipped_kg == Decimal("1798.700") + Decimal("1800.5")
    assert oil.generation_pct == Decimal("74.5")  # 2234.568 / 3000
    assert oil.transfer_pct == Decimal("150.0")  # 3599.2 / 2400 = 149.966…
    drums = rows["900-041-49"]
    assert drums.plan is None and drums.actual_shipped_kg == Decimal("419.580") + Decimal("420")
    assert drums.generation_pct is None and drums.transfer_pct is None
    assert rows["261-084-45"].actual_generated_kg == Decimal("77.7")
    total = services.totals(list(rows.values()))
    assert total.actual_generated_kg == Decimal("2312.268")
    assert total.planned_generation_kg == Decimal("3000")


# -- pages --------------------------------------------------------------------------------------

PAGES = ["/plans/", "/plans/new", "/plans/import", "/plans/import/template.csv"]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_is_sent_to_login(client, demo, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.location


@pytest.mark.parametrize(
    "email",
    [
        "carrier@demo.test",
        "driver@demo.test",
        "receiver@demo.test",
        "regulator@demo.test",
        "admin@demo.test",
        "pending@demo.test",
    ],
)
def test_others_get_403(client, demo, email):
    login(client, email)
    for path in PAGES:
        assert client.get(path).status_code == 403, path
    assert client.post("/plans/new", data={}).status_code == 403


@pytest.mark.parametrize("email", ["producer@demo.test", "producer-staff@demo.test"])
def test_producer_staff_see_the_pages(client, demo, email):
    login(client, email)
    for path in PAGES:
        assert client.get(path, headers=EN).status_code == 200, path
    home = client.get("/plans/", headers=EN).get_data(as_text=True)
    assert 'href="/plans/"' in home  # the nav link


def test_index_shows_plan_vs_actual_and_the_tier_working(client, session, now, demo):
    org, user = demo.orgs["producer"], demo.users["producer"]
    services.save_plan(
        session,
        now,
        user,
        with_receiver(
            demo, planned_generation_kg=Decimal("150000"), planned_transfer_kg=Decimal("2000")
        ),
    )
    ledger(session, now, org, user, date(YEAR - 2, 3, 1), "42000.5")
    ledger(session, now, org, user, date(YEAR, 3, 1), "1500")
    session.commit()
    login(client, "producer@demo.test")
    page = client.get(f"/plans/?year={YEAR}", headers=EN).get_data(as_text=True)
    assert "Key supervision" in page
    assert "150 t (2026, planned)" in page
    assert "42.0005" in page  # 2024's actual, in tonnes
    assert demo.orgs["receiver"].name in page
    assert "1.0 %" in page  # 1500 of 150000 kg
    assert f"/plans/{services.plans_for_year(session, org.id, YEAR)[0].id}/edit" in page
    page = client.get(f"/plans/?year={YEAR + 1}", headers=EN).get_data(as_text=True)
    assert "Simplified management" in page  # 42 t in 2024 is still in the window
    response = client.get("/plans/?year=abc", headers=EN)
    assert response.status_code == 422


def test_form_errors_keep_values_and_save_nothing(client, session, demo):
    login(client, "producer@demo.test")
    form = {
        "year": str(YEAR),
        "waste_code": "999-999-99",
        "planned_generation_t": "12.5",
        "planned_transfer_t": "3",
        "intended_receiver_id": "",
        "note": "备注文字",
    }
    response = client.post("/plans/new", data=form, headers=EN)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'value="999-999-99"' in page and 'value="12.5"' in page and "备注文字" in page
    assert "Not a waste code of the catalogue in force on 1 January 2026." in page
    assert "Name the intended receiver of the planned transfer." in page
    bad = {
        **form,
        "waste_code": "900-249-08",
        "planned_generation_t": "abc",
        "planned_transfer_t": "-1",
    }
    response = client.post("/plans/new", data=bad, headers=EN)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'value="abc"' in page and "Enter a number" in page and "Must not be negative" in page
    # A field that does not parse does not hide the rules broken by the others.
    both = {**form, "planned_generation_t": "abc"}
    page = client.post("/plans/new", data=both, headers=EN).get_data(as_text=True)
    assert "Enter a number" in page
    assert "Not a waste code of the catalogue in force on 1 January 2026." in page
    assert "Name the intended receiver of the planned transfer." in page
    assert count_plans(session) == 0


def test_form_saves_in_tonnes_and_shows_the_licence_warning(client, session, demo):
    login(client, "producer@demo.test")
    form = {
        "year": str(YEAR),
        "waste_code": "841-001-01",
        "planned_generation_t": "0.3865",
        "planned_transfer_t": "0.3865",
        "intended_receiver_id": str(demo.orgs["receiver"].id),
        "note": "",
    }
    response = client.post("/plans/new", data=form, headers=EN)
    assert response.status_code == 302 and f"year={YEAR}" in response.location
    (plan,) = services.plans_for_year(session, demo.orgs["producer"].id, YEAR)
    assert plan.planned_generation_kg == Decimal("386.5")
    page = client.get(response.location, headers=EN).get_data(as_text=True)
    assert "flash-warning" in page and "does not cover 841-001-01" in page
    # Edit shows tonnes and saves changes; another producer cannot open it.
    edit = client.get(f"/plans/{plan.id}/edit", headers=EN).get_data(as_text=True)
    assert 'value="0.3865"' in edit
    response = client.post(
        f"/plans/{plan.id}/edit", headers=EN, data={**form, "planned_generation_t": "1"}
    )
    assert response.status_code == 302
    session.refresh(plan)
    assert plan.planned_generation_kg == Decimal("1000")
    client.post("/logout")
    login(client, "producer2@demo.test")
    assert client.get(f"/plans/{plan.id}/edit").status_code == 404
    assert client.post(f"/plans/{plan.id}/delete").status_code == 404
    client.post("/logout")
    login(client, "producer-staff@demo.test")
    response = client.post(f"/plans/{plan.id}/delete", headers=EN)
    assert response.status_code == 302
    assert count_plans(session) == 0


def test_import_page_lists_row_errors(client, session, demo):
    login(client, "producer@demo.test")
    raw = csv_bytes(
        [csv_row(demo), csv_row(demo, waste_code="900-041-49", planned_generation_t="x")]
    )
    response = client.post(
        "/plans/import", headers=EN, data={"file": (io.BytesIO(raw), "plan.csv")}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="import-errors"' in page and '<td class="num">3</td>' in page
    assert "planned_generation_t" in page
    assert count_plans(session) == 0
    response = client.post("/plans/import", headers=EN, data={})
    assert response.status_code == 422
    response = client.post(
        "/plans/import",
        headers=EN,
        data={"file": (io.BytesIO(csv_bytes([csv_row(demo)])), "plan.csv")},
    )
    assert response.status_code == 302 and f"year={YEAR}" in response.location
    assert count_plans(session) == 1


def test_template_download_imports_as_is(client, session, demo):
    login(client, "producer@demo.test")
    response = client.get(f"/plans/import/template.csv?year={YEAR + 1}")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.decode("utf-8-sig").splitlines()[0] == ",".join(CSV_COLUMNS)
    response = client.post("/plans/import", data={"file": (io.BytesIO(body), "t.csv")})
    assert response.status_code == 302
    assert services.plans_for_year(session, demo.orgs["producer"].id, YEAR + 1)


# -- API ----------------------------------------------------------------------------------------


def producer_api(client):
    return {**api_token(client, "producer@demo.test"), **EN}


def test_api_requires_a_producer_token(client, demo):
    assert client.get("/api/v1/plans").status_code == 401
    assert client.post("/api/v1/plans", json={}).status_code == 401
    assert client.delete("/api/v1/plans/1").status_code == 401
    assert client.post("/api/v1/plans/import", data=b"", content_type="text/csv").status_code == 401
    for email in ("carrier@demo.test", "receiver@demo.test", "regulator@demo.test"):
        headers = api_token(client, email)
        assert client.get("/api/v1/plans", headers=headers).status_code == 403
        assert client.post("/api/v1/plans", json={}, headers=headers).status_code == 403
        assert client.delete("/api/v1/plans/1", headers=headers).status_code == 403
        assert (
            client.post(
                "/api/v1/plans/import", headers=headers, data=b"x", content_type="text/csv"
            ).status_code
            == 403
        )


def test_api_create_update_list_delete(client, session, now, demo):
    headers = producer_api(client)
    body = {
        "year": YEAR,
        "waste_code": "841-001-01",
        "planned_generation_kg": "386.5",
        "planned_transfer_kg": "386.5",
        "intended_receiver_id": demo.orgs["receiver"].id,
    }
    response = client.post("/api/v1/plans", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    saved = response.get_json()["data"]
    assert saved["created"] is True and len(saved["warnings"]) == 1
    plan = saved["plan"]
    assert plan["planned_generation_kg"] == "386.500"
    assert plan["intended_receiver_uscc"] == demo.orgs["receiver"].uscc
    response = client.post(
        "/api/v1/plans",
        headers=headers,
        json={
            **body,
            "planned_generation_kg": 400,
            "intended_receiver_id": demo.orgs["receiver2"].id,
        },
    )
    assert response.status_code == 200
    assert response.get_json()["data"]["plan"]["id"] == plan["id"]
    assert response.get_json()["data"]["warnings"] == []

    org, user = demo.orgs["producer"], demo.users["producer"]
    ledger(session, now, org, user, date(YEAR, 2, 1), "100.25", code="841-001-01")
    ledger(session, now, org, user, date(YEAR - 1, 2, 1), "12000")
    session.commit()
    listing = client.get(f"/api/v1/plans?year={YEAR}", headers=headers).get_json()["data"]
    assert listing["year"] == YEAR
    (row,) = [r for r in listing["rows"] if r["waste_code"] == "841-001-01"]
    assert row["planned_generation_kg"] == "400.000"
    assert row["actual_generated_kg"] == "100.250"
    assert row["generation_pct"] == "25.1"
    assert row["actual_shipped_kg"] == "0.000" and row["transfer_pct"] == "0.0"
    tier = listing["tier"]
    assert tier["tier"] == "simplified"
    assert tier["deciding"] == {"year": YEAR - 1, "source": "actual", "generated_kg": "12000.000"}
    assert [f["year"] for f in tier["figures"]] == [YEAR - 3, YEAR - 2, YEAR - 1, YEAR]
    assert tier["key_supervision_min_kg"] == "100000"

    other = api_token(client, "producer2@demo.test")
    assert client.delete(f"/api/v1/plans/{plan['id']}", headers=other).status_code == 404
    response = client.delete(f"/api/v1/plans/{plan['id']}", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["data"] == {"id": plan["id"], "deleted": True}
    assert client.delete(f"/api/v1/plans/{plan['id']}", headers=headers).status_code == 404


def test_api_errors_are_422_with_fields_and_save_nothing(client, session, demo):
    headers = producer_api(client)
    response = client.post(
        "/api/v1/plans",
        headers=headers,
        json={
            "year": 1999,
            "waste_code": "9002490",
            "planned_generation_kg": "1.0001",
            "planned_transfer_kg": -1,
        },
    )
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert set(fields) == {"year", "waste_code", "planned_generation_kg", "planned_transfer_kg"}
    response = client.post(
        "/api/v1/plans",
        headers=headers,
        json={
            "year": YEAR,
            "waste_code": "900-249-08",
            "planned_generation_kg": "1",
            "planned_transfer_kg": "1",
            "intended_receiver_id": demo.orgs["producer2"].id,
        },
    )
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["intended_receiver_id"]
    assert client.post("/api/v1/plans", headers=headers, data="x").status_code == 422
    assert client.get("/api/v1/plans?year=abc", headers=headers).status_code == 422
    assert count_plans(session) == 0


def test_api_import_text_and_multipart(client, session, demo):
    headers = producer_api(client)
    bad = csv_bytes(
        [csv_row(demo), csv_row(demo, waste_code="841-001-01", planned_transfer_t="abc")]
    )
    response = client.post(
        "/api/v1/plans/import", headers=headers, data=bad, content_type="text/csv"
    )
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]["rows"]) == ["3"]
    assert count_plans(session) == 0
    good = csv_bytes([csv_row(demo), csv_row(demo, waste_code="841-001-01")], encoding="gb18030")
    response = client.post(
        "/api/v1/plans/import", headers=headers, data=good, content_type="text/csv"
    )
    assert response.status_code == 200, response.get_json()
    result = response.get_json()["data"]
    assert (result["created"], result["updated"], result["years"]) == (2, 0, [YEAR])
    assert list(result["warnings"]) == ["3"]
    response = client.post(
        "/api/v1/plans/import", headers=headers, data={"file": (io.BytesIO(good), "plan.csv")}
    )
    assert response.status_code == 200
    assert response.get_json()["data"]["updated"] == 2
    response = client.post("/api/v1/plans/import", headers=headers, json={"rows": []})
    assert response.status_code == 422
    assert "file" in response.get_json()["error"]["fields"]


def test_openapi_documents_the_plan_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/api/v1/plans"]) == {"get", "post"}
    assert "delete" in paths["/api/v1/plans/{id}"]
    assert "post" in paths["/api/v1/plans/import"]


def test_picked_up_manifest_counts_in_the_page(client, session, now, demo):
    services.save_plan(
        session,
        now,
        demo.users["producer"],
        with_receiver(
            demo, planned_generation_kg=Decimal("10000"), planned_transfer_kg=Decimal("3601")
        ),
    )
    picked_up(session, now, demo)
    picked_up(session, now - timedelta(days=1), demo)
    session.commit()
    login(client, "producer@demo.test")
    page = client.get(f"/plans/?year={YEAR}", headers=EN).get_data(as_text=True)
    assert "3.601" in page  # planned transfer, t
    assert "100.0 %" in page  # shipped 2 × 1800.5 kg of 3601 kg planned


def test_concurrent_insert_of_the_same_row_updates_it(session, now, demo, monkeypatch):
    """Another request saved the same year and code between our lookup and our insert: the
    unique constraint fires inside a savepoint and the other row is updated instead."""
    user = demo.users["producer"]
    first = services.save_plan(session, now, user, with_receiver(demo)).plan
    real_find = services._find
    calls = []

    def stale_find(*args):
        calls.append(args)
        return None if len(calls) == 1 else real_find(*args)

    monkeypatch.setattr(services, "_find", stale_find)
    result = services.save_plan(
        session, now, user, with_receiver(demo, planned_generation_kg=Decimal("7"))
    )
    assert not result.created and result.plan.id == first.id
    assert first.planned_generation_kg == Decimal("7")
    session.commit()  # the outer transaction survived the failed savepoint
    assert count_plans(session) == 1


def test_api_save_honours_idempotency_keys(client, session, demo):
    headers = {**producer_api(client), "Idempotency-Key": "plan-2026-oil"}
    body = {
        "year": YEAR,
        "waste_code": "900-249-08",
        "planned_generation_kg": "100",
        "planned_transfer_kg": "0",
    }
    first = client.post("/api/v1/plans", json=body, headers=headers)
    again = client.post("/api/v1/plans", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert count_plans(session) == 1
