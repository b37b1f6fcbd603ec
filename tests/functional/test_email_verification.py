"""E-mail verification: a signed, single-use, expiring link sent by real e-mail (an
in-process SMTP server) when an account is made and on request; nothing but the link (and
a password reset, which also came by e-mail) marks an address verified."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from hazwaste.accounts import recovery, verification
from hazwaste.accounts.models import User
from hazwaste.audit.models import AuditEntry
from hazwaste.errors import Invalid
from tests import factories
from tests.conftest import api_token, login
from tests.functional.test_accounts import registration_form
from tests.functional.test_password_reset import _deliver

NEW_ADMIN = "new-admin@example.test"


@pytest.fixture()
def roomy(app, monkeypatch):
    monkeypatch.setitem(app.config, "EMAIL_VERIFICATION_RATE_LIMIT", "1000 per hour")


def _verify_path(message) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"https?://\S+/auth/verify/\S+", body).group(0)
    return "/auth/verify/" + link.rsplit("/auth/verify/", 1)[1]


def _user(session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email))
    assert user is not None
    return user


def _unverified(session, now) -> User:
    _org, admin = factories.organization(
        session, now, approved_by=factories.platform_admin(session, now)
    )
    session.commit()
    assert admin.email_verified_at is None
    return admin


def test_registration_sends_a_link_that_verifies_once(client, session, run_jobs, smtp_inbox, roomy):
    page = client.post("/register", data=registration_form(), headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 302
    assert _user(session, NEW_ADMIN).email_verified_at is None
    _deliver(run_jobs, smtp_inbox)
    [message] = smtp_inbox.messages
    assert message["To"] == NEW_ADMIN
    assert message["Subject"] == "请验证您在 hazwaste 的电子邮箱"
    path = _verify_path(message)

    opened = client.get(path)
    assert opened.status_code == 200
    assert f"{NEW_ADMIN} 已通过验证" in opened.get_data(as_text=True)
    session.expire_all()
    user = _user(session, NEW_ADMIN)
    assert user.email_verified_at is not None
    assert user.locale == "zh_CN"
    verified = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "user.email_verified", AuditEntry.object_id == str(user.id)
        )
    ).all()
    assert len(verified) == 1

    again = client.get(path)
    assert again.status_code == 404
    assert "该验证链接无效、已过期或已使用" in again.get_data(as_text=True)


def test_registration_in_english_writes_in_english(client, session, run_jobs, smtp_inbox):
    client.post("/register", data=registration_form(), headers={"Accept-Language": "en"})
    _deliver(run_jobs, smtp_inbox)
    [message] = smtp_inbox.messages
    assert message["Subject"] == "Confirm your e-mail address for hazwaste"
    assert _user(session, NEW_ADMIN).locale == "en"


def test_a_colleague_made_by_the_admin_gets_a_link(client, session, now, run_jobs, smtp_inbox):
    admin = _unverified(session, now)
    login(client, admin.email, factories.PASSWORD)
    made = client.post(
        "/organization/users",
        data={
            "name": "新同事",
            "email": "colleague-new@example.test",
            "password": "colleague-pass-1",
            "role": "member",
        },
    )
    assert made.status_code == 302, made.get_data(as_text=True)[:500]
    _deliver(run_jobs, smtp_inbox)
    assert [m["To"] for m in smtp_inbox.messages] == ["colleague-new@example.test"]
    assert (
        client.application.test_client().get(_verify_path(smtp_inbox.messages[0])).status_code
        == 200
    )


def test_the_account_page_sends_a_link_on_request(
    client, session, now, run_jobs, smtp_inbox, roomy
):
    user = _unverified(session, now)
    login(client, user.email, factories.PASSWORD)
    page = client.get("/account").get_data(as_text=True)
    assert "未验证" in page and "发送验证链接" in page

    for _ in range(2):
        sent = client.post("/account/verify-email", follow_redirects=True)
        assert f"验证链接已发送至 {user.email}" in sent.get_data(as_text=True)
    _deliver(run_jobs, smtp_inbox)
    assert len(smtp_inbox.messages) == 2

    # Either link works; the first one used ends both (the address is verified now).
    assert client.get(_verify_path(smtp_inbox.messages[1])).status_code == 200
    assert client.get(_verify_path(smtp_inbox.messages[0])).status_code == 404
    page = client.get("/account").get_data(as_text=True)
    assert "已验证" in page and "发送验证链接" not in page
    already = client.post("/account/verify-email", follow_redirects=True)
    assert "您的电子邮箱已通过验证" in already.get_data(as_text=True)


def test_requests_for_links_are_throttled_per_user(app, database_url, now):
    """(``app`` builds the schema the other app uses.)"""
    with factories.other_app(
        database_url, RATELIMIT_ENABLED=True, EMAIL_VERIFICATION_RATE_LIMIT="2 per hour"
    ) as (application, session):
        user = _unverified(session, now)
        other = _unverified(session, now)
        client = application.test_client()
        login(client, user.email, factories.PASSWORD)
        for _ in range(2):
            assert client.post("/account/verify-email").status_code == 302
        refused = client.post("/account/verify-email", follow_redirects=True)
        assert "验证邮件发送过于频繁" in refused.get_data(as_text=True)
        token = api_token(client, user.email, factories.PASSWORD)
        api = client.post("/api/v1/auth/verify-email", headers=token)
        assert api.status_code == 429 and int(api.headers["Retry-After"]) > 0
        # Per user: a colleague still gets theirs.
        theirs = api_token(client, other.email, factories.PASSWORD)
        assert client.post("/api/v1/auth/verify-email", headers=theirs).status_code == 202


def test_dead_links(app, session, now):
    user = _unverified(session, now)
    ttl = app.config["EMAIL_VERIFICATION_TTL"]
    with app.test_request_context():
        token = verification.make_token(user, now)
        with pytest.raises(Invalid) as late:
            verification.verify(session, now + ttl + timedelta(seconds=1), token)
        assert set(late.value.fields) == {"token"}
        with pytest.raises(Invalid):  # not before it was issued either
            verification.verify(session, now - timedelta(minutes=5), token)
        with pytest.raises(Invalid):  # forged
            verification.verify(session, now, token[:-3] + "abc")
        with pytest.raises(Invalid):  # absurd
            verification.verify(session, now, "x" * 5000)
        user.email = "moved@example.test"  # a link to the old address proves nothing
        session.flush()
        with pytest.raises(Invalid):
            verification.verify(session, now, token)
        assert user.email_verified_at is None
        fresh = verification.make_token(user, now)
        assert verification.verify(session, now + ttl, fresh) is user
        assert user.email_verified_at is not None


def test_the_api_sends_and_confirms(client, session, now, run_jobs, smtp_inbox, roomy):
    user = _unverified(session, now)
    assert client.post("/api/v1/auth/verify-email").status_code == 401
    token = api_token(client, user.email, factories.PASSWORD)
    me = client.get("/api/v1/notifications/preferences", headers=token).get_json()["data"]
    assert me["email_verified"] is False
    asked = client.post("/api/v1/auth/verify-email", headers=token)
    assert asked.status_code == 202
    _deliver(run_jobs, smtp_inbox)
    [message] = smtp_inbox.messages
    link_token = _verify_path(message).rsplit("/", 1)[1]

    missing = client.post(
        "/api/v1/auth/verify-email/confirm", json={}, headers={"Accept-Language": "en"}
    )
    assert missing.status_code == 422
    assert "token" in missing.get_json()["error"]["fields"]
    done = client.post("/api/v1/auth/verify-email/confirm", json={"token": link_token})
    assert done.status_code == 204
    me = client.get("/api/v1/notifications/preferences", headers=token).get_json()["data"]
    assert me["email_verified"] is True
    used = client.post("/api/v1/auth/verify-email/confirm", json={"token": link_token})
    assert used.status_code == 422
    assert "该验证链接无效" in used.get_json()["error"]["fields"]["token"][0]
    # Verified: asking again sends nothing.
    assert client.post("/api/v1/auth/verify-email", headers=token).status_code == 202
    _deliver(run_jobs, smtp_inbox)
    assert len(smtp_inbox.messages) == 1


def test_a_password_reset_link_proves_the_mailbox(app, session, now):
    user = _unverified(session, now)
    with app.test_request_context():
        token = recovery.make_token(user, now)
        recovery.reset_password(session, now, token, "another-pass-2026", 10)
    assert user.email_verified_at is not None
    actions = session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.object_type == "user", AuditEntry.object_id == str(user.id)
        )
    ).all()
    assert "user.email_verified" in actions


def test_verification_is_sent_after_commit_only(client, session, now):
    """A registration refused for a bad field sends nothing (the mail is an outbox row of the
    same transaction)."""
    from hazwaste.jobs.models import OutboxJob

    before = session.scalar(select(OutboxJob.id).order_by(OutboxJob.id.desc()).limit(1))
    bad = client.post("/register", data=registration_form(password="short"))
    assert bad.status_code == 422
    after = session.scalar(select(OutboxJob.id).order_by(OutboxJob.id.desc()).limit(1))
    assert after == before
