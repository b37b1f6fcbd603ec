"""A new catalogue edition as data: its table checked line by line (all or nothing), its
differences with the edition before it, loaded with the day it comes into force, after which
new manifests are checked against it; the page, the API and the CLI do the same.

The "2025" table here is the 2021 one with made-up changes (the official 2025 table is not
available to the project): one code removed, one added, one hazard and one description
changed.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hazwaste.catalog import editions, services
from hazwaste.catalog.models import CatalogEdition, Exemption, WasteCode
from hazwaste.errors import Invalid
from tests.conftest import api_token, login

DATA = Path(__file__).resolve().parents[2] / "hazwaste" / "data" / "hw_catalog_2021.csv"
REMOVED = "900-249-08"
CHANGED_HAZARD = "841-001-01"  # In → In,T
CHANGED_TEXT = "900-041-49"
ADDED = "900-058-49"
META = {"code": "2025t", "name": "测试用名录（2025年版）", "effective_from": date(2025, 1, 1)}


def table() -> str:
    rows = list(csv.DictReader(DATA.open(encoding="utf-8")))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        if row["waste_code"] == REMOVED:
            continue
        if row["waste_code"] == CHANGED_HAZARD:
            row = {**row, "hazard": "In,T", "hazard_raw": "In，T"}
        if row["waste_code"] == CHANGED_TEXT:
            row = {**row, "description": row["description"] + "（测试修改）"}
        writer.writerow(row)
    writer.writerow(
        {
            "category": "HW49",
            "category_name": "其他废物",
            "industry_source": "非特定行业",
            "waste_code": ADDED,
            "description": "测试用新增代码",
            "hazard": "T",
            "hazard_raw": "T",
        }
    )
    return out.getvalue()


def test_the_differences_then_the_import(session, now, demo):
    admin = demo.users["admin"]
    preview = editions.import_edition(session, now, admin, META, table(), dry_run=True)
    assert preview.base == "2021"
    assert (preview.added, preview.removed) == ([ADDED], [REMOVED])
    assert {(c.code, c.field) for c in preview.changed} == {
        (CHANGED_HAZARD, "hazard"),
        (CHANGED_TEXT, "description"),
    }
    assert session.get(CatalogEdition, "2025t") is None  # a preview loads nothing

    editions.import_edition(session, now, admin, META, table())
    assert services.edition_on(session, date(2026, 6, 1)).code == "2025t"
    assert services.edition_on(session, date(2024, 6, 1)).code == "2021"
    count = session.scalar(
        select(func.count(WasteCode.id)).where(WasteCode.edition_code == "2025t")
    )
    assert count == 467
    kept = session.scalar(select(func.count(Exemption.id)).where(Exemption.edition_code == "2025t"))
    assert kept == 57
    assert services.get_waste_code(session, REMOVED, date(2026, 6, 1)) is None
    assert services.get_waste_code(session, ADDED, date(2026, 6, 1)).hazard == "T"
    with pytest.raises(Invalid) as again:
        editions.import_edition(session, now, admin, META, table())
    assert "code" in again.value.fields


def test_a_new_manifest_is_checked_against_the_edition_in_force(session, now, demo):
    from tests.manifest_factories import make_draft

    editions.import_edition(session, now, demo.users["admin"], META, table())
    with pytest.raises(Invalid) as refused:  # its first line is 900-249-08, removed
        make_draft(session, now, demo)
    assert "waste_code" in str(refused.value.fields)
    assert "waste_code" in refused.value.fields["lines"][0], refused.value.fields


def test_bad_lines_are_named_and_nothing_is_loaded(session, now, demo):
    bad = (
        "category,category_name,industry_source,waste_code,description,hazard\n"
        "HW08,废矿物油,非特定行业,900-249-08,废矿物油,T,I\n"  # unquoted comma: extra column
        "HW08,废矿物油,非特定行业,900-214-09,x,T\n"  # HW09 code under HW08
        "HW08,废矿物油,非特定行业,900-249-08,x,X\n"  # unknown hazard
        "HW08,废矿物油,非特定行业,900-2-08,x,T\n"  # not a code
        "HW49,其他废物,非特定行业,900-041-49,x,T\n"
        "HW49,其他废物,非特定行业,900-041-49,x,T\n"  # twice
    )
    with pytest.raises(Invalid) as refused:
        editions.import_edition(session, now, demo.users["admin"], META, bad)
    lines = [m.split(":")[0] for m in refused.value.fields["file"]]
    assert lines == [f"文件第 {n} 行" for n in (3, 4, 5, 7)]
    assert session.get(CatalogEdition, "2025t") is None


def test_the_page_previews_and_imports_for_the_administrator_only(client, session, demo):
    login(client, "admin@demo.test")
    form = {
        "code": "2025t",
        "name": "测试用名录（2025年版）",
        "effective_from": "2025-01-01",
        "keep_exemptions": "1",
    }
    preview = client.post(
        "/catalog/editions",
        data={**form, "action": "preview", "file": (io.BytesIO(table().encode()), "t.csv")},
        content_type="multipart/form-data",
    )
    assert preview.status_code == 200
    text = preview.get_data(as_text=True)
    assert "新增 1 个，删除 1 个，变更 2 处" in text and REMOVED in text
    assert session.get(CatalogEdition, "2025t") is None
    done = client.post(
        "/catalog/editions",
        data={**form, "action": "import", "file": (io.BytesIO(table().encode()), "t.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "已导入 2025t 版名录" in done.get_data(as_text=True)
    other = client.application.test_client()
    login(other, "producer@demo.test")
    assert other.get("/catalog/editions").status_code == 403
    assert other.post("/catalog/editions", data={}).status_code == 403


def test_the_api_dry_run_by_default(client, session, demo):
    body = {"code": "2025t", "name": "测试用名录", "effective_from": "2025-01-01", "csv": table()}
    producer = api_token(client, "producer@demo.test")
    assert client.post("/api/v1/catalog/editions", json=body, headers=producer).status_code == 403
    admin = api_token(client, "admin@demo.test")
    dry = client.post("/api/v1/catalog/editions", json=body, headers=admin).get_json()["data"]
    assert (dry["added"], dry["removed"], dry["loaded"]) == ([ADDED], [REMOVED], False)
    done = client.post(
        "/api/v1/catalog/editions", json={**body, "dry_run": False}, headers=admin
    ).get_json()["data"]
    assert done["loaded"] is True
    listed = client.get("/api/v1/catalog/editions", headers=producer).get_json()["data"]
    assert [e["code"] for e in listed] == ["2025t", "2021"]


def test_the_cli_dry_run(app, session, demo, tmp_path):
    path = tmp_path / "2025.csv"
    path.write_text(table(), encoding="utf-8")
    args = ["catalog", "import", str(path), "--code", "2025t", "--name", "测试用名录"]
    result = app.test_cli_runner().invoke(
        args=[*args, "--effective-from", "2025-01-01", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "would load 2025t: 467 codes; against 2021: 1 added, 1 removed, 2 changes" in result.output
    )
    assert session.get(CatalogEdition, "2025t") is None


def test_the_manifest_page_names_the_edition(client, session, now, demo):
    from tests.manifest_factories import make_submitted

    manifest = make_submitted(session, now, demo)
    session.commit()
    login(client, "producer@demo.test")
    page = client.get(f"/manifests/{manifest.id}").get_data(as_text=True)
    assert "国家危险废物名录（2021年版）" in page
