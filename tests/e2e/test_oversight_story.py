"""The regulator's story in real headless Chromium: lands on the jurisdiction dashboard, reads
the balances chart, draws enterprises for a 双随机 inspection and verifies the draw."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_manifest_story import _login

pytestmark = pytest.mark.browser


def test_regulator_dashboard_balances_and_draw(browser: Any, live_server: str) -> None:
    context = browser.new_context(locale="en-US", extra_http_headers={"Accept-Language": "en"})
    page = context.new_page()
    _login(page, live_server, "regulator@demo.test")
    page.goto(f"{live_server}/")
    assert page.url.endswith("/oversight/")
    assert page.locator("h1").inner_text() == "Jurisdiction dashboard"
    assert page.locator("svg.chart").count() == 1

    page.goto(f"{live_server}/oversight/balances")
    chart = page.locator("svg.chart")
    assert chart.count() == 1 and chart.bounding_box()["width"] > 300

    page.goto(f"{live_server}/oversight/inspections")
    page.fill("#f-n", "2")
    page.select_option("#f-inspectors", "all")
    page.fill("#f-seed", "e2e-seed")
    with page.expect_navigation():
        page.click("main form[method=post] button[type=submit]")
    assert "/oversight/inspections/" in page.url
    assert page.locator("code", has_text="e2e-seed").count() == 1
    assert page.locator("table.list").first.locator("tbody tr").count() == 2
    with page.expect_navigation():
        page.click("text=Verify")
    assert "Verified" in page.locator(".flash").inner_text()
    context.close()
