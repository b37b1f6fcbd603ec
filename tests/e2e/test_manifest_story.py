"""User stories 1–5 of the lifecycle in real headless Chromium: producer on a desktop, the
driver on a phone-sized screen, the receiver at the weighbridge. Ends with a completed
manifest."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from hazwaste.db import utcnow
from hazwaste.manifests.services import local_date

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}


def _login(page: Any, base: str, email: str, next_path: str = "/") -> None:
    page.goto(f"{base}/login?next={next_path}")
    page.fill("#f-email", email)
    page.fill("#f-password", "demo-pass-2026")
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_producer_fills_and_submits_manifest(browser: Any, live_server: str, tmp_path: Any) -> None:
    context = browser.new_context(locale="en-US", extra_http_headers={"Accept-Language": "en"})
    page = context.new_page()
    _login(page, live_server, "producer@demo.test")
    page.goto(f"{live_server}/manifests/new")
    page.select_option("#f-receiver_id", label="鄂尔多斯市绿源环保科技有限公司")
    page.select_option("#f-carrier_id", label="鄂尔多斯市安驰危险货物运输有限公司")
    page.select_option("#f-vehicle_id", index=1)
    page.select_option("#f-driver_id", index=1)
    planned = (local_date(utcnow()) + timedelta(days=1)).isoformat()
    page.fill("#f-planned_date", planned)
    page.fill("#f-emergency_measures", "泄漏时用吸附棉围堵，立即报告。")
    page.fill("#l0-code", "900-249")
    page.wait_for_timeout(600)  # the catalogue search fills the suggestions
    page.fill("#l0-code", "900-249-08")
    page.dispatch_event("#l0-code", "change")
    page.select_option("#l0-form", "liquid")
    page.fill("#l0-pack", "200L铁桶")
    page.fill("#l0-count", "8")
    page.fill("#l0-qty", "1500")
    assert page.is_checked("input[name='lines-0-hazards'][value='T']")  # prefilled from code
    page.screenshot(path=str(tmp_path / "form.png"), full_page=True)
    with page.expect_navigation():
        page.click("button[value=submit]")
    page.wait_for_load_state("networkidle")
    heading = page.text_content("h1") or ""
    assert re.search(r"Manifest \d{14}", heading), page.content()[:3000]
    assert page.is_visible("img[alt^='QR code']")
    href = page.get_attribute("text=Print manifest (PDF)", "href")
    pdf = context.request.get(f"{live_server}{href}")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    context.close()


def test_driver_and_receiver_complete_the_manifest(
    browser: Any, live_server: str, live_app: Any, tmp_path: Any
) -> None:
    """Continues the producer's manifest: the driver scans it on a phone (GPS granted),
    confirms arrival, the receiver weighs and confirms the receipt, then records disposal."""
    from hazwaste.extensions import db
    from hazwaste.manifests.models import Manifest
    from hazwaste.manifests.tokens import make_token

    with live_app.app_context():
        manifest = (
            db.session.query(Manifest)
            .filter(Manifest.number.is_not(None))
            .order_by(Manifest.id.desc())
            .first()
        )
        assert manifest is not None, "run after the producer's story"
        with live_app.test_request_context():
            path = f"/m/{make_token(manifest.id, manifest.number)}"
        number = manifest.number

    phone = browser.new_context(
        **PHONE,
        locale="en-US",
        extra_http_headers={"Accept-Language": "en"},
        geolocation={"latitude": 39.3482, "longitude": 106.9591},
        permissions=["geolocation"],
    )
    page = phone.new_page()
    page.goto(f"{live_server}{path}")
    assert number in (page.text_content("h1") or "")
    page.click("text=Log in to act on this manifest")
    page.fill("#f-email", "driver@demo.test")
    page.fill("#f-password", "demo-pass-2026")
    page.click("form button[type=submit]")
    page.wait_for_url(f"**{path}")  # back on the same manifest after logging in
    page.fill("#s-load-0", "1496.5")
    page.wait_for_function("document.querySelector('[name=latitude]').value !== ''")
    page.screenshot(path=str(tmp_path / "driver.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scroll
    with page.expect_navigation():
        page.click("text=Confirm pickup")
    assert "Pickup recorded." in page.content()
    with page.expect_navigation():
        page.click("text=Confirm arrival")
    assert "Arrival recorded." in page.content()
    phone.close()

    desk = browser.new_context(locale="en-US", extra_http_headers={"Accept-Language": "en"})
    page = desk.new_page()
    _login(page, live_server, "receiver@demo.test", path)
    page.goto(f"{live_server}{path}")
    page.fill("#r-qty-0", "1300")  # 13 % short: the confirmation says an alert will follow
    with page.expect_navigation():
        page.click("text=Show the discrepancies")
    alert = page.locator("[data-receipt] p.flash.bad").first
    assert "beyond the" in (alert.text_content() or "") and alert.is_visible()
    page.screenshot(path=str(tmp_path / "receipt-beyond-tolerance.png"), full_page=True)
    with page.expect_navigation():
        page.get_by_role("button", name="Change").click()
    page.fill("#r-qty-0", "1490")
    with page.expect_navigation():
        page.click("text=Show the discrepancies")
    assert "-6.5" in page.content()  # received − loaded, computed before confirming
    assert page.locator("[data-receipt] p.flash.bad").count() == 0  # within the tolerance
    with page.expect_navigation():
        page.click("text=Confirm receipt")
    assert "Receipt recorded." in page.content()
    page.select_option("#d-m-0", "R2")  # no method is preselected when several are allowed
    page.fill("#d-d-0", local_date(utcnow()).isoformat())
    with page.expect_navigation():
        page.click("text=Record disposal")
    assert "Disposal recorded." in page.content()
    page.goto(f"{live_server}/manifests/{manifest.id}")
    assert "Completed" in (page.text_content(".badge") or "")
    desk.close()
