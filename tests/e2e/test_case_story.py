"""Issue 6's Done-means in real headless Chromium: the regulator opens the queue, opens the
WEIGHT_GAP flag of the demo data, sees the evidence and the route plot, starts the
investigation with a note and exports the queue to XLSX holding the rows shown."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest

from hazwaste import create_app
from hazwaste.extensions import db
from tests.conftest import test_config as live_config
from tests.e2e.conftest import _free_port
from tests.e2e.test_manifest_story import _login

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Like the shared fixture, but with the demo history (manifests and their flags)."""
    from flask_migrate import upgrade

    from hazwaste.catalog.services import load_reference_data
    from hazwaste.db import utcnow
    from hazwaste.demo.services import seed_demo

    url = f"sqlite:///{tmp_path_factory.mktemp('e2e-cases') / 'e2e.db'}"
    port = _free_port()
    app = create_app(
        live_config(url, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}", WTF_CSRF_ENABLED=True)
    )
    with app.app_context():
        upgrade()
        load_reference_data(db.session)
        seed_demo(db.session, utcnow(), history=True)
        db.session.commit()
        db.session.remove()
    app.config["LIVE_PORT"] = port
    return app


def test_regulator_works_a_weight_gap_case(browser: Any, live_server: str, tmp_path: Path) -> None:
    import openpyxl

    # Screenshots to look at: HAZWASTE_SCREENSHOTS=/some/dir keeps them.
    shots = Path(os.environ.get("HAZWASTE_SCREENSHOTS") or tmp_path)

    context = browser.new_context(
        locale="en-US",
        extra_http_headers={"Accept-Language": "en"},
        accept_downloads=True,
        viewport={"width": 1280, "height": 900},
    )
    page = context.new_page()
    _login(page, live_server, "regulator@demo.test")
    page.click("nav >> text=Case queue")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/cases/")
    shown = [
        int(i)
        for i in page.eval_on_selector_all(
            "tr[data-flag-id]", "rows => rows.map(r => r.dataset.flagId)"
        )
    ]
    assert len(shown) >= 3
    assert page.locator(".case-tabs a[data-status=new] .count").text_content() != "0"
    page.screenshot(path=str(shots / "cases-queue.png"), full_page=True)

    row = page.locator("tr[data-flag-id]", has_text="Weight gap").first
    row.locator("a").first.click()
    page.wait_for_load_state("networkidle")
    assert "Weight gap" in page.text_content("h1")
    evidence = page.text_content("table.evidence") or ""
    assert "Loaded" in evidence and "kg" in evidence
    assert page.locator("svg.route-plot").count() == 1
    assert page.locator("svg.route-plot .plot-point").count() >= 3
    assert page.locator("svg.route-plot .plot-scale text").text_content().endswith("km")
    assert page.locator("table.weights tbody tr").count() >= 1
    page.screenshot(path=str(shots / "cases-detail.png"), full_page=True)

    page.fill("#start-note", "已电话联系产废单位，调取地磅记录。")
    with page.expect_navigation():
        page.click("#form-start button[type=submit]")
    assert page.text_content("#case-status") == "Investigating"
    assert "调取地磅记录" in (page.text_content("ol.case-history") or "")
    page.screenshot(path=str(shots / "cases-investigating.png"), full_page=True)

    page.goto(f"{live_server}/cases/")
    shown = [
        int(i)
        for i in page.eval_on_selector_all(
            "tr[data-flag-id]", "rows => rows.map(r => r.dataset.flagId)"
        )
    ]
    with page.expect_download() as info:
        page.click("#export-xlsx")
    path = info.value.path()
    with open(path, "rb") as handle:
        sheet = openpyxl.load_workbook(io.BytesIO(handle.read())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "ID"
    assert [r[0] for r in rows[1:]] == shown
    assert "investigating" in [r[3] for r in rows[1:]]
    context.close()
