"""Security settings that the test app switches off: CSRF, login rate limits, cookie flags.

Each test builds its own app (``tests.factories.other_app``) with the setting on, on the same
test database, inside a transaction that is rolled back.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, text

from hazwaste.accounts import services as accounts
from hazwaste.accounts.models import User
from hazwaste.demo.services import DEMO_PASSWORD, seed_demo
from hazwaste.extensions import db
from tests import factories
from tests.conftest import FAST_HASH, api_token, login

EN = {"Accept-Language": "en"}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_MESSAGE = "The form expired or was sent from another site. Please reload and try again."


def csrf_token(client: Any, url: str = "/login") -> str:
    page = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def table_counts(session: Any) -> dict[str, int]:
    """Row count of every table: a POST refused by CSRF must not change any of them."""
    return {
        table.name: session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def world_ids(session: Any, now: Any) -> dict[str, Any]:
    return factories.demo_ids(session, now)[1]


# -- CSRF --------------------------------------------------------------------------------------


@pytest.fixture()
def csrf_app(app, database_url):
    with factories.other_app(database_url, WTF_CSRF_ENABLED=True) as (application, session):
        yield application, session


def test_every_form_post_without_token_is_refused(csrf_app, now):
    application, session = csrf_app
    ids = world_ids(session, now)
    client = application.test_client()
    token = csrf_token(client)
    response = client.post(
        "/login",
        data={"email": "producer@demo.test", "password": DEMO_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302, "a login with its token works"

    rules = [
        r
        for r in application.url_map.iter_rules()
        if r.methods & STATE_CHANGING and not r.rule.startswith("/api/")
    ]
    assert len(rules) >= 15, "the walker found the application's forms"
    before = table_counts(session)
    for rule in rules:
        url = factories.rule_url(application, rule, ids)
        for data in ({}, {"csrf_token": "forged-token"}):
            response = client.post(url, data=data, headers=EN)
            assert response.status_code == 400, (rule.rule, response.status_code)
            page = response.get_data(as_text=True)
            assert CSRF_MESSAGE in page, rule.rule
            assert "Traceback" not in page
    session.expire_all()
    assert table_counts(session) == before
    # POST /logout without a token did not log the user out.
    assert client.get("/account").status_code == 200


def test_post_with_the_token_goes_through(csrf_app, now):
    application, session = csrf_app
    world_ids(session, now)
    client = application.test_client()
    login_token = csrf_token(client)
    client.post(
        "/login",
        data={"email": "producer@demo.test", "password": DEMO_PASSWORD, "csrf_token": login_token},
    )
    token = csrf_token(client, "/organization/users")
    response = client.post(
        "/organization/users",
        data={
            "csrf_token": token,
            "name": "新同事",
            "email": "csrf-ok@demo.test",
            "password": "some-pass-2026",
            "role": "member",
        },
    )
    assert response.status_code == 302
    assert factories.user_by_email(session, "csrf-ok@demo.test") is not None
    # A token is bound to its session: another visitor's token is refused.
    other = application.test_client()
    response = other.post(
        "/login",
        data={"email": "producer@demo.test", "password": DEMO_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 400


#: Open without a token: getting one, the password reset and the e-mail verification (their
#: link's token is the credential), the API description, the audit log's public proofs.
PUBLIC_API = {
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


def test_api_is_exempt_from_csrf_but_needs_a_bearer_token(csrf_app, now):
    application, session = csrf_app
    ids = world_ids(session, now)
    client = application.test_client()
    # No CSRF token: the token endpoint works (the API never reads cookies) …
    headers = api_token(client, "producer@demo.test")
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    # … and a cookie session alone opens nothing in the API.
    login_token = csrf_token(client)
    client.post(
        "/login",
        data={"email": "producer@demo.test", "password": DEMO_PASSWORD, "csrf_token": login_token},
    )
    api_rules = [
        r
        for r in application.url_map.iter_rules()
        if r.rule.startswith("/api/") and r.endpoint not in PUBLIC_API
    ]
    assert api_rules
    for rule in api_rules:
        url = factories.rule_url(application, rule, ids)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, json={})
            assert response.status_code == 401, (method, rule.rule)
            assert response.get_json()["error"]["code"] == "unauthorized"
            if method in STATE_CHANGING:
                with_token = client.open(url, method=method, json={}, headers=headers)
                assert with_token.status_code != 400 or (
                    with_token.get_json()["error"]["message"] != CSRF_MESSAGE
                )


# -- rate limits -------------------------------------------------------------------------------


@pytest.fixture()
def limited_app(app, database_url, now):
    with factories.other_app(
        database_url,
        RATELIMIT_ENABLED=True,
        LOGIN_RATE_LIMIT="3 per minute",
        LOGIN_ADDRESS_RATE_LIMIT="5 per minute",
    ) as (application, session):
        seed_demo(session, now)
        session.commit()
        yield application, session


def _login(
    client: Any,
    password: str,
    email: str = "producer@demo.test",
    address: str = "203.0.113.1",
    headers: dict[str, str] = EN,
) -> Any:
    return client.post(
        "/login",
        data={"email": email, "password": password},
        headers=headers,
        environ_base={"REMOTE_ADDR": address},
    )


def _token(client: Any, password: str, email: str = "producer@demo.test", address: str = "") -> Any:
    return client.post(
        "/api/v1/auth/token",
        json={"email": email, "password": password},
        headers=EN,
        environ_base={"REMOTE_ADDR": address or "203.0.113.1"},
    )


def _retry_after(response: Any) -> int:
    seconds = int(response.headers["Retry-After"])
    assert 1 <= seconds <= 60, "a '3 per minute' window resets within the minute"
    return seconds


def test_failed_logins_are_rate_limited(limited_app):
    application, _session = limited_app
    client = application.test_client()
    for _ in range(3):
        assert _login(client, "wrong-password").status_code == 422
    response = _login(client, "wrong-password")
    assert response.status_code == 429
    _retry_after(response)
    page = response.get_data(as_text=True)
    assert "Too many failed login attempts. Please try again in 1 minute." in page
    assert "Traceback" not in page
    assert 'value="producer@demo.test"' in page, "the form keeps the e-mail typed"
    # Now even the right password waits: that is the point of the limit.
    assert _login(client, DEMO_PASSWORD).status_code == 429
    # In Chinese, with the waiting time too.
    response = _login(client, DEMO_PASSWORD, headers={"Accept-Language": "zh-CN"})
    assert "登录失败次数过多，请在 1 分钟后再试。" in response.get_data(as_text=True)
    # Another account from the same address is counted separately (below the address limit).
    assert _login(client, DEMO_PASSWORD, "carrier@demo.test").status_code == 302
    # Showing the login page is never limited.
    assert client.get("/login").status_code == 200


def test_account_limit_holds_across_addresses(limited_app):
    application, _session = limited_app
    client = application.test_client()
    for i in range(3):
        assert _login(client, "wrong-password", address=f"203.0.113.{10 + i}").status_code == 422
    for address in ("198.51.100.7", "2001:db8::1"):
        response = _login(client, DEMO_PASSWORD, address=address)
        assert response.status_code == 429, address
        _retry_after(response)
    # The address limit is not reached: another account logs in from those addresses.
    assert _login(client, DEMO_PASSWORD, "carrier@demo.test", "203.0.113.10").status_code == 302


def test_address_limit_holds_across_accounts(limited_app):
    application, _session = limited_app
    client = application.test_client()
    emails = ["producer@demo.test", "producer2@demo.test", "nobody@demo.test"]
    emails += ["carrier@demo.test", "nobody2@demo.test"]
    for email in emails:
        assert _login(client, "wrong-password", email).status_code == 422
    response = _login(client, DEMO_PASSWORD, "receiver@demo.test")
    assert response.status_code == 429, "an account never tried from here is refused too"
    _retry_after(response)
    assert _token(client, DEMO_PASSWORD, "receiver@demo.test").status_code == 429
    # The same account from another address is fine (one failure on it so far).
    other = application.test_client()
    assert _login(other, DEMO_PASSWORD, "producer@demo.test", "198.51.100.7").status_code == 302


def test_web_and_api_share_the_counter(limited_app):
    application, _session = limited_app
    client = application.test_client()
    assert _login(client, "wrong-password").status_code == 422
    assert _token(client, "wrong-password").status_code == 401
    assert _login(client, "wrong-password", address="198.51.100.7").status_code == 422
    response = _token(client, DEMO_PASSWORD, address="198.51.100.8")
    assert response.status_code == 429
    error = response.get_json()["error"]
    assert error["code"] == "rate_limited"
    assert error["message"] == "Too many failed login attempts. Please try again in 1 minute."
    assert error["retry_after"] == _retry_after(response)
    assert _login(client, DEMO_PASSWORD, address="198.51.100.9").status_code == 429


def test_successful_logins_do_not_count(limited_app):
    application, _session = limited_app
    client = application.test_client()
    assert _login(client, "wrong-password").status_code == 422
    assert _login(client, "wrong-password").status_code == 422
    for _ in range(5):
        assert _login(client, DEMO_PASSWORD).status_code == 302
        client.post("/logout")
        assert _token(client, DEMO_PASSWORD).status_code == 201
    assert _login(client, "wrong-password").status_code == 422
    assert _login(client, "wrong-password").status_code == 429


def test_token_endpoint_is_rate_limited(limited_app):
    application, _session = limited_app
    client = application.test_client()
    for _ in range(3):
        assert _token(client, "nope").status_code == 401
    response = _token(client, DEMO_PASSWORD)
    assert response.status_code == 429
    _retry_after(response)
    error = response.get_json()["error"]
    assert error["code"] == "rate_limited"
    assert error["message"] and error["fields"] == {}
    # Another account is not blocked, and its successes do not count.
    for _ in range(5):
        assert _token(client, DEMO_PASSWORD, "carrier@demo.test").status_code == 201


def test_address_behind_a_proxy_is_the_forwarded_one(app, database_url, now):
    """With HAZWASTE_PROXY_HOPS=1 the per-address counter uses the proxy's X-Forwarded-For:
    clients behind the same proxy are not one address, and a client cannot pick its own."""
    with factories.other_app(
        database_url,
        RATELIMIT_ENABLED=True,
        LOGIN_RATE_LIMIT="10 per minute",
        LOGIN_ADDRESS_RATE_LIMIT="2 per minute",
        PROXY_HOPS=1,
    ) as (application, session):
        seed_demo(session, now)
        session.commit()
        client = application.test_client()

        def attempt(forwarded: str, password: str = "wrong-password") -> int:
            response = client.post(
                "/login",
                data={"email": "producer@demo.test", "password": password},
                headers={"X-Forwarded-For": forwarded},
                environ_base={"REMOTE_ADDR": "127.0.0.1"},
            )
            return int(response.status_code)

        assert [attempt("198.51.100.1") for _ in range(3)] == [422, 422, 429]
        assert attempt("198.51.100.2", DEMO_PASSWORD) == 302, "another client of the proxy"
        # A forged first hop does not help: the proxy's own entry (the last) counts.
        assert attempt("203.0.113.9, 198.51.100.1", DEMO_PASSWORD) == 429


def test_unreachable_throttle_storage_never_gives_500(limited_app, monkeypatch):
    from hazwaste.extensions import limiter

    application, _session = limited_app

    def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("redis is down")

    strategy = type(limiter.limiter)
    monkeypatch.setattr(strategy, "test", down)
    monkeypatch.setattr(strategy, "hit", down)
    client = application.test_client()
    assert _login(client, "wrong-password").status_code == 422
    assert _token(client, "wrong-password").status_code == 401
    assert _login(client, DEMO_PASSWORD).status_code == 302
    assert _token(client, DEMO_PASSWORD).status_code == 201


def test_login_limits_come_from_the_environment(app, monkeypatch):
    from hazwaste import create_app
    from tests.conftest import test_config

    monkeypatch.setenv("HAZWASTE_LOGIN_RATE_LIMIT", "4 per hour")
    monkeypatch.setenv("HAZWASTE_LOGIN_ADDRESS_RATE_LIMIT", "40 per hour")
    settings = test_config(app.config["SQLALCHEMY_DATABASE_URI"])
    configured = create_app(settings)
    assert configured.config["LOGIN_RATE_LIMIT"] == "4 per hour"
    assert configured.config["LOGIN_ADDRESS_RATE_LIMIT"] == "40 per hour"


# -- cookies and password hashes ------------------------------------------------------------------


def _cookie(response: Any, name: str) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(name + "=")]
    assert cookies, f"no {name} cookie set"
    return cookies[-1]


def test_cookie_flags_with_default_config(app, database_url, now, monkeypatch):
    monkeypatch.delenv("HAZWASTE_SECURE_COOKIES", raising=False)
    # test_config turns Secure off for plain-HTTP test servers; use the real defaults here.
    with factories.other_app(
        database_url, defaults=("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE")
    ) as (application, session):
        assert application.config["SESSION_COOKIE_SECURE"] is True
        seed_demo(session, now)
        session.commit()
        client = application.test_client()
        response = client.post(
            "/login",
            data={"email": "producer@demo.test", "password": DEMO_PASSWORD},
            base_url="https://localhost",
        )
        assert response.status_code == 302
        cookie = _cookie(response, application.config["SESSION_COOKIE_NAME"])
        attributes = {
            part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]
        }
        assert "httponly" in attributes
        assert "secure" in attributes
        assert attributes["samesite"] == "SameSite=Lax"
        lang = _cookie(client.get("/lang/en", base_url="https://localhost"), "lang")
        assert "HttpOnly" in lang and "Secure" in lang and "SameSite=Lax" in lang


def test_passwords_are_argon2id_hashes(session, now):
    _org, user = factories.organization(session, now)
    assert user.password_hash.startswith("$argon2id$")
    assert factories.PASSWORD not in user.password_hash
    assert accounts.hash_password("same") != accounts.hash_password("same"), "salted"
    # Production parameters are argon2-cffi's defaults (RFC 9106 low-memory profile).
    assert PasswordHasher().hash("x").startswith("$argon2id$")


def test_hash_with_old_parameters_is_upgraded_at_login(session, now):
    _org, user = factories.organization(session, now)
    old = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=2).hash(factories.PASSWORD)
    user.password_hash = old
    session.flush()
    assert accounts.authenticate(session, now, user.email, factories.PASSWORD) is user
    assert user.password_hash != old
    assert f"m={FAST_HASH['memory_cost']},t={FAST_HASH['time_cost']}" in user.password_hash
    assert accounts.authenticate(session, now, user.email, factories.PASSWORD) is user


def test_unknown_email_and_wrong_password_both_verify_a_hash(session, now, monkeypatch):
    """An unknown address costs the same Argon2 verification as a wrong password."""
    calls: list[str] = []
    real = accounts._hasher

    class Spy:
        def verify(self, hash_: str, password: str) -> bool:
            calls.append(hash_)
            return real.verify(hash_, password)

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    monkeypatch.setattr(accounts, "_hasher", Spy())
    _org, user = factories.organization(session, now)
    assert accounts.authenticate(session, now, "nobody@factory.test", "x") is None
    assert accounts.authenticate(session, now, user.email, "x") is None
    assert len(calls) == 2 and all(h.startswith("$argon2id$") for h in calls)


def test_tokens_are_stored_hashed(client, session, demo):
    headers = api_token(client, "producer@demo.test")
    token = headers["Authorization"].split(" ", 1)[1]
    stored = session.execute(text("SELECT token_hash FROM api_tokens")).scalars().all()
    assert len(stored) == 1 and token not in stored[0] and len(stored[0]) == 64
    assert session.scalar(select(User).where(User.email == "producer@demo.test")) is not None
    login(client, "producer@demo.test")
