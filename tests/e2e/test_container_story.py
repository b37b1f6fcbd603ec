"""Issue 4's story in real headless Chromium: the producer registers labelled containers,
prints a label, builds the manifest from them; the driver's pickup is blocked until every
container is scanned, then passes."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from hazwaste.db import utcnow
from hazwaste.manifests.services import local_date
from tests.e2e.test_manifest_story import PHONE, _login

pytestmark = pytest.mark.browser


def test_containers_label_manifest_and_loading_check(browser: Any, live_server: str) -> None:
    import pypdfium2
    import zxingcpp

    context = browser.new_context(locale="en-US", extra_http_headers={"Accept-Language": "en"})
    page = context.new_page()
    _login(page, live_server, "producer@demo.test")
    codes = []
    for weight in ("180.5", "175"):
        page.goto(f"{live_server}/containers/new")
        page.fill("#f-waste_code", "900-249-08")
        page.dispatch_event("#f-waste_code", "change")
        page.fill("#f-waste_name", "废矿物油")
        page.select_option("#f-physical_form", "liquid")
        page.check("input[name=hazards][value=T]")
        page.select_option("#f-packaging_type", "drum")
        page.fill("#f-net_weight_kg", weight)
        page.fill("#f-generation_date", local_date(utcnow()).isoformat())
        with page.expect_navigation():
            page.click("text=Register the container")
        page.wait_for_load_state("networkidle")
        code = page.text_content("code.container-code") or ""
        assert re.fullmatch(r"[0-9A-Z]{37}", code.strip()), page.content()[:2000]
        codes.append(code.strip())
    # Print the label and read its QR back.
    href = page.get_attribute("text=100 mm", "href")
    label = context.request.get(f"{live_server}{href}")
    assert label.ok and label.headers["content-type"] == "application/pdf"
    image = pypdfium2.PdfDocument(label.body())[0].render(scale=300 / 72).to_pil()
    assert [r.text.rsplit("/", 1)[-1] for r in zxingcpp.read_barcodes(image)] == [codes[-1]]
    # Build the manifest from the two containers.
    page.goto(f"{live_server}/manifests/new")
    page.select_option("#f-receiver_id", label="鄂尔多斯市绿源环保科技有限公司")
    page.select_option("#f-carrier_id", label="鄂尔多斯市安驰危险货物运输有限公司")
    page.select_option("#f-vehicle_id", index=1)
    page.select_option("#f-driver_id", index=1)
    page.fill("#f-planned_date", (local_date(utcnow()) + timedelta(days=1)).isoformat())
    page.fill("#f-emergency_measures", "泄漏时围堵并报告。")
    for code in codes:
        page.check(f"tr:has-text('{code}') input[name=container_ids]")
    with page.expect_navigation():
        page.click("button[value=submit]")
    page.wait_for_load_state("networkidle")
    assert re.search(r"Manifest \d{14}", page.text_content("h1") or ""), page.content()[:2000]
    assert "355.5" in page.content().replace(",", "")  # 180.5 + 175 kg on one line
    scan = page.get_attribute("img[alt^='QR code']", "src") or ""
    manifest_id = scan.split("/")[2]
    context.close()

    phone = browser.new_context(
        **PHONE, locale="en-US", extra_http_headers={"Accept-Language": "en"}
    )
    page = phone.new_page()
    _login(page, live_server, "driver@demo.test", f"/manifests/{manifest_id}")
    page.goto(f"{live_server}/manifests/{manifest_id}")
    with page.expect_navigation():
        page.click("text=Open the scan page to act")
    page.fill("#s-load-0", "356")
    page.fill("#s-codes", codes[0])  # one container missing: blocked
    with page.expect_navigation():
        page.click("text=Confirm pickup")
    assert "Not scanned (1)" in page.content() and codes[1] in page.content()
    page.fill("#s-codes", "\n".join(codes))
    with page.expect_navigation():
        page.click("text=Confirm pickup")
    assert "Pickup recorded." in page.content()
    phone.close()
