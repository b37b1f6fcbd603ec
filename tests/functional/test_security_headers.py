"""Security headers on every kind of response, ``no-store`` behind login, and external links
built from the configured public base URL only (never from the request's ``Host``).

Route walkers cover every GET page and API read, so a new route is checked the day it is
added; the browser side (the pages satisfy the CSP) is ``tests/e2e/test_csp_pages.py``.
"""

from __future__ import annotations

import io
from typing import Any

import pypdfium2
import pytest
from flask import Flask
from PIL import Image

from hazwaste.public_url import DEVELOPMENT_BASE_URL, PublicBaseUrlMissing
from hazwaste.security import CONTENT_SECURITY_POLICY
from tests import conftest, factories
from tests.conftest import api_token, login
from tests.functional.test_authorization import api_rules, page_rules
from tests.functional.test_documents import decode_qr, pdf_text
from tests.manifest_factories import make_submitted

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
EVIL = {"Host": "evil.example"}


def assert_security_headers(response: Any, url: str) -> None:
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (url, response.status_code, name)
    policy = response.headers["Permissions-Policy"]
    assert "geolocation=(self)" in policy and "camera=(self)" in policy, url


def gets(rules: list[Any]) -> list[Any]:
    return [r for r in rules if "GET" in r.methods]


def test_the_policy_is_strict():
    directives = dict(
        (d.split(" ", 1)[0], d.split(" ", 1)[1]) for d in CONTENT_SECURITY_POLICY.split("; ")
    )
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'" and directives["default-src"] == "'self'"


def test_every_page_behind_login_has_the_headers_and_no_store(app, client, session, now):
    ids = factories.demo_ids(session, now)[1]
    for email in ("producer@demo.test", "regulator@demo.test", "admin@demo.test"):
        login(client, email)
        for rule in gets(page_rules(app)):
            if rule.endpoint in {"accounts.logout", "i18n.switch"}:
                continue
            url = factories.rule_url(app, rule, ids)
            response = client.get(url)
            assert_security_headers(response, url)
            # Pages, PDFs, images, exports, 403/404 pages alike: nothing stays in a cache.
            assert response.headers.get("Cache-Control") == "no-store" or (
                "no-store" in response.headers.get("Cache-Control", "")
            ), (email, url, response.status_code, response.headers.get("Cache-Control"))
        client.post("/logout")


def test_every_api_read_has_the_headers_and_no_store(app, client, session, now):
    ids = factories.demo_ids(session, now)[1]
    headers = api_token(client, "producer@demo.test")
    for rule in gets(api_rules(app)):
        url = factories.rule_url(app, rule, ids)
        response = client.get(url, headers=headers)
        assert_security_headers(response, url)
        if rule.endpoint != "api.openapi":
            assert "no-store" in response.headers.get("Cache-Control", ""), url


def test_documents_and_images_behind_login_are_no_store(app, client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "producer@demo.test")
    for url in (f"/manifests/{m.id}/manifest.pdf", f"/manifests/{m.id}/qr.png"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_security_headers(response, url)
        assert "no-store" in response.headers["Cache-Control"], url
        assert "max-age" not in response.headers["Cache-Control"], url


def test_public_pages_errors_and_static_files(app, client, session, now, demo):
    for url, status in (
        ("/", 200),
        ("/login", 200),
        ("/no-such-page", 404),
        ("/m/forged-token", 404),
        ("/api/v1/manifests", 401),
        ("/api/v1/no-such-endpoint", 404),
        ("/static/css/app.css", 200),
        ("/static/css/scan.css", 200),
        ("/static/js/scan.js", 200),
        ("/static/no-such-file.css", 404),
    ):
        response = client.get(url)
        assert response.status_code == status, (url, response.status_code)
        assert_security_headers(response, url)
        # Logged out: nothing private, so ordinary caching rules.
        assert "no-store" not in response.headers.get("Cache-Control", ""), url
    # A 405 is a response too.
    assert_security_headers(client.put("/login"), "PUT /login")
    # A new API token is in the body of an answer to a client not yet logged in.
    issued = client.post(
        "/api/v1/auth/token", json={"email": "producer@demo.test", "password": "demo-pass-2026"}
    )
    assert issued.status_code == 201
    assert_security_headers(issued, "POST /api/v1/auth/token")
    assert issued.headers["Cache-Control"] == "no-store"
    login(client, "producer@demo.test")
    for url in ("/static/css/app.css", "/static/js/manifest-form.js"):
        response = client.get(url)
        assert response.status_code == 200
        assert_security_headers(response, url)
        # Static assets are the same for everyone: cacheable even for a logged-in user.
        assert "no-store" not in response.headers.get("Cache-Control", ""), url


def test_templates_carry_no_inline_script_or_style():
    """The CSP forbids them; this catches one before the browser test does."""
    from tests.conftest import ROOT

    offenders = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text()
        for needle in (" style=", "<style", "javascript:", " onclick=", " onload=", " onchange="):
            if needle in text:
                offenders.append(f"{path.name}: {needle.strip()}")
        for line in text.splitlines():
            if "<script" in line and "src=" not in line:
                offenders.append(f"{path.name}: inline <script>")
    assert offenders == []


# -- public base URL ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("configured", "base"),
    [("https://hazwaste.example.gov.cn/", "https://hazwaste.example.gov.cn"), (None, None)],
)
def test_qr_pdf_and_label_links_never_come_from_the_host_header(
    app, database_url, monkeypatch, now, configured, base
):
    """A forged ``Host`` printed ``http://evil.example/m/…`` into the PDF when the variable
    was not set; now the configured base, or in development the development address."""
    from hazwaste.demo.services import seed_demo
    from tests.functional.test_labels import containers

    monkeypatch.delenv("HAZWASTE_PUBLIC_BASE_URL", raising=False)
    config = {"PUBLIC_BASE_URL": configured} if configured else {}
    defaults = () if configured else ("PUBLIC_BASE_URL",)
    base = base or DEVELOPMENT_BASE_URL
    with factories.other_app(database_url, defaults, **config) as (application, session):
        demo = seed_demo(session, now)
        m = make_submitted(session, now, demo)
        (container,) = containers(session, now, demo)
        client = application.test_client()
        signed_in = client.post(
            "/login",
            data={"email": "producer@demo.test", "password": "demo-pass-2026"},
            headers=EVIL,
        )
        assert signed_in.status_code == 302
        pdf = client.get(f"/manifests/{m.id}/manifest.pdf", headers=EVIL)
        assert pdf.status_code == 200
        image = pypdfium2.PdfDocument(pdf.data)[0].render(scale=200 / 72).to_pil()
        [url] = decode_qr(image)
        assert url.startswith(f"{base}/m/"), url
        assert url in pdf_text(pdf.data) and "evil.example" not in pdf_text(pdf.data)
        png = client.get(f"/manifests/{m.id}/qr.png", headers=EVIL)
        assert decode_qr(Image.open(io.BytesIO(png.data))) == [url]
        token = client.post(
            "/api/v1/auth/token",
            json={"email": "producer@demo.test", "password": "demo-pass-2026"},
            headers=EVIL,
        ).get_json()["data"]["token"]
        api_png = client.get(
            f"/api/v1/manifests/{m.id}/qr.png", headers={**EVIL, "Authorization": f"Bearer {token}"}
        )
        assert decode_qr(Image.open(io.BytesIO(api_png.data))) == [url]
        label = client.get(f"/containers/{container.id}/label.pdf", headers=EVIL)
        assert label.status_code == 200, label.status_code
        image = pypdfium2.PdfDocument(label.data)[0].render(scale=300 / 72).to_pil()
        assert decode_qr(image) == [f"{base}/c/{container.code}"]


def _app(database_url: str, **config: Any) -> Flask:
    from hazwaste import create_app

    settings = conftest.test_config(database_url, **config)
    if "PUBLIC_BASE_URL" not in config:
        settings.pop("PUBLIC_BASE_URL")
    return create_app(settings)


def test_production_without_base_url_refuses_to_start(database_url, monkeypatch):
    monkeypatch.delenv("HAZWASTE_PUBLIC_BASE_URL", raising=False)
    with pytest.raises(PublicBaseUrlMissing, match="HAZWASTE_PUBLIC_BASE_URL"):
        _app(database_url, TESTING=False, SESSION_COOKIE_SECURE=True)


def test_development_without_base_url_uses_the_development_address(database_url, monkeypatch):
    monkeypatch.delenv("HAZWASTE_PUBLIC_BASE_URL", raising=False)
    # make run: plain HTTP (secure cookies off), not production.
    plain_http = _app(database_url, TESTING=False, SESSION_COOKIE_SECURE=False)
    assert plain_http.config["PUBLIC_BASE_URL"] == DEVELOPMENT_BASE_URL
    assert _app(database_url)  # TESTING


def test_cli_commands_other_than_run_start_without_base_url(database_url, monkeypatch):
    """flask db upgrade / seed-demo / reconcile on a production configuration (.ci/run)."""
    import click

    monkeypatch.delenv("HAZWASTE_PUBLIC_BASE_URL", raising=False)
    production = {"TESTING": False, "SESSION_COOKIE_SECURE": True}
    with click.Context(click.Command("upgrade")):
        application = _app(database_url, **production)
        assert application.config["PUBLIC_BASE_URL"] == ""
    with (
        click.Context(click.Command("run")),
        pytest.raises(PublicBaseUrlMissing, match="HAZWASTE_PUBLIC_BASE_URL"),
    ):
        _app(database_url, **production)


@pytest.mark.parametrize(
    "value", ["evil.example", "ftp://x.example", "https://", "https://x.example/?a=1"]
)
def test_a_malformed_base_url_is_refused(database_url, value):
    with pytest.raises(ValueError, match="HAZWASTE_PUBLIC_BASE_URL"):
        _app(database_url, PUBLIC_BASE_URL=value)


def test_trailing_slash_of_the_base_url_is_dropped(database_url):
    application = _app(database_url, PUBLIC_BASE_URL="https://hazwaste.example.gov.cn/")
    assert application.config["PUBLIC_BASE_URL"] == "https://hazwaste.example.gov.cn"


def test_trusted_hosts_refuse_another_host(database_url, monkeypatch):
    monkeypatch.setenv("HAZWASTE_TRUSTED_HOSTS", "hazwaste.example.gov.cn, localhost")
    application = _app(database_url, PUBLIC_BASE_URL="https://hazwaste.example.gov.cn")
    assert application.config["TRUSTED_HOSTS"] == ["hazwaste.example.gov.cn", "localhost"]
    web = application.test_client()
    assert web.get("/login", headers={"Host": "hazwaste.example.gov.cn"}).status_code == 200
    refused = web.get("/login", headers=EVIL)
    assert refused.status_code == 400
    assert_security_headers(refused, "/login with a forged Host")
    api = web.get("/api/v1/manifests", headers=EVIL)
    assert api.status_code == 400 and api.get_json()["error"]["code"] == "bad_request"
