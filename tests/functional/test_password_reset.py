"""Password reset: a signed, single-use, expiring link sent by real e-mail (an in-process
SMTP server); the same answer for unknown addresses; every session and token ends."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest

from hazwaste.accounts import recovery
from hazwaste.accounts.models import User
from hazwaste.db import utcnow
from hazwaste.demo.services import seed_demo
from hazwaste.jobs.models import OutboxJob
from tests import factories
from tests.conftest import api_token, login

EMAIL = "producer@demo.test"
NEW = "brand-new-pass-2026"


@pytest.fixture()
def no_throttle(app, monkeypatch):
    monkeypatch.setitem(app.config, "PASSWORD_RESET_RATE_LIMIT", "1000 per hour")


def _deliver(run_jobs, smtp_inbox) -> None:
    run_jobs(utcnow() + timedelta(seconds=1))  # the page enqueued the mail at its own time
    for _ in range(50):  # the SMTP server hands the message to the handler on its thread
        if smtp_inbox.messages:
            return
        time.sleep(0.02)


def _link(message) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"https?://\S+/auth/reset/\S+", body).group(0)


def _path(link: str) -> str:
    return "/auth/reset/" + link.rsplit("/auth/reset/", 1)[1]


def test_reset_end_to_end_through_real_mail(
    client, session, demo, now, run_jobs, smtp_inbox, no_throttle
):
    token = api_token(client, EMAIL)
    other = client.application.test_client()
    login(other, EMAIL)
    assert other.get("/account").status_code == 200

    page = client.post("/auth/reset", data={"email": EMAIL.upper()})
    assert page.status_code == 200
    assert "若该电子邮箱属于某个账户" in page.get_data(as_text=True)
    _deliver(run_jobs, smtp_inbox)
    [message] = smtp_inbox.messages
    assert message["To"] == EMAIL
    assert message["Subject"] == "重置您的 hazwaste 密码"
    path = _path(_link(message))

    form = client.get(path)
    assert form.status_code == 200 and "设置新密码" in form.get_data(as_text=True)
    short = client.post(path, data={"new_password": "short"})
    assert short.status_code == 422 and "至少" in short.get_data(as_text=True)
    done = client.post(path, data={"new_password": NEW})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")

    # Every session and token of the account ended with the old password.
    assert other.get("/account").status_code in (302, 401)
    assert client.get("/api/v1/auth/tokens", headers=token).status_code == 401
    login(client, EMAIL, NEW)
    assert client.get("/account").status_code == 200

    # Single use: the same link is dead now.
    again = client.get(path)
    assert again.status_code == 404
    assert "链接无效、已过期或已使用" in again.get_data(as_text=True)
    assert client.post(path, data={"new_password": "another-pass-2026"}).status_code == 422


def test_unknown_address_gets_the_same_answer_and_no_mail(
    client, session, demo, now, run_jobs, smtp_inbox, no_throttle
):
    known = client.post("/auth/reset", data={"email": EMAIL}).get_data(as_text=True)
    unknown = client.post("/auth/reset", data={"email": "nobody@demo.test"}).get_data(as_text=True)
    assert known == unknown
    _deliver(run_jobs, smtp_inbox)
    assert [m["To"] for m in smtp_inbox.messages] == [EMAIL]


def test_bad_email_keeps_what_was_typed(client, demo):
    page = client.post("/auth/reset", data={"email": "not-an-address"})
    assert page.status_code == 422
    assert 'value="not-an-address"' in page.get_data(as_text=True)


def test_expired_forged_and_superseded_links_are_refused(app, session, demo, now):
    user = session.query(User).filter_by(email=EMAIL).one()
    with app.test_request_context():
        token = recovery.make_token(user, now)
        assert recovery.user_for_token(session, now + timedelta(minutes=59), token) is user
        with pytest.raises(recovery.Invalid):
            recovery.user_for_token(session, now + timedelta(minutes=61), token)  # expired
        with pytest.raises(recovery.Invalid):
            recovery.user_for_token(session, now, token[:-2] + "xx")  # forged
        with pytest.raises(recovery.Invalid):
            recovery.user_for_token(session, now - timedelta(minutes=1), token)  # from the future
        # A password change on /account kills the links issued before it.
        user.password_changed_at = now + timedelta(minutes=1)
        with pytest.raises(recovery.Invalid):
            recovery.user_for_token(session, now + timedelta(minutes=2), token)


def test_reset_requests_are_throttled(app, database_url, now):
    """(``app`` builds the schema the other app uses.)"""
    with factories.other_app(
        database_url, RATELIMIT_ENABLED=True, PASSWORD_RESET_RATE_LIMIT="2 per hour"
    ) as (application, session):
        seed_demo(session, now)
        session.commit()
        client = application.test_client()
        for _ in range(2):
            assert client.post("/auth/reset", data={"email": "x@demo.test"}).status_code == 200
        page = client.post("/auth/reset", data={"email": "x@demo.test"})
        assert page.status_code == 429 and int(page.headers["Retry-After"]) > 0
        assert "重置请求过多" in page.get_data(as_text=True)
        # Per address too: another account from the same address is refused as well.
        assert client.post("/auth/reset", data={"email": "y@demo.test"}).status_code == 429


def test_overlong_token_is_404_not_500(client, demo):
    assert client.get("/auth/reset/" + "a" * 5000).status_code == 404


def test_reset_sends_nothing_inside_the_request(client, session, demo, no_throttle):
    client.post("/auth/reset", data={"email": EMAIL})
    session.expire_all()
    assert [j.kind for j in session.query(OutboxJob)] == ["mail.send"]


def test_reset_through_the_api(client, session, demo, run_jobs, smtp_inbox, no_throttle):
    token = api_token(client, EMAIL)
    for email in (EMAIL, "nobody@demo.test"):
        answer = client.post("/api/v1/auth/password-reset", json={"email": email})
        assert (answer.status_code, answer.get_data()) == (202, b"")
    bad = client.post("/api/v1/auth/password-reset", json={"email": "nope"})
    assert bad.status_code == 422 and "email" in bad.get_json()["error"]["fields"]
    _deliver(run_jobs, smtp_inbox)
    [message] = smtp_inbox.messages
    reset = _link(message).rsplit("/auth/reset/", 1)[1]

    weak = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": reset, "new_password": "x"}
    )
    assert weak.status_code == 422 and "new_password" in weak.get_json()["error"]["fields"]
    done = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": reset, "new_password": NEW}
    )
    assert done.status_code == 204
    assert client.get("/api/v1/auth/tokens", headers=token).status_code == 401
    used = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": reset, "new_password": NEW + "x"}
    )
    assert used.status_code == 422 and "token" in used.get_json()["error"]["fields"]
    assert (
        client.post("/api/v1/auth/token", json={"email": EMAIL, "password": NEW}).status_code == 201
    )
