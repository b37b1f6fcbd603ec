"""The public transparency page: no login, Chinese first, China time, the public key, and a
link to it from every page's footer."""

from __future__ import annotations

import base64

from sqlalchemy import text

from tests import factories


def test_page_lists_signed_tree_heads_without_login(app, client, session, now):
    factories.organization(session, now)
    session.commit()
    out = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert out.exit_code == 0
    root = session.scalar(text("SELECT root_hash FROM audit_checkpoints"))
    signature = session.scalar(text("SELECT signature FROM audit_checkpoints"))
    # The CLI signs at the real time; pin it so the page's China time can be checked.
    session.execute(text("UPDATE audit_checkpoints SET issued_at = :t"), {"t": now})

    page = client.get("/transparency")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'lang="zh-CN"' in html, "Chinese unless the browser asks otherwise"
    assert "审计日志公开验证" in html and "已签名的树头" in html
    assert root in html and signature in html
    assert "2026年11月20日 10:00:00" in html, "02:00 UTC shown as China time"
    key = client.get("/api/v1/audit/checkpoints/key").get_json()["data"]
    assert key["public_key"] in html and len(base64.b64decode(key["public_key"])) == 32
    assert "BEGIN PUBLIC KEY" in html

    english = client.get("/transparency", headers={"Accept-Language": "en"})
    body = english.get_data(as_text=True)
    assert "Audit log transparency" in body and "Signed tree heads" in body


def test_empty_log_and_footer_link(client, session):
    html = client.get("/transparency", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "No tree head has been signed yet." in html
    home = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'href="/transparency"' in home
