"""Exports of the manifest list: same filters and rows as the page, visible manifests only."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import openpyxl
import pytest

from tests.conftest import login
from tests.factories import PASSWORD, regulator

EN = {"Accept-Language": "en"}


@pytest.fixture()
def world(session, now) -> Any:
    from hazwaste.demo.services import seed_demo

    w = seed_demo(session, now, history=True)
    session.commit()
    return w


def numbers_on_page(html: str) -> set[str]:
    return set(re.findall(r">(2026\d{10})</a>", html))


def csv_rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # Excel reads the Chinese names correctly
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.mark.parametrize("query", ["", "?status=completed", "?waste_code=841-001-01"])
def test_exports_hold_the_rows_of_the_page(client, world, query):
    login(client, "producer@demo.test")
    page = client.get(f"/manifests/{query}", headers=EN).get_data(as_text=True)
    shown = numbers_on_page(page)
    assert "Export CSV" in page and "Export Excel" in page

    rows = csv_rows(client.get(f"/manifests/export.csv{query}", headers=EN))
    assert rows[0][:3] == ["Number", "Status", "Planned date"]
    exported = {r[0] for r in rows[1:] if r[0].startswith("2026")}
    assert exported == shown

    response = client.get(f"/manifests/export.xlsx{query}", headers=EN)
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    values = list(sheet.iter_rows(values_only=True))
    assert [str(v) for v in values[0][:3]] == ["Number", "Status", "Planned date"]
    assert {v[0] for v in values[1:] if str(v[0]).startswith("2026")} == shown
    assert len(values) == len(rows)


def test_quantities_are_exact(client, world):
    login(client, "producer@demo.test")
    rows = csv_rows(client.get("/manifests/export.csv?status=completed", headers=EN))
    header = rows[0]
    declared = header.index("Declared (kg)")
    for row in rows[1:]:
        assert re.fullmatch(r"\d+(\.\d{1,3})?", row[declared]), row[declared]


def test_regulator_outside_the_jurisdiction_exports_nothing(client, session, now, world):
    _, user = regulator(session, now, world.users["admin"], region_code="110000")
    session.commit()
    login(client, user.email, PASSWORD)
    rows = csv_rows(client.get("/manifests/export.csv", headers=EN))
    assert rows[1:] == []


def test_city_regulator_exports_what_its_list_shows(client, world):
    login(client, "regulator@demo.test")
    shown = numbers_on_page(client.get("/manifests/", headers=EN).get_data(as_text=True))
    rows = csv_rows(client.get("/manifests/export.csv", headers=EN))
    assert shown and {r[0] for r in rows[1:] if r[0].startswith("2026")} == shown


def test_anonymous_is_sent_to_log_in(client, world):
    for path in ("/manifests/export.csv", "/manifests/export.xlsx"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
