"""Login sessions live on the server: a password change, a logout, "log out everywhere" and
a deactivation end them, whatever copies of the cookie exist. API tokens can be listed and
revoked by their owner.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask_login.config import COOKIE_NAME
from flask_login.utils import encode_cookie
from sqlalchemy import select

from hazwaste.accounts.models import ApiToken, User, UserSession
from hazwaste.demo.services import DEMO_PASSWORD
from tests.conftest import api_token, login

EN = {"Accept-Language": "en"}
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Mobile Safari/537.36"
)


def logged_in(app: Any, email: str, user_agent: str = FIREFOX) -> Any:
    """A new browser (test client) logged in as ``email``."""
    browser = app.test_client()
    browser.environ_base["HTTP_USER_AGENT"] = user_agent
    login(browser, email)
    return browser


def is_logged_in(browser: Any) -> bool:
    response = browser.get("/account")
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login")
    return response.status_code == 200


def records(session: Any, email: str) -> list[UserSession]:
    session.expire_all()
    user = session.scalar(select(User).where(User.email == email))
    return list(
        session.scalars(
            select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id)
        )
    )


def cookie_of(browser: Any, app: Any) -> str:
    return browser.get_cookie(app.config["SESSION_COOKIE_NAME"]).value


def bearer(headers: dict[str, str]) -> str:
    return headers["Authorization"].split(" ", 1)[1]


# -- server-side sessions ----------------------------------------------------------------------


def test_password_change_ends_the_other_sessions(app, client, session, demo):
    first = logged_in(app, "producer@demo.test")
    second = logged_in(app, "producer@demo.test", PHONE)
    token = api_token(client, "producer@demo.test")
    assert is_logged_in(first) and is_logged_in(second)
    response = first.post(
        "/account/password",
        data={"current_password": DEMO_PASSWORD, "new_password": "a-brand-new-pass-2026"},
    )
    assert response.status_code == 302
    assert is_logged_in(first), "the browser that changed the password stays logged in"
    assert not is_logged_in(second)
    assert client.get("/api/v1/me", headers=token).status_code == 401
    ended = [r for r in records(session, "producer@demo.test") if r.ended_at is not None]
    assert [r.end_reason for r in ended] == ["password_changed"]


def test_copied_cookie_is_refused_after_logout(app, client, session, demo):
    browser = logged_in(app, "producer@demo.test")
    copy = app.test_client()
    copy.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie_of(browser, app))
    assert is_logged_in(copy), "the copy works while the session runs"
    assert browser.post("/logout").status_code == 302
    assert not is_logged_in(browser)
    assert not is_logged_in(copy)
    [record] = records(session, "producer@demo.test")
    assert record.ended_at is not None and record.end_reason == "logout"


def test_remember_cookie_without_a_session_is_refused(app, client, session, demo):
    """A remember-me cookie (never set by the app) carries no session record."""
    user = demo.users["producer"]
    browser = app.test_client()
    browser.set_cookie(COOKIE_NAME, encode_cookie(str(user.id)))
    assert not is_logged_in(browser)


def test_log_out_everywhere_else_and_everywhere(app, client, session, demo):
    here = logged_in(app, "producer@demo.test")
    phone = logged_in(app, "producer@demo.test", PHONE)
    laptop = logged_in(app, "producer@demo.test")
    colleague = logged_in(app, "producer-staff@demo.test")
    token = api_token(client, "producer@demo.test")

    response = here.post("/account/sessions/end-others", headers=EN)
    assert response.status_code == 302
    assert "Logged out of 2 other sessions." in here.get("/account", headers=EN).get_data(
        as_text=True
    )
    assert is_logged_in(here)
    assert not is_logged_in(phone) and not is_logged_in(laptop)
    assert is_logged_in(colleague), "another user's sessions are not touched"
    assert client.get("/api/v1/me", headers=token).status_code == 200, "tokens stay"

    again = logged_in(app, "producer@demo.test")
    response = here.post("/account/sessions/end-all")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert not is_logged_in(here) and not is_logged_in(again)
    assert client.get("/api/v1/me", headers=token).status_code == 401, "everywhere: tokens too"
    assert is_logged_in(colleague)
    assert all(r.ended_at is not None for r in records(session, "producer@demo.test"))


def test_account_page_lists_and_ends_one_session(app, client, session, demo):
    here = logged_in(app, "producer@demo.test")
    phone = logged_in(app, "producer@demo.test", PHONE)
    mine = records(session, "producer@demo.test")
    phone_record = mine[-1]
    # Times are shown in China time: 02:00 UTC is 10:00 in Beijing.
    phone_record.created_at = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    session.commit()
    page = here.get("/account").get_data(as_text=True)
    assert "Chrome · Android" in page and "Firefox · Linux" in page
    assert "2026年11月20日 10:00:00" in page
    assert page.count("/account/sessions/") == 2 + 2  # one button each, plus the two for all

    response = here.post(f"/account/sessions/{phone_record.id}/end")
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert not is_logged_in(phone) and is_logged_in(here)
    assert f"/account/sessions/{phone_record.id}/end" not in here.get("/account").get_data(
        as_text=True
    )
    # An ended session cannot be ended twice; ending the current one logs this browser out.
    assert here.post(f"/account/sessions/{phone_record.id}/end").status_code == 404
    here_record = mine[0]
    response = here.post(f"/account/sessions/{here_record.id}/end")
    assert response.headers["Location"] == "/login"
    assert not is_logged_in(here)


def test_nobody_ends_another_users_session(app, client, session, demo):
    victim = logged_in(app, "producer2@demo.test")
    [record] = records(session, "producer2@demo.test")
    token = api_token(client, "producer2@demo.test")
    [token_row] = session.scalars(
        select(ApiToken).where(ApiToken.user_id == demo.users["producer2"].id)
    ).all()
    for email in ("producer@demo.test", "admin@demo.test", "regulator@demo.test"):
        attacker = logged_in(app, email)
        assert attacker.post(f"/account/sessions/{record.id}/end").status_code == 404
        assert attacker.post(f"/account/tokens/{token_row.id}/revoke").status_code == 404
        attacker.post("/account/sessions/end-all")
    assert is_logged_in(victim)
    assert client.get("/api/v1/me", headers=token).status_code == 200


def test_session_pages_need_login(client, session, demo):
    for url in (
        "/account/sessions/1/end",
        "/account/sessions/end-others",
        "/account/sessions/end-all",
        "/account/tokens/1/revoke",
    ):
        response = client.post(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login"), url
    assert client.get("/account").status_code == 302


def test_deactivation_ends_the_users_sessions_and_tokens(app, client, session, demo):
    driver = demo.users["driver"]
    browser = logged_in(app, "driver@demo.test", PHONE)
    token = api_token(client, "driver@demo.test")
    admin = logged_in(app, "carrier@demo.test")
    assert admin.post(f"/organization/users/{driver.id}/active", data={"active": "0"}).status_code
    assert not is_logged_in(browser)
    assert client.get("/api/v1/me", headers=token).status_code == 401
    # Reactivation brings neither the old cookie nor the old token back.
    admin.post(f"/organization/users/{driver.id}/active", data={"active": "1"})
    session.expire_all()
    assert driver.active is True
    assert not is_logged_in(browser)
    assert client.get("/api/v1/me", headers=token).status_code == 401
    assert [r.end_reason for r in records(session, "driver@demo.test")] == ["deactivated"]
    assert is_logged_in(logged_in(app, "driver@demo.test")), "a new login works"


def test_last_seen_is_written_at_most_every_few_minutes(app, client, session, demo):
    browser = logged_in(app, "producer@demo.test")
    [record] = records(session, "producer@demo.test")
    first_seen = record.last_seen_at
    for _ in range(3):
        assert is_logged_in(browser)
    [record] = records(session, "producer@demo.test")
    assert record.last_seen_at == first_seen, "not written on every request"

    earlier = first_seen - app.config["SESSION_TOUCH_INTERVAL"] - timedelta(seconds=1)
    record.last_seen_at = earlier
    session.commit()
    assert is_logged_in(browser)
    [record] = records(session, "producer@demo.test")
    assert record.last_seen_at > earlier + app.config["SESSION_TOUCH_INTERVAL"]


def test_idle_session_expires(app, client, session, demo):
    browser = logged_in(app, "producer@demo.test")
    [record] = records(session, "producer@demo.test")
    record.last_seen_at -= app.config["PERMANENT_SESSION_LIFETIME"]
    session.commit()
    assert not is_logged_in(browser)


def test_forged_session_values_are_refused(app, client, session, demo):
    browser = logged_in(app, "producer@demo.test")
    [record] = records(session, "producer@demo.test")
    other = demo.users["producer2"]
    for value in (f"{record.id}.wrong-secret", "garbage", f"{record.id}", None, 12):
        with browser.session_transaction() as cookie:
            cookie["hz_session"] = value
        assert not is_logged_in(browser), value
    # The right record and secret for another user id: refused as well.
    fresh = logged_in(app, "producer@demo.test")
    with fresh.session_transaction() as cookie:
        cookie["_user_id"] = str(other.id)
    assert not is_logged_in(fresh)


# -- API tokens -------------------------------------------------------------------------------


def test_delete_revokes_the_token_of_the_request(client, session, demo):
    first = api_token(client, "producer@demo.test")
    second = api_token(client, "producer@demo.test")
    response = client.delete("/api/v1/auth/token", headers=first)
    assert response.status_code == 204 and response.get_data() == b""
    assert client.get("/api/v1/me", headers=first).status_code == 401
    assert client.delete("/api/v1/auth/token", headers=first).status_code == 401
    assert client.get("/api/v1/me", headers=second).status_code == 200


def test_token_listing_and_revocation(client, session, demo):
    first = api_token(client, "producer@demo.test")
    second = api_token(client, "producer@demo.test")
    others = api_token(client, "producer2@demo.test")
    response = client.get("/api/v1/auth/tokens", headers=first)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    for secret in (bearer(first), bearer(second), bearer(others)):
        assert secret not in body
    listed = response.get_json()["data"]
    assert len(listed) == 2 and response.get_json()["meta"]["count"] == 2
    for item in listed:
        assert set(item) == {
            "id",
            "name",
            "scopes",
            "created_at",
            "expires_at",
            "last_used_at",
            "current",
        }
        assert "hash" not in str(item)
    [current] = [item for item in listed if item["current"]]
    [second_item] = [item for item in listed if not item["current"]]

    others_id = client.get("/api/v1/auth/tokens", headers=others).get_json()["data"][0]["id"]
    response = client.delete(f"/api/v1/auth/tokens/{others_id}", headers=first)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/me", headers=others).status_code == 200

    assert client.delete(f"/api/v1/auth/tokens/{second_item['id']}", headers=first).status_code
    assert client.get("/api/v1/me", headers=second).status_code == 401
    assert client.delete(f"/api/v1/auth/tokens/{second_item['id']}", headers=first).status_code == (
        404
    )
    listed = client.get("/api/v1/auth/tokens", headers=first).get_json()["data"]
    assert [item["id"] for item in listed] == [current["id"]]
    for method, url in (
        ("get", "/api/v1/auth/tokens"),
        ("delete", "/api/v1/auth/tokens/1"),
        ("delete", "/api/v1/auth/token"),
    ):
        assert getattr(client, method)(url).status_code == 401, url


def test_account_page_lists_and_revokes_tokens(app, client, session, demo):
    headers = api_token(client, "producer@demo.test")
    browser = logged_in(app, "producer@demo.test")
    [row] = session.scalars(
        select(ApiToken).where(ApiToken.user_id == demo.users["producer"].id)
    ).all()
    page = browser.get("/account").get_data(as_text=True)
    assert f"/account/tokens/{row.id}/revoke" in page
    assert bearer(headers) not in page and row.token_hash not in page
    response = browser.post(f"/account/tokens/{row.id}/revoke")
    assert response.status_code == 302
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert f"/account/tokens/{row.id}/revoke" not in browser.get("/account").get_data(as_text=True)


def test_token_last_use_is_recorded_at_most_every_few_minutes(app, client, session, demo):
    headers = api_token(client, "producer@demo.test")
    [row] = session.scalars(
        select(ApiToken).where(ApiToken.user_id == demo.users["producer"].id)
    ).all()
    assert row.last_used_at is None
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    session.expire_all()
    first_use = row.last_used_at
    assert first_use is not None, "a read-only request records the use too"
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    session.expire_all()
    assert row.last_used_at == first_use, "not written on every request"
    listed = client.get("/api/v1/auth/tokens", headers=headers).get_json()["data"]
    assert listed[0]["last_used_at"] is not None

    row.last_used_at = first_use - app.config["SESSION_TOUCH_INTERVAL"]
    session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    session.expire_all()
    assert row.last_used_at > first_use


def test_old_session_records_are_deleted_at_the_next_login(app, client, session, demo):
    browser = logged_in(app, "producer@demo.test")
    browser.post("/logout")
    logged_in(app, "producer@demo.test")
    old, running = records(session, "producer@demo.test")
    retention = app.config["SESSION_RECORD_RETENTION"]
    old.ended_at -= retention + timedelta(minutes=1)
    session.commit()
    old_id = old.id
    logged_in(app, "producer@demo.test")
    remaining = [r.id for r in records(session, "producer@demo.test")]
    assert old_id not in remaining and running.id in remaining and len(remaining) == 2


def test_a_new_login_in_the_same_browser_ends_the_previous_session(app, client, session, demo):
    browser = logged_in(app, "producer@demo.test")
    login(browser, "producer2@demo.test")
    [replaced] = records(session, "producer@demo.test")
    assert replaced.ended_at is not None and replaced.end_reason == "replaced"
    [running] = records(session, "producer2@demo.test")
    assert running.ended_at is None
    assert "producer2@demo.test" in browser.get("/account").get_data(as_text=True)
