"""Route walkers: every page and every API endpoint of ``app.url_map`` is checked, so a new
route is covered the day it is added.

* Anonymous visitors get the public pages and are sent to the login page from everything
  else (never a page's content, never a 404 that tells whether an object exists).
* The API answers 401 without a bearer token, except where a token cannot be needed.
* Every demo user gets a proper answer (200, redirect, 403, 404, 422) from every page,
  never a 500.
"""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.routing import Rule

from tests import factories
from tests.conftest import api_token, login

#: Pages anyone may GET (DESIGN §1: visitors see the front page, register and log in).
#: The audit log's transparency page is public by design: anyone may copy the tree heads.
PUBLIC_PAGES = {
    "web.home",
    "accounts.login",
    "accounts.register",
    "accounts.reset_request",
    "developers.docs",  # how a receiver checks our signatures: documentation
    "web.healthz",
    "audit.transparency",
}
#: Public by design, with their own rules:
#: - the language switcher redirects back to a same-site page;
#: - the manifest QR's scan page shows a logged-out person (a road inspector) the minimal
#:   verification view (DESIGN §4);
#: - logging out when not logged in just goes to the front page;
#: - a 双随机 inspection draw is published (一公开): its page is open to anyone;
#: - a password reset link's page: the signed token in its path is the credential (an
#:   invalid or used one is a 404 page saying so); so is an e-mail verification link's.
SPECIAL = {
    "i18n.switch",
    "scan.manifest",
    "accounts.logout",
    "oversight.public_draw",
    "accounts.reset_confirm",
    "accounts.verify_email",
}
#: API endpoints that cannot need a token: getting one, the public API description, and the
#: audit log's tree heads, key and proofs (public so that anyone can check them).
API_PUBLIC = {
    "api.token",
    "api.password_reset",
    "api.password_reset_confirm",
    "api.verify_email_confirm",
    "api.openapi",
    "api.checkpoints",
    "api.checkpoint_key",
    "api.entry_proof",
    "api.consistency",
}
READ = "GET"


def page_rules(app) -> list[Rule]:
    return sorted(
        (
            r
            for r in app.url_map.iter_rules()
            if r.endpoint != "static" and not r.rule.startswith("/api/")
        ),
        key=lambda r: (r.rule, sorted(r.methods)),
    )


def api_rules(app) -> list[Rule]:
    return sorted(
        (r for r in app.url_map.iter_rules() if r.rule.startswith("/api/")),
        key=lambda r: (r.rule, sorted(r.methods)),
    )


def methods(rule: Rule) -> list[str]:
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


@pytest.fixture()
def ids(session, now) -> dict[str, Any]:
    return factories.demo_ids(session, now)[1]


def test_walkers_see_the_application(app):
    endpoints = {r.endpoint for r in page_rules(app)}
    assert endpoints >= PUBLIC_PAGES | SPECIAL
    assert {
        "accounts.admin_organizations",
        "catalog.waste_codes",
        "permits.licences",
        "manifests.index",
    } <= endpoints
    assert API_PUBLIC | {"api.me", "api.organization", "api.waste_codes"} <= {
        r.endpoint for r in api_rules(app)
    }


def test_anonymous_visitor_is_sent_to_login(app, client, ids):
    checked = 0
    for rule in page_rules(app):
        url = factories.rule_url(app, rule, ids)
        for method in methods(rule):
            response = client.open(url, method=method)
            where = f"{method} {rule.rule}"
            location = response.headers.get("Location", "")
            if rule.endpoint in PUBLIC_PAGES and method == READ:
                assert response.status_code == 200, where
            elif rule.endpoint == "i18n.switch":
                assert response.status_code == 302 and location == "/", where
            elif rule.endpoint == "scan.manifest":
                assert response.status_code == 200, where
                page = response.get_data(as_text=True)
                assert 'action="/logout"' not in page
            elif rule.endpoint == "accounts.logout":
                assert response.status_code == 302 and location == "/", where
            elif rule.endpoint == "oversight.public_draw":
                assert response.status_code in (200, 404), where
            elif rule.endpoint == "accounts.reset_confirm":  # a made-up token: dead link
                expected = 404 if method == READ else 422
                assert response.status_code == expected, where
                assert "该重置链接无效" in response.get_data(as_text=True), where
            elif rule.endpoint == "accounts.verify_email":  # a made-up token: dead link
                assert response.status_code == 404, where
                assert "该验证链接无效" in response.get_data(as_text=True), where
            elif method == READ or (method == "POST" and rule.endpoint not in PUBLIC_PAGES):
                assert response.status_code == 302, (where, response.status_code)
                assert location.startswith("/login?next="), (where, location)
            else:  # POST to the login and registration forms: a form error, not a redirect
                assert response.status_code == 422, where
            checked += 1
    assert checked >= 40


def test_login_next_brings_the_visitor_back(app, client, ids):
    """The redirect remembers the page (with its query) and login returns there."""
    rule = next(r for r in page_rules(app) if r.endpoint == "manifests.detail")
    url = factories.rule_url(app, rule, ids)
    location = client.get(url + "?tab=events").headers["Location"]
    response = client.post(
        location, data={"email": "producer@demo.test", "password": "demo-pass-2026"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == url + "?tab=events"


def test_forged_scan_token_is_not_a_page(app, client, ids):
    response = client.get("/m/" + ids["token"][:-2] + "xx")
    assert response.status_code == 404
    assert "Traceback" not in response.get_data(as_text=True)


def test_api_needs_a_bearer_token(app, client, ids):
    checked = 0
    for rule in api_rules(app):
        url = factories.rule_url(app, rule, ids)
        for method in methods(rule):
            response = client.open(url, method=method, json={})
            where = f"{method} {rule.rule}"
            if rule.endpoint in API_PUBLIC:
                assert response.status_code != 401, where
                continue
            assert response.status_code == 401, (where, response.status_code)
            error = response.get_json()["error"]
            assert error["code"] == "unauthorized", where
            assert response.headers["WWW-Authenticate"].startswith("Bearer"), where
            checked += 1
    assert checked >= 3
    assert client.get("/api/v1/openapi.json").status_code == 200


USERS = [
    "admin@demo.test",
    "producer@demo.test",
    "producer-staff@demo.test",
    "producer2@demo.test",
    "carrier@demo.test",
    "driver@demo.test",
    "receiver@demo.test",
    "receiver2@demo.test",
    "regulator@demo.test",
    "regulator-otog@demo.test",
    "pending@demo.test",
]


@pytest.mark.parametrize("email", USERS)
def test_every_page_answers_every_user_properly(app, client, ids, email):
    """GET every page as each kind of user: a page, a redirect, 403, 404 or 409 (e.g. editing
    a manifest that is no longer a draft) — never a 500."""
    login(client, email)
    for rule in page_rules(app):
        if READ not in rule.methods or rule.endpoint == "accounts.logout":
            continue
        url = factories.rule_url(app, rule, ids)
        response = client.get(url)
        assert response.status_code in (200, 302, 303, 403, 404, 409, 422), (
            email,
            rule.rule,
            response.status_code,
        )
        if response.mimetype.startswith("text/"):  # PDFs and PNGs are binary
            assert "Traceback" not in response.get_data(as_text=True)
    assert client.get("/account").status_code == 200, "still logged in"


@pytest.mark.parametrize("email", USERS)
def test_every_api_read_answers_every_user_properly(app, client, ids, email):
    headers = api_token(client, email)
    for rule in api_rules(app):
        if READ not in rule.methods:
            continue
        response = client.get(factories.rule_url(app, rule, ids), headers=headers)
        assert response.status_code in (200, 403, 404, 422), (
            email,
            rule.rule,
            response.status_code,
        )
        if response.mimetype == "application/json" and response.status_code >= 400:
            assert set(response.get_json()["error"]) >= {"code", "message", "fields"}


ADMIN_PAGES = ["/admin/organizations", "/admin/regulators"]
ORG_ADMIN_PAGES = ["/organization", "/organization/users"]


@pytest.mark.parametrize(
    "email, admin_pages, org_pages",
    [
        ("admin@demo.test", 200, 403),
        ("producer@demo.test", 403, 200),
        ("producer-staff@demo.test", 403, 403),
        ("driver@demo.test", 403, 403),
        ("regulator@demo.test", 403, 403),
        ("pending@demo.test", 403, 403),
    ],
)
def test_account_pages_by_role(app, client, ids, email, admin_pages, org_pages):
    login(client, email)
    for url in ADMIN_PAGES:
        assert client.get(url).status_code == admin_pages, (email, url)
    assert client.get(f"/admin/regulators/{ids['body_id']}/users").status_code == admin_pages
    for url in ORG_ADMIN_PAGES:
        assert client.get(url).status_code == org_pages, (email, url)
    assert client.get("/account").status_code == 200
    assert client.get("/catalog/waste-codes").status_code == 200


def test_ids_beyond_the_integer_range_are_404(app, client, ids):
    """``/manifests/2147483648`` is not a 500 on PostgreSQL ("integer out of range")."""
    too_big = str(2**31)
    login(client, "producer@demo.test")
    headers = api_token(client, "producer@demo.test")
    for rule in [*page_rules(app), *api_rules(app)]:
        int_args = [
            a for a in rule.arguments if type(rule._converters[a]).__name__ == "IdConverter"
        ]
        if not int_args or READ not in rule.methods:
            continue
        url = factories.rule_url(app, rule, {**ids, **dict.fromkeys(int_args, too_big)})
        response = client.get(url, headers=headers if rule.rule.startswith("/api/") else {})
        assert response.status_code == 404, (rule.rule, response.status_code)


def test_long_numbers_in_text_parameters_are_not_500(app, client, ids):
    login(client, "producer@demo.test")
    headers = api_token(client, "producer@demo.test")
    failures = []
    for rule in [*page_rules(app), *api_rules(app)]:
        text_args = [
            a for a in rule.arguments if type(rule._converters[a]).__name__ == "UnicodeConverter"
        ]
        if not text_args or READ not in rule.methods or rule.endpoint == "static":
            continue
        url = factories.rule_url(app, rule, {**ids, **dict.fromkeys(text_args, "20261506000001")})
        response = client.get(url, headers=headers if rule.rule.startswith("/api/") else {})
        if response.status_code >= 500:
            failures.append(rule.rule)
    assert failures == []
