"""Request limits: body size before parsing, list caps before item validation, capped row
errors, and CSV files that cannot be parsed (each a file-level message, never a 500).

The elapsed-time checks are the point: before these limits a 1 M-item list ran for minutes.
Bodies are built before the clock starts, so only the request is timed.
"""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from hazwaste import create_app
from hazwaste.config import (
    MAX_API_REQUEST_BYTES,
    MAX_FORM_MEMORY_SIZE,
    MAX_FORM_PARTS,
    MAX_REQUEST_BYTES,
)
from hazwaste.ledger.imports import MAX_IMPORT_ROWS
from hazwaste.ledger.models import Container
from hazwaste.ledger.schemas import BULK_CONTAINERS_MAX, CSV_COLUMNS
from hazwaste.manifests.schemas import MAX_CONTAINERS, MAX_LINES
from hazwaste.plans.models import ManagementPlan
from hazwaste.plans.schemas import CSV_COLUMNS as PLAN_COLUMNS
from hazwaste.schemas import ROW_ERRORS_MAX
from tests import conftest
from tests.conftest import api_token, login
from tests.manifest_factories import make_submitted

EN = {"Accept-Language": "en"}
FIFTY_MB = 50 * 1024 * 1024
MILLION = 1_000_000
#: Every answer here must come within this many seconds.
WITHIN_S = 1.0


def timed(call: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    response = call(*args, **kwargs)
    return response, time.perf_counter() - started


@pytest.fixture()
def producer(client, demo):
    return {**api_token(client, "producer@demo.test"), **EN}


def container(**overrides: Any) -> dict[str, Any]:
    data = {
        "waste_code": "900-249-08",
        "waste_name": "废矿物油",
        "physical_form": "liquid",
        "hazards": ["T", "I"],
        "packaging_type": "drum",
        "net_weight_kg": "180.5",
        "generation_date": "2026-11-02",
    }
    data.update(overrides)
    return data


def container_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([r.get(c, "") for c in CSV_COLUMNS])
    return out.getvalue().encode()


def csv_row(**overrides: str) -> dict[str, str]:
    data = {
        "waste_code": "900-249-08",
        "waste_name": "废矿物油",
        "physical_form": "liquid",
        "hazards": "T,I",
        "packaging_type": "drum",
        "net_weight_kg": "180.5",
        "generation_date": "2026-11-02",
    }
    data.update(overrides)
    return data


def plan_csv(demo: Any, rows: int, **overrides: str) -> bytes:
    values = {
        "year": "2026",
        "waste_code": "900-249-08",
        "planned_generation_t": "12.5",
        "planned_transfer_t": "12",
        "intended_receiver_uscc": demo.orgs["receiver"].uscc,
        "note": "",
        **overrides,
    }
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(PLAN_COLUMNS)
    for _ in range(rows):
        writer.writerow([values[c] for c in PLAN_COLUMNS])
    return out.getvalue().encode()


def upload(client: Any, path: str, body: bytes) -> Any:
    return client.post(
        path,
        data={"file": (io.BytesIO(body), "file.csv")},
        content_type="multipart/form-data",
        headers=EN,
    )


def count(session: Any, model: Any = Container) -> int:
    return int(session.scalar(select(func.count()).select_from(model)))


# -- body size ------------------------------------------------------------------------------


def test_limits_are_configurable_from_the_environment(monkeypatch, database_url):
    monkeypatch.setenv("HAZWASTE_MAX_REQUEST_BYTES", "123456")
    monkeypatch.setenv("HAZWASTE_MAX_API_REQUEST_BYTES", "65536")
    app = create_app(conftest.test_config(database_url))
    assert app.config["MAX_CONTENT_LENGTH"] == 123456
    assert app.config["MAX_API_REQUEST_BYTES"] == 65536
    response = app.test_client().post(
        "/api/v1/manifests", data=b"{" + b" " * 65536 + b"}", content_type="application/json"
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/v1/containers/bulk", "application/json"),
        ("/api/v1/plans/import", "text/csv"),
        ("/api/v1/manifests", "application/json"),
    ],
)
def test_api_body_over_the_limit_is_413_unread(client, demo, producer, path, content_type):
    body = b'{"containers": "' + b"x" * FIFTY_MB + b'"}'
    response, elapsed = timed(
        client.post, path, data=body, content_type=content_type, headers=producer
    )
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "too_large"
    mb = MAX_API_REQUEST_BYTES // 2**20
    assert error["message"] == f"The request is too large: at most {mb} MB."
    assert elapsed < WITHIN_S


def test_api_body_just_over_the_api_limit_is_refused_under_the_page_limit(client, producer):
    # JSON bodies get the stricter limit, although the request is under the general one.
    body = json.dumps({"containers": "x" * MAX_API_REQUEST_BYTES}).encode()
    assert len(body) < MAX_REQUEST_BYTES
    response = client.post(
        "/api/v1/containers/bulk", data=body, content_type="application/json", headers=producer
    )
    assert response.status_code == 413


@pytest.mark.parametrize("path", ["/containers/import", "/plans/import"])
def test_page_upload_over_the_limit_is_a_translated_413_page(client, session, demo, path):
    login(client, "producer@demo.test")
    body = b"x" * FIFTY_MB
    response, elapsed = timed(upload, client, path, body)
    assert response.status_code == 413
    mb = MAX_REQUEST_BYTES // 2**20
    assert f"The request is too large: at most {mb} MB." in response.get_data(as_text=True)
    assert elapsed < WITHIN_S
    response = client.post(
        path,
        data={"file": (io.BytesIO(body), "file.csv")},
        content_type="multipart/form-data",
        headers={"Accept-Language": "zh-CN"},
    )
    assert response.status_code == 413
    assert f"请求过大：最多 {mb} MB。" in response.get_data(as_text=True)
    assert count(session) == 0


def test_page_forms_have_tighter_limits_than_uploads(client, demo):
    # A multipart form with more parts than Werkzeug's MAX_FORM_PARTS.
    fields = {f"f{i}": "x" for i in range(MAX_FORM_PARTS + 1)}
    response = client.post("/login", data=fields, content_type="multipart/form-data", headers=EN)
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "The form has too many fields, or a field is too long." in page
    # An urlencoded form is parsed in one piece: its whole body is bounded like one field.
    body = "email=" + "x" * MAX_FORM_MEMORY_SIZE
    response, elapsed = timed(
        client.post,
        "/login",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers=EN,
    )
    assert response.status_code == 413 and elapsed < WITHIN_S
    assert "The request is too large: at most 0.5 MB." in response.get_data(as_text=True)


def test_a_large_body_is_collected_once_its_answer_is_sent(client, producer, monkeypatch):
    """The parsed body lives in reference cycles (request ↔ environ, error ↔ frames): only a
    full collection frees it, so one runs when the answer to a large request is closed."""
    from hazwaste import limits

    collected: list[int] = []
    monkeypatch.setattr(limits.gc, "collect", lambda: collected.append(1) or 0)
    small = json.dumps({"containers": [{}]}).encode()
    large = json.dumps({"containers": [{}] * (limits.COLLECT_AFTER_BYTES // 4)}).encode()
    for body, expected in ((small, []), (large, [1])):
        response = client.post(
            "/api/v1/containers/bulk", data=body, content_type="application/json", headers=producer
        )
        assert response.status_code == 422
        response.close()  # what the WSGI server does once the answer is sent
        assert collected == expected
        collected.clear()


# -- list caps, checked before any item is loaded ----------------------------------------------


def test_bulk_list_of_a_million_items_is_refused_on_the_field_at_once(client, session, producer):
    body = json.dumps({"containers": [{}] * MILLION}).encode()
    assert len(body) < MAX_API_REQUEST_BYTES  # under the byte limit: the list cap decides
    response, elapsed = timed(
        client.post,
        "/api/v1/containers/bulk",
        data=body,
        content_type="application/json",
        headers=producer,
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {
        "containers": [f"At most {BULK_CONTAINERS_MAX} items."]
    }
    assert elapsed < WITHIN_S
    assert count(session) == 0


def test_bulk_list_one_over_the_cap_is_refused_before_its_items(client, session, producer):
    # Invalid items: loaded first, each would have its own error under "rows".
    body = {"containers": [{"waste_code": "x"}] * (BULK_CONTAINERS_MAX + 1)}
    response = client.post("/api/v1/containers/bulk", json=body, headers=producer)
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {
        "containers": [f"At most {BULK_CONTAINERS_MAX} items."]
    }


def test_manifest_lists_of_a_million_items_are_refused_at_once(client, demo, producer):
    for key, item, message in (
        ("lines", {}, f"At most {MAX_LINES} lines."),
        ("container_ids", 0, f"At most {MAX_CONTAINERS} items."),
    ):
        body = json.dumps({"carrier_id": 1, key: [item] * MILLION}).encode()
        response, elapsed = timed(
            client.post,
            "/api/v1/manifests",
            data=body,
            content_type="application/json",
            headers=producer,
        )
        assert response.status_code == 422
        assert response.get_json()["error"]["fields"][key] == [message]
        assert elapsed < WITHIN_S


def test_container_scans_at_pickup_are_capped_before_loading(client, session, now, demo):
    manifest = make_submitted(session, now, demo)
    session.commit()
    driver = {**api_token(client, "driver@demo.test"), **EN}
    body = json.dumps(
        {"vehicle_id": demo.extra["vehicles"][0].id, "lines": [], "container_codes": [""] * MILLION}
    ).encode()
    response, elapsed = timed(
        client.post,
        f"/api/v1/manifests/{manifest.id}/pickup",
        data=body,
        content_type="application/json",
        headers=driver,
    )
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert fields["container_codes"] == [f"At most {MAX_CONTAINERS} items."]
    assert elapsed < WITHIN_S
    body = json.dumps(
        {"vehicle_id": demo.extra["vehicles"][0].id, "lines": [{}] * (MAX_LINES + 1)}
    ).encode()
    response = client.post(
        f"/api/v1/manifests/{manifest.id}/pickup",
        data=body,
        content_type="application/json",
        headers=driver,
    )
    assert response.get_json()["error"]["fields"]["lines"] == [f"At most {MAX_LINES} lines."]


def test_licence_scope_lists_are_capped(client, demo):
    receiver = {**api_token(client, "receiver@demo.test"), **EN}
    body = {
        "number": "L-1",
        "valid_from": "2026-01-01",
        "valid_to": "2030-12-31",
        "annual_capacity_t": "1000",
        "scope_codes": ["900-249-08"] * 5000,
    }
    response, elapsed = timed(client.post, "/api/v1/licences", json=body, headers=receiver)
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"]["scope_codes"] == ["At most 1000 items."]
    assert elapsed < WITHIN_S


def test_a_csv_with_a_million_rows_stops_at_the_row_cap(client, session, demo):
    login(client, "producer@demo.test")
    body = container_csv([]) + b"a\n" * MILLION
    response, elapsed = timed(upload, client, "/containers/import", body)
    assert response.status_code == 422
    assert f"At most {MAX_IMPORT_ROWS} rows per file." in response.get_data(as_text=True)
    assert elapsed < WITHIN_S


# -- row errors: the first ROW_ERRORS_MAX and a count ----------------------------------------------


def test_bulk_errors_list_the_first_rows_and_count_them_all(client, session, producer):
    invalid = ROW_ERRORS_MAX + 50
    rows = [container(waste_code="bad")] * invalid + [container()] * 10
    response = client.post("/api/v1/containers/bulk", json={"containers": rows}, headers=producer)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["invalid_rows"] == invalid
    assert sorted(error["fields"]["rows"], key=int) == [str(i) for i in range(ROW_ERRORS_MAX)]
    # Rows that pass the schema but break a rule (an unknown code): the service's errors.
    rows = [container(waste_code="999-999-99")] * invalid
    response = client.post("/api/v1/containers/bulk", json={"containers": rows}, headers=producer)
    error = response.get_json()["error"]
    assert response.status_code == 422 and error["invalid_rows"] == invalid
    assert len(error["fields"]["rows"]) == ROW_ERRORS_MAX
    assert count(session) == 0


def test_container_import_page_lists_the_first_rows_and_says_how_many_more(client, session, demo):
    login(client, "producer@demo.test")
    invalid = ROW_ERRORS_MAX + 30
    body = container_csv([csv_row(net_weight_kg="-1")] * invalid + [csv_row()])
    response = upload(client, "/containers/import", body)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f"Nothing was imported: {invalid} rows have errors." in page
    table = page.split('id="import-errors"')[1].split("</table>")[0]
    assert table.count("<tr>") == ROW_ERRORS_MAX + 1  # the header row and one per row listed
    assert f'<td class="num">{ROW_ERRORS_MAX + 1}</td>' in table  # lines 2 … 101
    assert f'<td class="num">{ROW_ERRORS_MAX + 2}</td>' not in table
    assert "30 more rows have errors and are not listed." in page
    response = client.post(
        "/containers/import",
        data={"file": (io.BytesIO(body), "c.csv")},
        content_type="multipart/form-data",
        headers={"Accept-Language": "zh-CN"},
    )
    assert "另有 30 行有错误，未列出。" in response.get_data(as_text=True)
    assert count(session) == 0


def test_plan_import_errors_are_capped_in_the_api_and_on_the_page(client, session, demo):
    invalid = ROW_ERRORS_MAX + 5
    body = plan_csv(demo, invalid, planned_generation_t="-1")
    headers = {**api_token(client, "producer@demo.test"), **EN}
    response = client.post(
        "/api/v1/plans/import", data=body, content_type="text/csv", headers=headers
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["invalid_rows"] == invalid and len(error["fields"]["rows"]) == ROW_ERRORS_MAX
    login(client, "producer@demo.test")
    page = upload(client, "/plans/import", body).get_data(as_text=True)
    assert "5 more rows have errors and are not listed." in page
    assert count(session, ManagementPlan) == 0


# -- CSV files the csv module cannot read ------------------------------------------------------


def test_csv_files_with_cr_only_line_endings_import(client, session, demo):
    """As the old Mac Excel saves them ("CSV (Macintosh)"): both imports read them."""
    login(client, "producer@demo.test")
    body = container_csv([csv_row(), csv_row(net_weight_kg="20")]).replace(b"\r\n", b"\r")
    assert b"\n" not in body
    response = upload(client, "/containers/import", body)
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    assert count(session) == 2
    headers = {**api_token(client, "producer@demo.test"), **EN}
    body = plan_csv(demo, 1).replace(b"\r\n", b"\r")
    response = client.post(
        "/api/v1/plans/import", data=body, content_type="text/csv", headers=headers
    )
    assert response.status_code == 200, response.get_json()
    assert count(session, ManagementPlan) == 1


def _bad_files(header: bytes, good: bytes) -> list[tuple[bytes, str]]:
    """(file, the message it must get): unreadable files of every kind."""
    return [
        (
            header + good + b'"' + b"x" * 200_000 + b'",1\n',
            "Line 3: a field is longer than 131072 characters.",
        ),
        (header + b"x" * 200_000 + b"\n", "Line 2: a field is longer than 131072 characters."),
        (header + good.replace(b",", b"\x00,", 1), "The file contains NUL bytes"),
        (b"", "The file is empty."),
        (b"\r\n\r\n", "The file is empty."),
    ]


def test_unreadable_container_csv_files_get_a_file_level_message(client, session, demo):
    login(client, "producer@demo.test")
    header, good = container_csv([csv_row()]).split(b"\r\n", 1)
    for body, message in _bad_files(header + b"\r\n", good):
        response = upload(client, "/containers/import", body)
        assert response.status_code == 422, message
        page = response.get_data(as_text=True)
        assert message in page.split('id="file-error"')[1][:300], message
    assert count(session) == 0


def test_unreadable_plan_csv_files_get_a_file_level_message(client, session, demo):
    headers = {**api_token(client, "producer@demo.test"), **EN}
    header, good = plan_csv(demo, 1).split(b"\r\n", 1)
    for body, message in _bad_files(header + b"\r\n", good):
        response = client.post(
            "/api/v1/plans/import", data=body, content_type="text/csv", headers=headers
        )
        assert response.status_code == 422, message
        error = response.get_json()["error"]
        assert list(error["fields"]) == ["file"] and message in error["fields"]["file"][0]
    assert count(session, ManagementPlan) == 0


def test_nul_characters_in_text_are_a_field_error_not_a_500(client, session, producer):
    # PostgreSQL cannot store NUL: such an insert failed with a 500 (SQLite stored it).
    rows = [container(), container(waste_name="废\u0000矿物油")]
    response = client.post("/api/v1/containers/bulk", json={"containers": rows}, headers=producer)
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"]["rows"] == {
        "1": {"waste_name": ["Text must not contain NUL characters."]}
    }
    response = client.get("/api/v1/containers?q=a%00b", headers=producer)
    assert response.status_code == 422 and "q" in response.get_json()["error"]["fields"]
    assert count(session) == 0
