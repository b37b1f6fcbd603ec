"""Reference data: what is loaded, editions as data, search, catalogue pages, the CLI."""

from __future__ import annotations

import csv
import shutil
from datetime import date

import pytest
from sqlalchemy import func, select

from hazwaste.catalog import services
from hazwaste.catalog.models import (
    CatalogEdition,
    Exemption,
    Region,
    TreatmentMethod,
    WasteCategory,
    WasteCode,
)
from tests.conftest import login

EN = {"Accept-Language": "en"}
REFERENCE_TABLES = (CatalogEdition, WasteCategory, WasteCode, Exemption, TreatmentMethod, Region)


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def counts(session) -> dict[str, int]:
    return {model.__tablename__: count(session, model) for model in REFERENCE_TABLES}


# -- what is loaded ------------------------------------------------------------------------------


def test_reference_data_counts(session):
    assert count(session, CatalogEdition) == 1
    edition = session.get(CatalogEdition, "2021")
    assert edition.effective_from == date(2021, 1, 1)
    assert "2021" in edition.name
    assert count(session, WasteCode, WasteCode.edition_code == "2021") == 467
    assert count(session, WasteCategory, WasteCategory.edition_code == "2021") == 46
    assert count(session, Exemption, Exemption.edition_code == "2021") == 57
    assert count(session, TreatmentMethod) == 22
    assert count(session, Region) == 3213


def test_catalogue_content(session):
    codes = session.scalars(select(WasteCode).where(WasteCode.edition_code == "2021")).all()
    # Every code is NNN-NNN-NN and ends with its category number (HW08 → -08).
    assert all(len(c.code) == 10 and c.code[3] == c.code[7] == "-" for c in codes)
    assert all(c.code.endswith(c.category[2:]) for c in codes)
    assert len({c.code for c in codes}) == 467
    categories = {c.code for c in session.scalars(select(WasteCategory))}
    assert categories == {f"HW{n:02d}" for n in [*range(1, 41), *range(45, 51)]}
    oil = services.get_waste_code(session, "900-249-08", date(2026, 1, 1))
    assert oil.category_name.startswith("废矿物油") and oil.hazards == ["T", "I"]
    assert oil.compact_code == "90024908"


def test_regions(session):
    otog = session.get(Region, "150624")
    assert (otog.name, otog.level, otog.parent_code) == ("鄂托克旗", "county", "150600")
    assert otog.parent.name == "鄂尔多斯市"
    assert otog.parent.parent.code == "150000"
    assert [r.code for r in services.region_path(session, "150624")] == [
        "150000",
        "150600",
        "150624",
    ]
    assert services.region_label(session, "150624") == "内蒙古自治区 鄂尔多斯市 鄂托克旗"
    assert otog.prefix == "150624"
    assert otog.parent.prefix == "1506"
    assert otog.parent.parent.prefix == "15"
    provinces = count(session, Region, Region.level == "province")
    assert provinces == count(session, Region, Region.parent_code.is_(None)) > 30


def test_methods(session):
    methods = {m.code: m for m in services.methods(session)}
    assert {"R1", "D1", "D10", "C3"} <= set(methods)
    assert not methods["D10"].provisional
    assert all(m.kind in ("利用", "处置", "其他") for m in methods.values())


# -- editions are data ------------------------------------------------------------------------


FAKE_2025 = [
    # category, category_name, industry_source, waste_code, description, hazard, hazard_raw
    (
        "HW48",
        "有色金属采选和冶炼废物",
        "常用有色金属冶炼",
        "321-038-48",
        "锡冶炼过程中产生的测试废渣",
        "T",
        "T",
    ),
    (
        "HW08",
        "废矿物油与含矿物油废物",
        "非特定行业",
        "900-249-08",
        "测试用：其他废矿物油（2025年版）",
        "T,I",
        "T,I",
    ),
    (
        "HW49",
        "其他废物",
        "非特定行业",
        "900-041-49",
        "测试用：含有或沾染毒性危险废物的包装物",
        "T,In",
        "T/In",
    ),
]


def write_data_dir(tmp_path):
    """A data directory with the real 2021 files plus a made-up, three-row 2025 edition."""
    for name in (
        "regions.csv",
        "treatment_methods.csv",
        "hw_catalog_2021.csv",
        "hw_exemptions_2021.csv",
    ):
        shutil.copy(services.DATA_DIR / name, tmp_path / name)
    with (services.DATA_DIR / "editions.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows.append(
        {
            "code": "2025",
            "name": "国家危险废物名录（2025年版）（测试）",
            "decree": "部令第36号",
            "effective_from": "2025-01-01",
            "catalog_file": "hw_catalog_2025.csv",
            "exemptions_file": "",
            "source": "test fixture",
        }
    )
    with (tmp_path / "editions.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with (tmp_path / "hw_catalog_2025.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            [
                "category",
                "category_name",
                "industry_source",
                "waste_code",
                "description",
                "hazard",
                "hazard_raw",
            ]
        )
        writer.writerows(FAKE_2025)
    return tmp_path


def test_a_new_edition_loads_beside_2021_without_code_changes(session, tmp_path):
    report = services.load_reference_data(session, write_data_dir(tmp_path))
    assert report.editions == 2
    assert report.waste_codes == 467 + 3
    assert count(session, WasteCode, WasteCode.edition_code == "2021") == 467
    assert count(session, WasteCode, WasteCode.edition_code == "2025") == 3
    assert count(session, WasteCategory, WasteCategory.edition_code == "2025") == 3
    assert count(session, Exemption, Exemption.edition_code == "2021") == 57

    assert services.edition_on(session, date(2020, 12, 31)) is None
    assert services.edition_on(session, date(2021, 1, 1)).code == "2021"
    assert services.edition_on(session, date(2024, 12, 31)).code == "2021"
    assert services.edition_on(session, date(2025, 1, 1)).code == "2025"
    assert services.edition_on(session, date(2031, 6, 1)).code == "2025"

    # The same code means what its edition says on the date in question.
    old = services.get_waste_code(session, "900-249-08", date(2024, 12, 31))
    new = services.get_waste_code(session, "900-249-08", date(2025, 1, 1))
    assert (old.edition_code, new.edition_code) == ("2021", "2025")
    assert new.description.endswith("（2025年版）") and old.description != new.description
    # A code only in 2025 does not exist before it, and the reverse.
    assert services.get_waste_code(session, "321-038-48", date(2024, 12, 31)) is None
    assert services.get_waste_code(session, "321-038-48", date(2025, 3, 1)) is not None
    assert services.get_waste_code(session, "841-001-01", date(2025, 3, 1)) is None
    assert [w.code for w in services.search_waste_codes(session, "锡冶炼", date(2025, 3, 1))] == [
        "321-038-48"
    ]
    assert [w.code for w in services.search_waste_codes(session, "", date(2025, 3, 1))] == [
        "321-038-48",
        "900-249-08",
        "900-041-49",
    ]
    assert [c.code for c in services.categories(session, date(2025, 3, 1))] == [
        "HW08",
        "HW48",
        "HW49",
    ]
    assert len(services.categories(session, date(2024, 3, 1))) == 46

    # Loading the same directory again changes nothing.
    before = counts(session)
    services.load_reference_data(session, tmp_path)
    assert counts(session) == before


def test_reloading_updates_changed_rows(session, tmp_path):
    write_data_dir(tmp_path)
    services.load_reference_data(session, tmp_path)
    changed = [list(row) for row in FAKE_2025]
    changed[0][4] = "锡冶炼废渣（更正后）"
    with (tmp_path / "hw_catalog_2025.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            [
                "category",
                "category_name",
                "industry_source",
                "waste_code",
                "description",
                "hazard",
                "hazard_raw",
            ]
        )
        writer.writerows(changed)
    services.load_reference_data(session, tmp_path)
    row = services.get_waste_code(session, "321-038-48", date(2025, 3, 1))
    assert row.description == "锡冶炼废渣（更正后）"
    assert count(session, WasteCode, WasteCode.edition_code == "2025") == 3


# -- search -------------------------------------------------------------------------------------


ON = date(2026, 1, 1)


def found(session, q, category=None, limit=None) -> list[str]:
    return [w.code for w in services.search_waste_codes(session, q, ON, category, limit)]


def test_search_by_code(session):
    assert found(session, "900-041-49") == ["900-041-49"]
    assert found(session, "90004149") == ["900-041-49"]
    assert found(session, " 900 041 49 ") == ["900-041-49"]
    assert found(session, "900-041") == found(session, "900041") == ["900-041-49"]
    assert all(c.startswith("841-") for c in found(session, "841"))
    assert found(session, "999-999-99") == []


def test_search_by_category_and_text(session):
    hw01 = found(session, "HW01")
    assert hw01 == found(session, "hw01") == found(session, "", "hw01")
    assert hw01 == ["841-001-01", "841-002-01", "841-003-01", "841-004-01", "841-005-01"]
    # "hw1" is HW01 and also text containing "HW1…" in any case, on both databases.
    assert found(session, "hw1") == [*hw01, "261-084-45"]
    # (best match first: the earlier "PCBs" appears in the description, the higher)
    assert (
        sorted(found(session, "pcbs"))
        == sorted(found(session, "PCBs"))
        == ["900-008-10", "900-009-10", "900-010-10", "900-011-10"]
    )
    assert "900-249-08" in found(session, "废矿物油")
    assert found(session, "感染性废物") == ["841-001-01"]
    assert found(session, "废矿物油", "HW49") == [
        c for c in found(session, "废矿物油") if c.endswith("-49")
    ]
    assert len(found(session, "", limit=5)) == 5
    assert len(found(session, "")) == 467
    assert found(session, "%") == found(session, "_") == []


def test_region_search(session):
    assert [r.code for r in services.search_regions(session, "1506")][:2] == ["150600", "150602"]
    assert "150624" in [r.code for r in services.search_regions(session, "鄂托克")]
    assert services.search_regions(session, "") == []
    assert services.search_regions(session, "%") == []


# -- pages ------------------------------------------------------------------------------------


PAGES = [
    "/catalog/waste-codes",
    "/catalog/waste-codes?q=HW08",
    "/catalog/waste-codes?category=HW01",
    "/catalog/waste-codes/900-249-08",
    "/catalog/methods",
    "/catalog/waste-codes.json?q=废矿物油",
    "/catalog/regions.json?q=鄂托克",
]


@pytest.mark.parametrize("url", PAGES)
def test_catalogue_pages_need_login(client, session, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_catalogue_pages_for_logged_in_users(client, session, demo):
    login(client, "driver@demo.test")
    for url in PAGES:
        response = client.get(url, headers=EN)
        assert response.status_code == 200, url
    page = client.get("/catalog/waste-codes?q=900-249", headers=EN).get_data(as_text=True)
    assert "900-249-08" in page and "1 waste code" in page
    page = client.get("/catalog/waste-codes", headers=EN).get_data(as_text=True)
    assert "467 waste codes" in page and "国家危险废物名录（2021年版）" in page
    page = client.get("/catalog/waste-codes/900-249-08", headers=EN).get_data(as_text=True)
    assert "废矿物油" in page
    page = client.get("/catalog/methods", headers=EN).get_data(as_text=True)
    assert "D10" in page and "R1" in page
    data = client.get("/catalog/waste-codes.json?q=90024908").get_json()["data"]
    assert [row["code"] for row in data] == ["900-249-08"]
    data = client.get("/catalog/regions.json?q=鄂托克旗").get_json()["data"]
    assert data == [
        {"code": "150624", "name": "鄂托克旗", "level": "county", "parent_code": "150600"}
    ]


def test_catalogue_bad_input(client, session, demo):
    login(client, "producer@demo.test")
    response = client.get("/catalog/waste-codes?on=someday", headers=EN)
    assert response.status_code == 422
    assert "Some search fields are not valid." in response.get_data(as_text=True)
    response = client.get("/catalog/waste-codes.json?q=" + "x" * 101)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"q"}
    assert client.get("/catalog/waste-codes/not-a-code", headers=EN).status_code == 404


# -- CLI --------------------------------------------------------------------------------------


def test_load_reference_cli_is_idempotent(app, session):
    runner = app.test_cli_runner()
    before = counts(session)
    first = runner.invoke(args=["load-reference"])
    assert first.exit_code == 0, first.output
    assert (
        "3213 regions, 22 treatment methods, 1 catalogue edition(s) with 467 waste codes "
        "and 57 exemption rows" in first.output
    )
    session.expire_all()
    assert counts(session) == before
    assert "23 holiday schedule year(s) written" in first.output  # 2004–2026, once
    second = runner.invoke(args=["load-reference"])
    assert second.exit_code == 0
    assert second.output == first.output.replace("23 holiday", "0 holiday")
    session.expire_all()
    assert counts(session) == before
