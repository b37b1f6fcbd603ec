"""Password reset in real headless Chromium: the login page's "忘记密码？" link, the e-mail
delivered by a real SMTP server, the link opened in the browser, the new password set and
used to log in; the link then refuses a second use."""

from __future__ import annotations

import os
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from hazwaste.db import utcnow
from hazwaste.extensions import db
from hazwaste.jobs.outbox import run_pending
from tests.conftest import Inbox
from tests.e2e.conftest import _free_port

pytestmark = pytest.mark.browser

EMAIL = "carrier@demo.test"
NEW = "road-again-2026"


@pytest.fixture()
def inbox(live_app: Any) -> Any:
    handler = Inbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    live_app.config["MAIL_URL"] = f"smtp://127.0.0.1:{port}"
    yield handler
    controller.stop()
    live_app.config["MAIL_URL"] = "console"


def test_forgotten_password_story(
    browser: Any, live_app: Any, live_server: str, inbox: Any, tmp_path: Path
) -> None:
    shots = Path(os.environ.get("HAZWASTE_SCREENSHOTS") or tmp_path)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.get_by_role("link", name="忘记密码？").click()
    page.get_by_label("电子邮箱").fill(EMAIL)
    page.screenshot(path=str(shots / "reset-request.png"), full_page=True)
    page.get_by_role("button", name="发送重置链接").click()
    assert "若该电子邮箱属于某个账户" in page.get_by_role("status").inner_text()
    page.screenshot(path=str(shots / "reset-sent.png"), full_page=True)

    with live_app.app_context():  # the worker's part: send the queued e-mail
        run_pending(db.session, utcnow() + timedelta(seconds=1))
        db.session.remove()
    # The demo world's own notifications go out in the same run; the reset is the one
    # message to this address that carries a reset link.
    resets: list[str] = []
    for _ in range(100):
        resets = [
            body
            for message in inbox.messages
            if message["To"] == EMAIL
            and "/auth/reset/"
            in (body := message.get_body(preferencelist=("plain",)).get_content())
        ]
        if resets:
            break
        time.sleep(0.05)
    [body] = resets
    link = re.search(r"http://\S+/auth/reset/\S+", body).group(0)
    assert link.startswith(live_server)

    page.goto(link)
    page.get_by_label("新密码").fill(NEW)
    page.screenshot(path=str(shots / "reset-confirm.png"), full_page=True)
    page.get_by_role("button", name="设置新密码").click()
    assert page.url.endswith("/login")
    assert "密码已重置" in page.content()

    page.get_by_label("电子邮箱").fill(EMAIL)
    page.get_by_label("密码").fill(NEW)
    page.get_by_role("button", name="登录").click()
    page.goto(f"{live_server}/account")
    assert page.url.endswith("/account")
    # While here: a named token for the carrier's dispatch system, its secret shown once.
    page.get_by_label("名称").fill("调度系统")
    page.locator("input[name=scopes][value=handoffs]").check()
    page.get_by_role("button", name="创建令牌").click()
    assert "只显示这一次" in page.locator("#new-token").inner_text()
    page.screenshot(path=str(shots / "account-token.png"), full_page=True)

    page.goto(link)  # used once: dead now
    assert "该重置链接无效、已过期或已使用" in page.content()
    page.screenshot(path=str(shots / "reset-dead.png"), full_page=True)
    context.close()
