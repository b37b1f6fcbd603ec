"""Notifications in real headless Chromium: the producer's bell counts what the demo's weeks
of manifests and flags told them; the inbox lists it in Chinese with China times; opening
one goes to its object and marks it read; the settings page changes a channel; on a 360 px
phone the bell and the list still fit."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hazwaste.db import utcnow
from hazwaste.extensions import db
from hazwaste.jobs.outbox import run_pending
from tests.e2e.conftest import build_live_app
from tests.e2e.test_manifest_story import _login

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The demo with its history; its outbox is run (the worker's part), so the
    notifications of those weeks are there."""
    app = build_live_app(tmp_path_factory, history=True)
    with app.app_context():
        run_pending(db.session, utcnow() + timedelta(seconds=1))
        db.session.remove()
    return app


def _unread(page: Any) -> int:
    count = page.locator("a.bell .bell-count")
    return int(count.text_content()) if count.count() else 0


def test_producer_reads_notifications(browser: Any, live_server: str, tmp_path: Path) -> None:
    shots = Path(os.environ.get("HAZWASTE_SCREENSHOTS") or tmp_path)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _login(page, live_server, "producer@demo.test")
    before = _unread(page)
    assert before >= 3, "the demo's hand-offs and flags should have told the producer"
    assert "未读" in (page.get_attribute("a.bell", "aria-label") or "")
    box = page.locator("a.bell svg").bounding_box()
    assert box is not None and box["width"] >= 16  # drawn, not a missing-glyph box

    page.click("a.bell")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/notifications")
    assert page.text_content("h1") == "通知"
    items = page.locator("li.notification")
    assert items.count() >= before
    text = page.text_content("ul.notification-list") or ""
    assert re.search(r"联单 \S+ ", text), text[:300]
    # No English sentence, raw event type or UTC stamp in the Chinese list.
    assert "manifest." not in text and "flag." not in text and "UTC" not in text
    assert not re.search(r"\b(picked up|delivered|received|Unread)\b", text)
    page.screenshot(path=str(shots / "notifications-inbox.png"), full_page=True)

    first = page.locator("li.notification.unread a.notification-title").first
    first.click()
    page.wait_for_load_state("networkidle")
    assert "/notifications" not in page.url  # it went to the object
    assert _unread(page) == before - 1

    page.goto(f"{live_server}/notifications/preferences")
    assert page.text_content("h1") == "通知设置"
    picked_up = page.get_by_label("邮件: 联单已起运")
    assert not picked_up.is_checked()  # routine: inbox only unless asked for
    picked_up.check()
    page.screenshot(path=str(shots / "notifications-preferences.png"), full_page=True)
    page.get_by_role("button", name="保存").click()
    page.wait_for_load_state("networkidle")
    assert "已保存" in page.content()
    assert page.get_by_label("邮件: 联单已起运").is_checked()

    page.goto(f"{live_server}/notifications")
    page.get_by_role("button", name="全部标为已读").click()
    page.wait_for_load_state("networkidle")
    assert _unread(page) == 0
    context.close()


def test_inbox_on_a_phone(browser: Any, live_server: str, tmp_path: Path) -> None:
    shots = Path(os.environ.get("HAZWASTE_SCREENSHOTS") or tmp_path)
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 360, "height": 740}, is_mobile=True
    )
    page = context.new_page()
    _login(page, live_server, "carrier@demo.test", "/notifications")
    assert page.url.endswith("/notifications")
    assert page.locator("a.bell").is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the page scrolls sideways on a phone ({width} px)"
    page.screenshot(path=str(shots / "notifications-phone.png"))
    context.close()
