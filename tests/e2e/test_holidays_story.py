"""The platform administrator loads next year's holiday schedule in real headless Chromium:
the dashboard warns (from 1 November) that it is missing, the holiday page shows each year's
source, a file with a bad line is refused naming it, the right file is loaded."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hazwaste.extensions import db
from hazwaste.holidays import services as holidays
from tests.e2e.test_manifest_story import _login

pytestmark = pytest.mark.browser

TEST_2027 = Path(__file__).resolve().parent.parent / "data" / "holidays_2027_test.csv"


def test_admin_loads_next_years_schedule(
    browser: Any, live_app: Any, live_server: str, tmp_path: Path
) -> None:
    shots = Path(os.environ.get("HAZWASTE_SCREENSHOTS") or tmp_path)
    with live_app.app_context():
        holidays.load_data_file(db.session, datetime.now(UTC))
        db.session.commit()
        next_year = holidays.missing_next_year(db.session, datetime.now(UTC))
        db.session.remove()
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _login(page, live_server, "admin@demo.test")
    if next_year is not None:  # from 1 November: the dashboard says so
        assert "尚未载入" in (page.text_content("main") or "")
    page.get_by_role("link", name="节假日安排").first.click()
    page.wait_for_load_state("networkidle")
    assert page.text_content("h1") == "节假日安排"
    assert "官方放假安排" in (page.text_content("table") or "")

    bad = tmp_path / "bad.csv"
    bad.write_text("date,kind,name\n2027-02-08,上班,春节\n", encoding="utf-8")
    page.set_input_files("#f-file", str(bad))
    page.get_by_role("button", name="载入").click()
    page.wait_for_load_state("networkidle")
    assert "文件第 2 行" in (page.text_content("#e-file") or "")
    page.screenshot(path=str(shots / "holidays-refused.png"), full_page=True)

    page.set_input_files("#f-file", str(TEST_2027))
    page.fill("#f-source", "测试用日程")
    page.get_by_role("button", name="载入").click()
    page.wait_for_load_state("networkidle")
    assert "已载入 2027 年的放假安排" in page.content()
    row = page.locator("tr", has_text="2027")
    assert "官方放假安排" in (row.text_content() or "")
    page.screenshot(path=str(shots / "holidays-loaded.png"), full_page=True)
    context.close()


def test_admin_previews_a_catalogue_edition(
    browser: Any, live_app: Any, live_server: str, tmp_path: Path
) -> None:
    from tests.functional.test_catalog_editions import ADDED, REMOVED, table

    shots = Path(os.environ.get("HAZWASTE_SCREENSHOTS") or tmp_path)
    edition = tmp_path / "2025.csv"
    edition.write_text(table(), encoding="utf-8")
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _login(page, live_server, "admin@demo.test", "/catalog/editions")
    assert page.text_content("h1") == "名录版本"
    page.fill("#f-code", "2025t")
    page.fill("#f-name", "测试用名录（2025年版）")
    page.fill("#f-effective_from", "2025-01-01")
    page.set_input_files("#f-file", str(edition))
    page.get_by_role("button", name="预览差异").click()
    page.wait_for_load_state("networkidle")
    diff = page.text_content("#diff") or ""
    assert ADDED in diff and REMOVED in diff and "变更 2 处" in diff
    page.screenshot(path=str(shots / "catalogue-edition-preview.png"), full_page=True)
    context.close()
