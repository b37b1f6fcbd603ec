"""Streamed CSV exports under production conditions, the CSV Content-Type and the CSV
formula guard.

The ``session`` fixture keeps one app context open for the whole test, so a request made
from the test thread reuses it and Flask-SQLAlchemy never removes the session at teardown:
a streamed body can then still lazy-load from the request's objects. A real server pushes
an app context per request and removes the session when the view returns, before the body
is sent. ``ProductionClient`` reproduces that by running each request, body included, in a
thread of its own (context variables start empty there), on the same test transaction.
"""

from __future__ import annotations

import csv
import io
import threading
from typing import Any

import pytest
from flask.testing import FlaskClient

from hazwaste.exports import csv_bytes, csv_text
from tests.conftest import login

EN = {"Accept-Language": "en"}


class ProductionClient(FlaskClient):
    """Each request in a fresh thread: its own app context, session removed at teardown,
    and the streamed body read in that thread too."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        out: dict[str, Any] = {}

        def run() -> None:
            try:
                response = FlaskClient.open(self, *args, **kwargs)
                response.get_data()  # read the stream here, after the request's teardown
                out["response"] = response
            except BaseException as exc:  # re-raised in the test's thread
                out["error"] = exc

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        if "error" in out:
            raise out["error"]
        return out["response"]


@pytest.fixture()
def world(session, now) -> Any:
    from hazwaste.demo.services import seed_demo

    w = seed_demo(session, now, history=True)
    session.commit()
    return w


@pytest.fixture()
def production_client(app, session) -> FlaskClient:
    return ProductionClient(app, app.response_class, use_cookies=True)


def _rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_production_client_removes_the_session_at_teardown(production_client, session, world):
    """The premise of the tests below: the request's session is not the test's."""
    from flask import Flask

    seen: list[Any] = []
    app: Flask = production_client.application

    def record(_exc: Any) -> None:
        seen.append(True)

    app.teardown_appcontext_funcs.append(record)  # the decorator refuses after a request
    try:
        login(production_client, "producer@demo.test")
    finally:
        app.teardown_appcontext_funcs.remove(record)
    assert seen  # an app context of its own was pushed and torn down


@pytest.mark.parametrize(
    "email",
    ["producer@demo.test", "carrier@demo.test", "receiver@demo.test", "regulator@demo.test"],
)
def test_manifest_csv_streams_after_the_request_session_is_gone(production_client, world, email):
    login(production_client, email)
    rows = _rows(production_client.get("/manifests/export.csv", headers=EN))
    assert rows[0][0] == "Number"
    assert len(rows) > 1  # the rows were read through the stream's own session


def test_manifest_csv_keeps_the_filters_in_the_stream(production_client, world):
    login(production_client, "regulator@demo.test")
    rows = _rows(production_client.get("/manifests/export.csv?status=completed", headers=EN))
    assert len(rows) > 1
    assert {r[1] for r in rows[1:]} == {"Completed"}


@pytest.mark.parametrize("email", ["regulator@demo.test", "inspector@demo.test"])
def test_case_csv_streams_after_the_request_session_is_gone(production_client, world, email):
    login(production_client, email)
    rows = _rows(production_client.get("/cases/export.csv", headers=EN))
    assert rows[0][:2] == ["ID", "Rule"]


@pytest.mark.parametrize(
    ("path", "email"),
    [
        ("/manifests/export.csv", "regulator@demo.test"),
        ("/cases/export.csv", "regulator@demo.test"),
        ("/oversight/balances?format=csv", "regulator@demo.test"),
        ("/ledger/?format=csv", "producer@demo.test"),
        ("/ledger/summary?format=csv", "producer@demo.test"),
        ("/containers/import/template.csv", "producer@demo.test"),
        ("/plans/import/template.csv", "producer@demo.test"),
    ],
)
def test_csv_content_type_names_its_charset_once(client, world, path, email):
    login(client, email)
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"


@pytest.mark.parametrize(
    "text",
    [
        "=1+1",
        "+1",
        "-1",
        "@SUM(A1)",
        ' =HYPERLINK("http://x")',
        "  +cmd",
        "\t=1",
        "\t",
        "\r=1",
        "\n=1",
        "\n",
        "\u3000=1",
        "\u00a0@x",
        "＝1+1",
        "＋1",
        "－1",
        "＠SUM(A1)",
        " ＝1",
        "|cmd",
        "%0A",
        "=cmd|'/c calc'!A1",
        "\0=1",
    ],
)
def test_formula_guard_neutralises_every_trigger(text):
    assert csv_text(text) == "'" + text
    written = csv_bytes(["h"], [[text]]).decode("utf-8")[1:]
    assert list(csv.reader(io.StringIO(written)))[1] == ["'" + text]


@pytest.mark.parametrize("text", ["", "plain", "a=b", "100.5", "鄂尔多斯", " x", "'=quoted"])
def test_formula_guard_leaves_ordinary_text_alone(text):
    assert csv_text(text) == text
