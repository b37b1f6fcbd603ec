"""Ranked catalogue search: what people type finds the code they mean first — everyday names
(``waste_synonyms.csv``), code prefixes, HW categories, words of the description — with the
number of matches, page by page."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from hazwaste.catalog import services
from tests.conftest import api_token, login

ON = date(2026, 11, 20)
DATA = Path(__file__).resolve().parents[2] / "hazwaste" / "data"


@pytest.mark.parametrize(
    ("typed", "first"),
    [
        ("废机油", "900-214-08"),
        ("废矿物油", "900-249-08"),
        ("实验室废液", "900-047-49"),
        ("废活性炭", "900-039-49"),
        ("900-249", "900-249-08"),
        ("90024908", "900-249-08"),
        ("HW08", "071-001-08"),
        ("hw8", "071-001-08"),
        ("废铅蓄电池", "900-052-31"),
        ("医疗废物", "841-001-01"),
        ("机油", "900-214-08"),  # part of an everyday name
        ("生活垃圾焚烧飞灰", "772-002-18"),  # the description itself
    ],
)
def test_what_people_type_comes_first(session, demo, typed, first):
    result = services.rank_waste_codes(session, typed, ON)
    assert result.rows and result.rows[0].code == first, [r.code for r in result.rows[:5]]


def test_more_than_a_page_says_how_many(session, demo):
    result = services.rank_waste_codes(session, "HW08", ON, limit=20)
    assert len(result.rows) == 20 and result.total > 20
    second = services.rank_waste_codes(session, "HW08", ON, offset=20, limit=20)
    assert {r.code for r in result.rows}.isdisjoint(r.code for r in second.rows)
    everything = services.rank_waste_codes(session, "", ON, limit=None)
    assert everything.total == 467 and len(everything.rows) == 467


def test_nothing_found_is_empty_and_wildcards_are_text(session, demo):
    assert services.rank_waste_codes(session, "不存在的东西", ON).total == 0
    assert services.rank_waste_codes(session, "%", ON).total == 0


def test_every_synonym_points_to_a_real_code():
    codes = {r["waste_code"] for r in csv.DictReader((DATA / "hw_catalog_2021.csv").open())}
    rows = list(csv.DictReader((DATA / "waste_synonyms.csv").open(encoding="utf-8")))
    assert rows and all(r["waste_code"] in codes for r in rows)


def test_the_page_is_paginated_with_a_count(client, session, demo):
    login(client, "producer@demo.test")
    total = services.rank_waste_codes(session, "HW08", ON).total
    page = client.get("/catalog/waste-codes?q=HW08").get_data(as_text=True)
    assert f"{total} " in page and "071-001-08" in page
    assert page.count('class="code"') == min(total, 50)
    second = client.get("/catalog/waste-codes?q=HW08&page=2")
    assert second.status_code == 200
    typed = client.get("/catalog/waste-codes.json?q=废机油").get_json()
    assert typed["data"][0]["code"] == "900-214-08" and typed["meta"]["total"] >= 1


def test_the_api_ranks_and_counts(client, session, demo):
    token = api_token(client, "producer@demo.test")
    body = client.get("/api/v1/waste-codes?q=废矿物油&limit=5", headers=token).get_json()
    assert body["data"][0]["code"] == "900-249-08"
    assert len(body["data"]) == 5 and body["meta"]["total"] > 5
    later = client.get("/api/v1/waste-codes?q=废矿物油&limit=5&offset=5", headers=token)
    assert later.get_json()["data"][0]["code"] != "900-249-08"
