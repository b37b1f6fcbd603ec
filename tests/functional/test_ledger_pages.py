"""Producer pages for containers and the ledger: access by role, forms, CSV import, history,
scan route, entries with CSV/XLSX exports, monthly summary."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import func, select

from hazwaste.ledger import services
from hazwaste.ledger.models import Container, ContainerStatus, LedgerEntry, LedgerKind
from hazwaste.ledger.schemas import CSV_COLUMNS
from hazwaste.manifests import lifecycle
from hazwaste.manifests import services as manifest_services
from tests.conftest import login
from tests.manifest_factories import draft_data, pickup_data, receipt_data

EN = {"Accept-Language": "en"}
PRODUCER_PAGES = [
    "/containers/",
    "/containers/new",
    "/containers/import",
    "/containers/import/template.csv",
    "/ledger/",
    "/ledger/summary",
]


def row(**overrides):
    data = {
        "waste_code": "900-249-08",
        "waste_name": "废矿物油",
        "physical_form": "liquid",
        "hazards": ["T", "I"],
        "main_components": "矿物油",
        "harmful_components": "石油烃",
        "packaging_type": "drum",
        "net_weight_kg": Decimal("180.5"),
        "generation_date": date(2026, 11, 2),
        "source_process": "设备检修",
    }
    data.update(overrides)
    return data


def register(session, now, demo, *rows, user="producer"):
    made = services.register_containers(
        session, now, demo.users[user], list(rows) or [row()], now.date()
    )
    session.commit()
    return made


def count_containers(session):
    return session.scalar(select(func.count()).select_from(Container))


def csv_bytes(rows, columns=CSV_COLUMNS, encoding="utf-8"):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for r in rows:
        writer.writerow([r.get(c, "") for c in columns])
    return out.getvalue().encode(encoding)


def csv_row(**overrides):
    data = {
        "waste_code": "900-249-08",
        "waste_name": "废矿物油",
        "physical_form": "liquid",
        "hazards": "T,I",
        "main_components": "矿物油",
        "harmful_components": "",
        "packaging_type": "drum",
        "net_weight_kg": "180.5",
        "generation_date": "2026-11-02",
        "source_process": "检修",
    }
    data.update(overrides)
    return data


def upload(client, body, name="containers.csv"):
    return client.post(
        "/containers/import",
        data={"file": (io.BytesIO(body), name)},
        content_type="multipart/form-data",
        headers=EN,
    )


# -- access ---------------------------------------------------------------------------------


def test_producer_staff_see_the_pages(client, demo):
    login(client, "producer@demo.test")
    for url in PRODUCER_PAGES:
        assert client.get(url, headers=EN).status_code == 200, url
    nav = client.get("/containers/", headers=EN).get_data(as_text=True)
    assert 'href="/containers/"' in nav and 'href="/ledger/"' in nav


@pytest.mark.parametrize(
    "email", ["carrier@demo.test", "receiver@demo.test", "regulator@demo.test", "driver@demo.test"]
)
def test_other_roles_get_403(client, demo, email):
    login(client, email)
    for url in PRODUCER_PAGES:
        assert client.get(url, headers=EN).status_code == 403, url
    assert client.post("/ledger/", data={}, headers=EN).status_code == 403
    page = client.get("/manifests/", headers=EN).get_data(as_text=True)
    assert 'href="/containers/"' not in page


def test_anonymous_is_sent_to_login(client, demo):
    for url in PRODUCER_PAGES:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.location, url


def test_other_producer_gets_404_for_a_container(client, session, now, demo):
    (container,) = register(session, now, demo)
    login(client, "producer2@demo.test")
    assert client.get(f"/containers/{container.id}", headers=EN).status_code == 404
    assert client.get(f"/containers/{container.code}", headers=EN).status_code == 404
    assert client.get(f"/c/{container.code}", headers=EN).status_code == 404
    assert client.get("/c/not-a-code", headers=EN).status_code == 404
    response = client.post(
        f"/containers/{container.id}/self-dispose", data={"method_code": "R2", "on": "2026-11-10"}
    )
    assert response.status_code == 404
    session.refresh(container)
    assert container.status is ContainerStatus.STORED


# -- the label's short URL ----------------------------------------------------------------------


def test_scan_route_redirects_to_the_container_page(client, session, now, demo):
    (container,) = register(session, now, demo)
    response = client.get(f"/c/{container.code}")
    assert response.status_code == 302 and "/login" in response.location
    assert f"next=%2Fc%2F{container.code}" in response.location
    login(client, "producer@demo.test")
    response = client.get(f"/c/{container.code.lower()}")
    assert response.status_code == 302
    assert response.location.endswith(f"/containers/{container.id}")


def test_regulator_in_jurisdiction_opens_the_container_by_scanning(client, session, now, demo):
    (container,) = register(session, now, demo)
    login(client, "regulator-otog@demo.test")
    response = client.get(f"/c/{container.code}", headers=EN, follow_redirects=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert container.code in page and "Filled and labelled" in page
    assert "Use or dispose of on site" not in page  # regulators only look


# -- registration form ----------------------------------------------------------------------


def form(**overrides):
    data = {
        "waste_code": "900-249-08",
        "waste_name": "废矿物油",
        "physical_form": "liquid",
        "hazards": ["T", "I"],
        "packaging_type": "drum",
        "net_weight_kg": "180.5",
        "generation_date": "2026-11-02",
        "source_process": "设备检修",
    }
    data.update(overrides)
    return data


def test_register_one_container_by_form(client, session, demo):
    login(client, "producer@demo.test")
    page = client.get("/containers/new", headers=EN).get_data(as_text=True)
    assert "container-form.js" in page and 'list="waste-codes"' in page
    response = client.post("/containers/new", data=form(), headers=EN)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    container = session.scalars(select(Container)).one()
    assert len(container.code) == 37
    assert container.code == f"{demo.orgs['producer'].uscc}9002490820261102001"
    assert container.net_weight_kg == Decimal("180.500")
    assert container.hazard_list == ["T", "I"]
    assert response.location.endswith(f"/containers/{container.id}")
    page = client.get(response.location, headers=EN).get_data(as_text=True)
    assert container.code in page and "Filled and labelled" in page and "Into storage" in page


def test_form_errors_keep_values_and_save_nothing(client, session, demo):
    login(client, "producer@demo.test")
    response = client.post(
        "/containers/new",
        data=form(waste_code="999-999-99", waste_name="我的废物", packaging_type="", hazards=["C"]),
        headers=EN,
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'value="999-999-99"' in page and 'value="我的废物"' in page
    assert 'value="C" class="js-hazard" checked' in page
    assert "packaging_type-error" in page or "Choose one of the listed values" in page
    assert count_containers(session) == 0
    # schema passes, service rule fails (code not in the catalogue): same re-render
    response = client.post("/containers/new", data=form(waste_code="999-999-99"), headers=EN)
    assert response.status_code == 422
    assert "Not a waste code of the catalogue" in response.get_data(as_text=True)
    response = client.post("/containers/new", data=form(generation_date="2027-01-01"), headers=EN)
    assert response.status_code == 422 and "in the future" in response.get_data(as_text=True)
    response = client.post("/containers/new", data=form(net_weight_kg="0.0001"), headers=EN)
    assert response.status_code == 422 and 'value="0.0001"' in response.get_data(as_text=True)
    assert count_containers(session) == 0
    assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 0


# -- CSV import -----------------------------------------------------------------------------


def test_import_template_lists_the_columns(client, demo):
    login(client, "producer@demo.test")
    response = client.get("/containers/import/template.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    header = next(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert tuple(header) == CSV_COLUMNS
    page = client.get("/containers/import", headers=EN).get_data(as_text=True)
    assert "/containers/import/template.csv" in page
    for column in CSV_COLUMNS:
        assert f"<code>{column}</code>" in page


def test_import_is_all_or_nothing_and_names_line_and_field(client, session, demo):
    login(client, "producer@demo.test")
    rows = [csv_row(net_weight_kg=str(100 + i)) for i in range(60)]
    rows[41] = csv_row(net_weight_kg="-3")  # line 43 of the file (the header is line 1)
    rows[7] = csv_row(waste_code="999-999-99")  # schema passes; the catalogue check fails
    rows[50] = csv_row(generation_date="2027-01-01")  # in the future
    response = upload(client, csv_bytes(rows))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Nothing was imported: 3 rows have errors." in page
    assert '<td class="num">9</td><td><code>waste_code</code></td>' in page
    assert '<td class="num">43</td><td><code>net_weight_kg</code></td>' in page
    assert '<td class="num">52</td><td><code>generation_date</code></td>' in page
    assert count_containers(session) == 0
    assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
    rows[7] = rows[41] = rows[50] = csv_row()
    response = upload(client, csv_bytes(rows))
    assert response.status_code == 302
    assert count_containers(session) == 60
    codes = session.scalars(select(Container.code).order_by(Container.sequence)).all()
    assert [c[-3:] for c in codes] == [f"{i:03d}" for i in range(1, 61)]
    generated = session.scalar(select(func.count()).where(LedgerEntry.kind == LedgerKind.GENERATED))
    assert generated == 60


def test_import_accepts_gb18030_from_excel(client, session, demo):
    login(client, "producer@demo.test")
    body = csv_bytes(
        [csv_row(waste_name="废矿物油与含矿物油废物", source_process="机修车间")],
        encoding="gb18030",
    )
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    response = upload(client, body)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    container = session.scalars(select(Container)).one()
    assert container.waste_name == "废矿物油与含矿物油废物"
    assert container.source_process == "机修车间"


def test_import_missing_column_or_file_is_a_clear_error(client, session, demo):
    login(client, "producer@demo.test")
    columns = tuple(c for c in CSV_COLUMNS if c != "net_weight_kg")
    response = upload(client, csv_bytes([csv_row()], columns=columns))
    assert response.status_code == 422
    assert "Missing columns: net_weight_kg" in response.get_data(as_text=True)
    response = client.post("/containers/import", data={}, headers=EN)
    assert response.status_code == 422 and "Choose a CSV file" in response.get_data(as_text=True)
    response = upload(client, b"\xff\xfe\x00garbage\x81")
    assert response.status_code == 422
    assert count_containers(session) == 0


# -- container history and self-disposal ----------------------------------------------------------


def test_container_page_shows_its_whole_life(client, session, now, demo):
    made = register(session, now, demo, row(), row())
    data = draft_data(
        demo, (now + timedelta(days=1)).date(), lines=[], container_ids=[c.id for c in made]
    )
    manifest = manifest_services.create_draft(session, now, demo.users["producer"], data)
    lifecycle.submit(session, now, manifest, demo.users["producer"])
    vehicle = demo.extra["vehicles"][0]
    lifecycle.pickup(
        session,
        now + timedelta(hours=1),
        manifest,
        demo.users["driver"],
        {**pickup_data(manifest, vehicle.id), "container_codes": [c.code for c in made]},
    )
    lifecycle.deliver(session, now + timedelta(hours=3), manifest, demo.users["driver"], {})
    lifecycle.receive(
        session,
        now + timedelta(hours=4),
        manifest,
        demo.users["receiver"],
        {**receipt_data(manifest), "container_codes": [made[0].code]},
    )
    session.commit()
    login(client, "producer@demo.test")
    page = client.get(f"/containers/{made[0].id}", headers=EN).get_data(as_text=True)
    for text in (
        "Filled and labelled",
        "Into storage",
        "Put on a manifest",
        "Loaded and picked up",
        "Arrived at the receiver",
        "Received",
        vehicle.plate,
        manifest.number,
        f'href="/manifests/{manifest.id}"',
    ):
        assert text in page, text
    page = client.get(f"/containers/{made[1].id}", headers=EN).get_data(as_text=True)
    assert "Not found at receipt" in page
    # the receiver, a party of the manifest, may open the container too
    client.post("/logout")
    login(client, "receiver@demo.test")
    assert client.get(f"/c/{made[0].code}", headers=EN, follow_redirects=True).status_code == 200


def test_self_dispose_form(client, session, now, demo):
    (container,) = register(session, now, demo)
    login(client, "producer@demo.test")
    page = client.get(f"/containers/{container.id}", headers=EN).get_data(as_text=True)
    assert "Use or dispose of on site" in page
    url = f"/containers/{container.id}/self-dispose"
    response = client.post(
        url, data={"method_code": "", "on": "2026-11-10", "note": "焚烧"}, headers=EN
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'value="焚烧"' in page and 'value="2026-11-10"' in page
    response = client.post(url, data={"method_code": "R2", "on": "2026-10-01"}, headers=EN)
    assert response.status_code == 422
    assert "before the container was filled" in response.get_data(as_text=True)
    response = client.post(url, data={"method_code": "NOPE", "on": "2026-11-10"}, headers=EN)
    assert response.status_code == 422
    session.refresh(container)
    assert container.status is ContainerStatus.STORED
    response = client.post(url, data={"method_code": "R2", "on": "2026-11-10"}, headers=EN)
    assert response.status_code == 302
    session.refresh(container)
    assert container.status is ContainerStatus.SELF_DISPOSED
    used = session.scalars(
        select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.SELF_USED)
    ).one()
    assert used.quantity_kg == Decimal("180.500") and used.method_code == "R2"
    page = client.get(f"/containers/{container.id}", headers=EN).get_data(as_text=True)
    assert "method R2" in page and "Use or dispose of on site</h2>" not in page
    response = client.post(url, data={"method_code": "R2", "on": "2026-11-10"}, headers=EN)
    assert response.status_code == 409


# -- list -----------------------------------------------------------------------------------


def test_container_list_filters_and_totals(client, session, now, demo):
    register(
        session,
        now,
        demo,
        row(net_weight_kg=Decimal("0.1")),
        row(net_weight_kg=Decimal("0.2")),
        row(
            waste_code="900-041-49",
            waste_name="废包装桶",
            physical_form="solid",
            hazards=["T"],
            net_weight_kg=Decimal("60"),
        ),
    )
    register(session, now, demo, row(net_weight_kg=Decimal("5")), user="producer2")
    login(client, "producer@demo.test")
    page = client.get("/containers/", headers=EN).get_data(as_text=True)
    assert "3 containers" in page and "60.3 kg" in page
    page = client.get("/containers/?waste_code=900-041-49", headers=EN).get_data(as_text=True)
    assert "900041492026110200" in page and "900249082026110200" not in page
    page = client.get("/containers/?q=20261102002", headers=EN).get_data(as_text=True)
    assert page.count("<code ") == 1
    assert client.get("/containers/?status=nonsense", headers=EN).status_code == 422


# -- ledger entries, exports, summary -------------------------------------------------------


def entry_form(**overrides):
    data = {
        "waste_code": "900-249-08",
        "kind": "generated",
        "quantity_kg": "12.345",
        "occurred_on": "2026-11-05",
        "method_code": "",
        "note": "",
    }
    data.update(overrides)
    return data


def test_direct_entry_form(client, session, demo):
    login(client, "producer@demo.test")
    response = client.post("/ledger/", data=entry_form(), headers=EN)
    assert response.status_code == 302
    entry = session.scalars(select(LedgerEntry)).one()
    assert entry.quantity_kg == Decimal("12.345") and entry.kind is LedgerKind.GENERATED
    response = client.post(
        "/ledger/",
        data=entry_form(kind="self_used", quantity_kg="7.5", note="自行焚烧"),
        headers=EN,
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Give the utilisation or disposal method" in page
    assert 'value="7.5"' in page and 'value="自行焚烧"' in page
    response = client.post("/ledger/", data=entry_form(kind="shipped_out"), headers=EN)
    assert response.status_code == 422
    response = client.post("/ledger/", data=entry_form(quantity_kg="abc"), headers=EN)
    assert response.status_code == 422
    assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
    response = client.post(
        "/ledger/", data=entry_form(kind="stock_count", quantity_kg="0"), headers=EN
    )
    assert response.status_code == 302


def test_entries_filter_and_export_csv_and_xlsx(client, session, now, demo):
    register(
        session,
        now,
        demo,
        row(net_weight_kg=Decimal("0.1")),
        row(net_weight_kg=Decimal("100.333"), generation_date=date(2026, 10, 31)),
    )
    services.add_entry(
        session,
        now,
        demo.users["producer"],
        {
            "waste_code": "900-249-08",
            "kind": "self_used",
            "quantity_kg": Decimal("0.2"),
            "occurred_on": date(2026, 11, 5),
            "method_code": "R2",
            "note": '=HYPERLINK("x")',
        },
    )
    session.commit()
    login(client, "producer@demo.test")
    page = client.get("/ledger/?kind=generated", headers=EN).get_data(as_text=True)
    assert "2 entries" in page
    query = "kind=generated&date_from=2026-11-01&date_to=2026-11-30"
    page = client.get(f"/ledger/?{query}", headers=EN).get_data(as_text=True)
    assert "1 entry" in page
    assert f'href="/ledger/?format=csv&amp;{query.replace("&", "&amp;")}"' in page
    response = client.get(f"/ledger/?{query}&format=csv", headers=EN)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.get_data().startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0][:4] == ["Date", "Waste code", "Kind", "Quantity (kg)"]
    assert len(rows) == 2 and rows[1][:4] == ["2026-11-02", "900-249-08", "Waste generated", "0.1"]
    response = client.get("/ledger/?format=csv", headers=EN)
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert len(rows) == 1 + 5  # two containers × (generated, stored in) + one self-use
    used = next(r for r in rows if r[2] == "Used or disposed of on site")
    assert used[3] == "0.2" and used[6] == "R2" and used[7].startswith("'=")  # no formula
    response = client.get(f"/ledger/?{query}&format=xlsx", headers=EN)
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert values[0][:4] == ["Date", "Waste code", "Kind", "Quantity (kg)"]
    assert len(values) == 2
    assert values[1][0].date() == date(2026, 11, 2)
    assert Decimal(str(values[1][3])) == Decimal("0.1")
    assert sheet.cell(row=2, column=4).number_format == "#,##0.000"
    response = client.get("/ledger/?format=xlsx", headers=EN)
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
    notes = [r[7].value for r in sheet.iter_rows(min_row=2)]
    assert '=HYPERLINK("x")' in notes  # text, not a formula
    assert client.get("/ledger/?date_from=yesterday", headers=EN).status_code == 422


def test_summary_page_balances_across_a_month_boundary(client, session, now, demo):
    register(
        session,
        now,
        demo,
        row(net_weight_kg=Decimal("0.1"), generation_date=date(2026, 10, 31)),
        row(net_weight_kg=Decimal("0.2"), generation_date=date(2026, 11, 1)),
        row(
            waste_code="900-041-49",
            waste_name="废包装桶",
            physical_form="solid",
            hazards=["T"],
            net_weight_kg=Decimal("1.005"),
            generation_date=date(2026, 11, 3),
        ),
    )
    services.add_entry(
        session,
        now,
        demo.users["producer"],
        {
            "waste_code": "900-249-08",
            "kind": "self_used",
            "quantity_kg": Decimal("0.3"),
            "occurred_on": date(2026, 11, 19),
            "method_code": "R2",
            "note": "",
        },
    )
    session.commit()
    login(client, "producer@demo.test")
    page = client.get("/ledger/summary?year=2026&month=11", headers=EN).get_data(as_text=True)
    assert "2026-11" in page and "?year=2026&amp;month=10" in page
    response = client.get("/ledger/summary?year=2026&month=11&format=csv", headers=EN)
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[1] == ["900-041-49", "0", "1.005", "0", "0", "1.005"]
    assert rows[2] == ["900-249-08", "0.1", "0.2", "0", "0.3", "0"]
    assert rows[3] == ["Total", "0.1", "1.205", "0", "0.3", "1.005"]
    october = client.get("/ledger/summary?year=2026&month=10&format=xlsx", headers=EN)
    sheet = openpyxl.load_workbook(io.BytesIO(october.get_data())).active
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert values[1][0] == "900-249-08"
    assert [Decimal(str(v)) for v in values[1][1:]] == [
        Decimal(0),
        Decimal("0.1"),
        0,
        0,
        Decimal("0.1"),
    ]
    assert values[-1][0] == "Total"
    december = client.get("/ledger/summary?year=2026&month=12&format=csv", headers=EN)
    rows = list(csv.reader(io.StringIO(december.get_data().decode("utf-8-sig"))))
    assert rows[-1] == ["Total", "1.005", "0", "0", "0", "1.005"]
    assert client.get("/ledger/summary?month=13", headers=EN).status_code == 422


def test_import_of_10000_rows_through_the_page(client, session, demo):
    login(client, "producer@demo.test")
    rows = [
        csv_row(net_weight_kg=f"{1 + i / 1000:.3f}", generation_date=f"2026-11-{1 + i % 19:02d}")
        for i in range(10_000)
    ]
    body = csv_bytes(rows)
    assert len(body) > 750_000
    response = upload(client, body)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert count_containers(session) == 10_000
    balances = services.monthly_summary(session, demo.orgs["producer"].id, 2026, 11)
    assert balances[0].generated_kg == sum((Decimal(r["net_weight_kg"]) for r in rows), Decimal(0))
