"""Oversight pages: balances, flows, risk, inspection draws, dashboard, dossiers."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from hazwaste.audit.models import AuditEntry
from hazwaste.oversight import balances, scope
from hazwaste.oversight.models import InspectionDraw
from tests.conftest import login

CITY = "regulator@demo.test"
OTOG = "regulator-otog@demo.test"


@pytest.fixture()
def world(session, now) -> Any:
    """The demo world with a few weeks of manifests and a reconciliation run."""
    from hazwaste.demo.services import seed_demo

    w = seed_demo(session, now, history=True)
    session.commit()
    return w


PAGES = [
    "/oversight/",
    "/oversight/balances",
    "/oversight/flows",
    "/oversight/risk",
    "/oversight/inspections",
]


@pytest.mark.parametrize("url", PAGES)
def test_regulator_sees_each_page(client, world, url):
    login(client, CITY)
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:800]


@pytest.mark.parametrize("email", ["producer@demo.test", "receiver@demo.test", "driver@demo.test"])
@pytest.mark.parametrize("url", [*PAGES, "/oversight/dossiers/enterprise/1.pdf"])
def test_enterprises_are_refused(client, world, email, url):
    login(client, email)
    assert client.get(url).status_code == 403


def test_regulator_lands_on_dashboard(client, world):
    login(client, CITY)
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/oversight/")


def test_balances_table_chart_and_filters(client, world):
    login(client, CITY)
    page = client.get("/oversight/balances").get_data(as_text=True)
    assert "<svg" in page and "鄂尔多斯市恒源煤化工有限公司" in page
    assert "<script" not in page.split("<svg", 1)[1].split("</svg>", 1)[0]
    one = client.get("/oversight/balances?waste_code=900-249-08").get_data(as_text=True)
    assert "900-249-08" in one and "841-001-01" not in one.split("<tbody>", 1)[1]


def test_balances_bad_filter_is_422_with_message(client, world):
    login(client, CITY)
    response = client.get("/oversight/balances?month_from=2026-13&region=11")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "2026-13" in page  # what the user typed is kept


def test_region_outside_jurisdiction_is_refused(client, world):
    login(client, OTOG)
    response = client.get("/oversight/balances?region=150602")
    assert response.status_code == 422


def test_balances_sums_are_exact(session, world):
    f = balances.BalanceFilters(prefix="1506")
    rows = balances.rows(session, f)
    shipped = sum((r.shipped for r in rows), Decimal(0))
    from sqlalchemy import func

    from hazwaste.db import grams, kg_from_grams  # noqa: F401
    from hazwaste.manifests.models import Manifest, ManifestLine

    expected = session.scalar(
        select(func.sum(ManifestLine.loaded_kg))
        .join(Manifest)
        .where(Manifest.picked_up_at.is_not(None))
    )
    assert shipped == expected
    assert all(isinstance(r.shipped, Decimal) for r in rows)


def test_jurisdiction_limits_balances(session, world):
    otog = balances.rows(session, balances.BalanceFilters(prefix="150624"))
    assert otog and all(r.region_code.startswith("150624") for r in otog)


def test_stock_uses_last_count_then_ledger(session, world, now):
    from datetime import date

    from hazwaste.ledger.models import LedgerEntry, LedgerKind

    producer = world.orgs["producer"] if hasattr(world, "orgs") else None
    org_id = producer.id if producer is not None else 1
    user_id = world.users["producer"].id
    code = "900-041-49"

    def add(kind, qty, day):
        session.add(
            LedgerEntry(
                producer_id=org_id,
                waste_code=code,
                kind=kind,
                quantity_kg=Decimal(qty),
                occurred_on=day,
                created_by_id=user_id,
                created_at=now,
            )
        )

    add(LedgerKind.GENERATED, "100", date(2025, 1, 5))
    add(LedgerKind.SELF_USED, "10", date(2025, 1, 20))
    add(LedgerKind.GENERATED, "50", date(2025, 2, 3))
    add(LedgerKind.STOCK_COUNT, "120", date(2025, 3, 31))
    add(LedgerKind.STOCK_COUNT, "125", date(2025, 3, 10))
    add(LedgerKind.GENERATED, "5", date(2025, 4, 2))
    session.flush()
    rows = balances.rows(
        session,
        balances.BalanceFilters(
            prefix="1506",
            organization_id=org_id,
            waste_code=code,
            month_from="2025-01",
            month_to="2025-04",
        ),
    )
    stock = {r.month: r.stock for r in rows}
    assert stock == {
        "2025-01": Decimal("90.000"),
        "2025-02": Decimal("140.000"),
        "2025-03": Decimal("120.000"),  # the last count of the month
        "2025-04": Decimal("125.000"),  # that count + generated since
    }


def test_csv_and_xlsx_exports_follow_filters(client, world):
    login(client, CITY)
    response = client.get("/oversight/balances?format=csv&waste_code=900-249-08")
    assert response.status_code == 200
    body = response.get_data().decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(body)))
    assert len(table) > 1 and all(row[3] == "900-249-08" for row in table[1:])
    response = client.get("/oversight/balances?format=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    assert sheet.max_row > 1


def test_flow_matrix_totals(client, session, world):
    f = balances.BalanceFilters(prefix="1506")
    m = balances.flow_matrix(session, f)
    assert m.total == sum(m.row_totals.values()) == sum(m.col_totals.values())
    login(client, CITY)
    page = client.get("/oversight/flows").get_data(as_text=True)
    assert "鄂尔多斯市绿源环保科技有限公司" in page
    assert 'class="chart sankey"' in page and "<title>17.79 t</title>" in page


def test_risk_page_explains_and_links(client, world):
    login(client, CITY)
    page = client.get("/oversight/risk").get_data(as_text=True)
    assert "/flags/?organization_id=" in page
    assert "20" in page  # the critical weight is on the page


def _draw(client, **data):
    return client.post("/oversight/inspections", data={"n": "3", **data})


def test_draw_is_stored_audited_and_verifiable(client, session, world):
    login(client, CITY)
    response = _draw(client, seed="abc123", inspectors="all")
    assert response.status_code == 302, response.get_data(as_text=True)[:600]
    draw = session.scalars(select(InspectionDraw).order_by(InspectionDraw.id.desc())).first()
    assert draw.seed == "abc123" and len(json.loads(draw.result)) == 3
    assert session.scalar(
        select(AuditEntry).where(
            AuditEntry.object_type == "inspection_draw", AuditEntry.object_id == str(draw.id)
        )
    )
    page = client.get(f"/oversight/inspections/{draw.id}/verify").get_data(as_text=True)
    assert "abc123" in page and "flash-error" not in page
    # the same seed and inputs give the same list
    _draw(client, seed="abc123", inspectors="all")
    again = session.scalars(select(InspectionDraw).order_by(InspectionDraw.id.desc())).first()
    assert again.id != draw.id and again.result == draw.result


def test_published_draw_is_open_to_anyone_and_re_runs(client, session, world):
    login(client, CITY)
    _draw(client, seed="public-seed-1", inspectors="all")
    draw = session.scalars(select(InspectionDraw).order_by(InspectionDraw.id.desc())).first()
    assert f"/oversight/public/inspections/{draw.id}" in client.get(
        f"/oversight/inspections/{draw.id}"
    ).get_data(as_text=True)
    client.post("/logout")
    page = client.get(f"/oversight/public/inspections/{draw.id}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "public-seed-1" in html and 'action="/logout"' not in html
    picked = json.loads(draw.result)
    names = {o.id: o.name for o in world.orgs.values()}
    assert all(names[p["organization_id"]] in html for p in picked)
    verified = client.get(
        f"/oversight/public/inspections/{draw.id}?verify=1", headers={"Accept-Language": "en"}
    ).get_data(as_text=True)
    assert "Verified" in verified and "flash-error" not in verified
    assert client.get("/oversight/public/inspections/999999").status_code == 404


def test_draw_without_seed_gets_a_random_one(client, session, world):
    login(client, CITY)
    _draw(client, inspectors="all")
    draw = session.scalars(select(InspectionDraw).order_by(InspectionDraw.id.desc())).first()
    assert len(draw.seed) == 32


def test_draw_bad_input_is_422_and_stores_nothing(client, session, world):
    login(client, CITY)
    before = session.query(InspectionDraw).count()
    response = client.post("/oversight/inspections", data={"n": "0", "seed": "bad seed!"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "bad seed!" in page
    assert session.query(InspectionDraw).count() == before


def test_draw_of_another_body_is_404(client, session, world):
    login(client, CITY)
    _draw(client, inspectors="all")
    draw = session.scalars(select(InspectionDraw).order_by(InspectionDraw.id.desc())).first()
    client.post("/logout")
    login(client, OTOG)
    assert client.get(f"/oversight/inspections/{draw.id}").status_code == 404


def test_enterprise_outside_jurisdiction_dossier_is_404(client, session, world):
    login(client, OTOG)
    outside = world.orgs["producer2"] if hasattr(world, "orgs") else None
    org_id = outside.id if outside is not None else 2
    assert client.get(f"/oversight/dossiers/enterprise/{org_id}.pdf").status_code == 404


def test_scope_refuses_non_regulators(session, world):
    from hazwaste.errors import Forbidden

    with pytest.raises(Forbidden):
        scope.prefix_of(world.users["producer"])


def test_balances_per_region_sum_the_enterprises(session, world):
    by_org = balances.rows(session, balances.BalanceFilters(prefix="1506"))
    by_region = balances.rows(session, balances.BalanceFilters(prefix="1506", group="region"))
    assert sum(r.shipped for r in by_org) == sum(r.shipped for r in by_region)
    assert all(r.organization_id is None and r.name for r in by_region)


def test_dashboard_figures(session, world, now):
    from hazwaste.manifests.models import Manifest, ManifestLine, ManifestStatus
    from hazwaste.oversight import dashboard

    data = dashboard.build(session, now, "1506")
    in_transit = session.scalar(
        select(func.sum(ManifestLine.loaded_kg))
        .join(Manifest)
        .where(Manifest.status == ManifestStatus.IN_TRANSIT)
    )
    assert data.in_transit_kg == (in_transit or Decimal("0.000"))
    assert len(data.trend) == 12 and data.trend[-1].month == "2026-11"
    assert sum(data.open_by_severity.values()) > 0
    assert all(m.status is ManifestStatus.IN_TRANSIT for m in data.transit_overdue)


def test_dashboard_is_scoped_to_the_jurisdiction(session, world, now):
    from hazwaste.oversight import dashboard

    elsewhere = dashboard.build(session, now, "1101")  # Beijing: nothing of the demo
    assert elsewhere.in_transit_count == 0 and not elsewhere.top_unexplained
    assert sum(elsewhere.open_by_severity.values()) == 0


def test_enterprise_sees_its_own_balances_and_grade_only(client, world):
    login(client, "producer@demo.test")
    response = client.get("/oversight/own")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "900-249-08" in page and "grade-" in page
    assert "841-001-01" not in page  # the hospital's waste is not shown
    assert client.get("/oversight/own?month_from=13").status_code == 422


@pytest.mark.parametrize("email", [CITY, "driver@demo.test"])
def test_own_page_is_for_enterprise_office_staff(client, world, email):
    login(client, email)
    assert client.get("/oversight/own").status_code == 403


def test_enterprise_filter_outside_jurisdiction_is_422(client, world):
    login(client, OTOG)
    outside = world.orgs["producer2"]
    response = client.get(f"/oversight/balances?organization_id={outside.id}")
    assert response.status_code == 422
    assert "鄂尔多斯市康宁医院" not in response.get_data(as_text=True).split("<tbody>", 1)[1]
