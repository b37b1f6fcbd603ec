"""Accounts through the web pages: registration, approval, login, passwords, users, regulators."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hazwaste.accounts.models import ApiToken, Organization, OrgStatus, RegulatorBody, User
from hazwaste.audit.models import AuditEntry
from hazwaste.audit.services import verify
from hazwaste.db import utcnow
from hazwaste.demo.services import DEMO_PASSWORD
from tests import factories
from tests.conftest import api_token, login

EN = {"Accept-Language": "en"}


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def field_html(page: str, name: str) -> str:
    """The rendered ``<div class="field">`` of input ``name`` (label, input, its errors)."""
    match = re.search(
        r'<div class="field[^"]*">\s*<label for="f-' + re.escape(name) + r'".*?</div>', page, re.S
    )
    assert match, f"no field {name!r} on the page"
    return match.group(0)


def field_messages(page: str, name: str) -> list[str]:
    block = field_html(page, name)
    return re.findall(r"<li>(.*?)</li>", block, re.S)


def audit_actions(session, object_type: str, object_id: object) -> list[str]:
    return list(
        session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == object_type, AuditEntry.object_id == str(object_id))
            .order_by(AuditEntry.id)
        )
    )


def registration_form(**overrides: str) -> dict[str, str]:
    data = {
        "org_name": "鄂尔多斯市新测试化工有限公司",
        "uscc": factories.next_uscc("150602"),
        "address": "内蒙古自治区鄂尔多斯市东胜区测试路9号",
        "region_code": "150602",
        "latitude": "39.81",
        "longitude": "109.98",
        "contact_phone": "0477-1234567",
        "is_producer": "1",
        "name": "王测试",
        "email": "new-admin@example.test",
        "phone": "13800000000",
        "password": "a-long-password-1",
    }
    data.update(overrides)
    return data


# -- registration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_uscc, message",
    [
        ("91150602MA0Q4TR51X", "The check character is wrong: please check the code for a typo."),
        ("91150602MA0Q4TR51", "A unified social credit code has 18 characters."),
        (
            "91150602MI0Q4TR51W",
            "The letters I, O, Z, S and V never appear in a unified social credit code (found: I).",
        ),
    ],
)
def test_registration_with_bad_uscc_changes_nothing(client, session, bad_uscc, message):
    orgs, users, audits = (
        count(session, Organization),
        count(session, User),
        count(session, AuditEntry),
    )
    response = client.post("/register", data=registration_form(uscc=bad_uscc), headers=EN)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_messages(page, "uscc") == [message]
    assert 'aria-invalid="true"' in field_html(page, "uscc")
    # What the user typed is kept (except the password), other fields carry no error.
    assert f'value="{bad_uscc}"' in field_html(page, "uscc")
    assert 'value="鄂尔多斯市新测试化工有限公司"' in field_html(page, "org_name")
    assert 'value="new-admin@example.test"' in field_html(page, "email")
    assert 'value="0477-1234567"' in field_html(page, "contact_phone")
    assert "a-long-password-1" not in page
    assert field_messages(page, "org_name") == []
    assert re.search(r'name="is_producer" value="1"\s+checked', page)
    assert (count(session, Organization), count(session, User), count(session, AuditEntry)) == (
        orgs,
        users,
        audits,
    )


def test_registration_reports_every_bad_field_at_once(client, session, demo):
    response = client.post(
        "/register",
        headers=EN,
        data=registration_form(
            uscc=demo.orgs["producer"].uscc,
            email="PRODUCER@demo.test",
            region_code="999999",
            password="short",
            is_producer="",
        ),
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_messages(page, "uscc") == ["An organization with this code is already registered."]
    assert field_messages(page, "email") == ["This e-mail address is already registered."]
    assert field_messages(page, "region_code") == ["Unknown region code."]
    assert field_messages(page, "password") == ["Use at least 10 characters."]
    assert "Choose at least one role." in page


def test_registration_schema_errors_are_field_messages(client, session):
    response = client.post(
        "/register",
        headers=EN,
        data=registration_form(email="not-an-email", latitude="north", org_name=""),
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_messages(page, "email") == ["Not a valid e-mail address."]
    assert field_messages(page, "latitude") == ["Not a valid number."]
    assert field_messages(page, "org_name") == ["This field is required."]
    assert count(session, Organization) == 0


def test_registration_creates_pending_org_and_its_admin(client, session):
    form = registration_form()
    response = client.post("/register", data=form, headers=EN)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")
    org = session.scalars(select(Organization)).one()
    assert org.status is OrgStatus.PENDING
    assert org.uscc == form["uscc"]
    assert org.roles == ["producer"]
    (user,) = org.users
    assert user.email == "new-admin@example.test"
    assert user.role.value == "admin"
    assert user.password_hash.startswith("$argon2id$")
    assert audit_actions(session, "organization", org.id) == ["organization.registered"]


def test_pending_user_logs_in_but_cannot_work(client, session):
    client.post("/register", data=registration_form(is_carrier="1", is_receiver="1"), headers=EN)
    login(client, "new-admin@example.test", "a-long-password-1")
    page = client.get("/", headers=EN).get_data(as_text=True)
    assert "Your organization is waiting for approval by a platform administrator." in page
    for url in (
        "/manifests/new",
        "/organization",
        "/organization/users",
        "/permits/licences",
        "/permits/vehicles",
        "/permits/carrier-permits",
    ):
        response = client.get(url, headers=EN)
        assert response.status_code == 403, url
    assert client.get("/account", headers=EN).status_code == 200


def test_admin_approves_and_the_organization_can_work(client, session, demo):
    org = session.scalars(
        select(Organization).where(Organization.status == OrgStatus.PENDING)
    ).one()
    login(client, "admin@demo.test")
    queue = client.get("/admin/organizations", headers=EN).get_data(as_text=True)
    assert org.name in queue and org.uscc in queue
    response = client.post(
        f"/admin/organizations/{org.id}/review",
        data={"decision": "approve", "note": ""},
        headers=EN,
    )
    assert response.status_code == 302
    session.expire_all()
    assert org.status is OrgStatus.APPROVED
    assert org.reviewed_by_id == demo.users["admin"].id
    assert audit_actions(session, "organization", org.id) == [
        "organization.registered",
        "organization.approved",
    ]
    # A second decision on the same organization is refused (double click, two admins).
    response = client.post(
        f"/admin/organizations/{org.id}/review",
        data={"decision": "reject", "note": "late"},
        headers=EN,
    )
    assert response.status_code == 409
    session.expire_all()
    assert org.status is OrgStatus.APPROVED
    client.post("/logout")
    login(client, "pending@demo.test")
    assert client.get("/organization", headers=EN).status_code == 200
    assert client.get("/manifests/new", headers=EN).status_code == 200


def test_rejection_needs_a_reason(client, session, demo):
    org = session.scalars(
        select(Organization).where(Organization.status == OrgStatus.PENDING)
    ).one()
    login(client, "admin@demo.test")
    audits = count(session, AuditEntry)
    response = client.post(
        f"/admin/organizations/{org.id}/review",
        data={"decision": "reject", "note": "  "},
        headers=EN,
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Give a reason for the rejection." in page
    session.expire_all()
    assert org.status is OrgStatus.PENDING
    assert count(session, AuditEntry) == audits

    response = client.post(
        f"/admin/organizations/{org.id}/review",
        data={"decision": "reject", "note": "营业执照与名称不符"},
        headers=EN,
    )
    assert response.status_code == 302
    session.expire_all()
    assert org.status is OrgStatus.REJECTED
    assert org.status_note == "营业执照与名称不符"
    assert audit_actions(session, "organization", org.id)[-1] == "organization.rejected"
    client.post("/logout")
    login(client, "pending@demo.test")
    page = client.get("/", headers=EN).get_data(as_text=True)
    assert "Your organization's registration was not approved." in page
    assert "营业执照与名称不符" in page
    assert client.get("/manifests/new", headers=EN).status_code == 403


def test_review_with_an_invalid_decision_is_a_field_error(client, session, demo):
    org = session.scalars(
        select(Organization).where(Organization.status == OrgStatus.PENDING)
    ).one()
    login(client, "admin@demo.test")
    response = client.post(
        f"/admin/organizations/{org.id}/review", data={"decision": "maybe"}, headers=EN
    )
    assert response.status_code == 422
    assert "Choose one of the listed values." in response.get_data(as_text=True)
    assert (
        client.post(
            "/admin/organizations/999999/review", data={"decision": "approve"}, headers=EN
        ).status_code
        == 404
    )


@pytest.mark.parametrize(
    "email", ["producer@demo.test", "driver@demo.test", "regulator@demo.test", "pending@demo.test"]
)
def test_non_admins_get_403_on_admin_pages(client, session, demo, email):
    login(client, email)
    org = session.scalars(
        select(Organization).where(Organization.status == OrgStatus.PENDING)
    ).one()
    body = demo.bodies["city"]
    assert client.get("/admin/organizations").status_code == 403
    assert client.get("/admin/regulators").status_code == 403
    assert client.get(f"/admin/regulators/{body.id}/users").status_code == 403
    assert (
        client.post(
            f"/admin/organizations/{org.id}/review", data={"decision": "approve"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/admin/regulators", data={"name": "伪造局", "region_code": "150600"}
        ).status_code
        == 403
    )
    session.expire_all()
    assert org.status is OrgStatus.PENDING
    assert count(session, RegulatorBody) == 2


# -- login and logout ----------------------------------------------------------------------


def test_login_and_logout(client, session, demo):
    response = client.post(
        "/login", data={"email": " Producer@Demo.test ", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/account").status_code == 200
    session.expire_all()
    assert demo.users["producer"].last_login_at is not None
    response = client.post("/logout")
    assert response.status_code == 302
    assert client.get("/account").status_code == 302


def test_wrong_password_message(client, session, demo):
    for email in ("producer@demo.test", "nobody@demo.test"):
        response = client.post(
            "/login", data={"email": email, "password": "wrong-password"}, headers=EN
        )
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        # Same message for an unknown address: no account enumeration.
        assert "Wrong e-mail address or password." in page
        assert f'value="{email}"' in page
    assert client.get("/account").status_code == 302


def test_login_form_missing_fields(client, session):
    response = client.post("/login", data={"email": "", "password": ""}, headers=EN)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_messages(page, "email") == ["This field is required."]
    assert field_messages(page, "password") == ["This field is required."]


def test_inactive_user_cannot_log_in(client, session, demo):
    demo.users["driver"].active = False
    session.commit()
    response = client.post(
        "/login", data={"email": "driver@demo.test", "password": DEMO_PASSWORD}, headers=EN
    )
    assert response.status_code == 422
    assert "Wrong e-mail address or password." in response.get_data(as_text=True)
    assert client.get("/account").status_code == 302


def test_deactivated_user_is_logged_out_of_a_running_session(client, session, demo):
    login(client, "driver@demo.test")
    assert client.get("/account").status_code == 200
    demo.users["driver"].active = False
    session.commit()
    assert client.get("/account").status_code == 302


def test_anonymous_page_sends_to_login_and_back(client, session, demo):
    response = client.get("/permits/vehicles?x=1")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/login?next=")
    login_page = client.get(location).get_data(as_text=True)
    assert 'name="next" value="/permits/vehicles?x=1"' in login_page
    response = client.post(
        "/login",
        data={
            "email": "carrier@demo.test",
            "password": DEMO_PASSWORD,
            "next": "/permits/vehicles?x=1",
        },
    )
    assert response.headers["Location"] == "/permits/vehicles?x=1"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "http://evil.example",
        "https://evil.example/login",
        "/\\evil.example",
        "evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
        "///evil.example",
    ],
)
def test_login_never_redirects_off_site(client, session, demo, target):
    response = client.post(
        "/login", data={"email": "producer@demo.test", "password": DEMO_PASSWORD, "next": target}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


# -- password change ---------------------------------------------------------------------------


def test_password_change(client, session, demo):
    headers = api_token(client, "producer@demo.test")
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    login(client, "producer@demo.test")

    response = client.post(
        "/account/password",
        headers=EN,
        data={"current_password": "not-my-password", "new_password": "a-brand-new-pass"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_messages(page, "current_password") == ["The current password is wrong."]
    assert field_messages(page, "new_password") == []

    response = client.post(
        "/account/password",
        headers=EN,
        data={"current_password": DEMO_PASSWORD, "new_password": "short"},
    )
    assert response.status_code == 422
    assert field_messages(response.get_data(as_text=True), "new_password") == [
        "Use at least 10 characters."
    ]

    response = client.post(
        "/account/password",
        headers=EN,
        data={"current_password": DEMO_PASSWORD, "new_password": DEMO_PASSWORD},
    )
    assert response.status_code == 422
    assert field_messages(response.get_data(as_text=True), "new_password") == [
        "Choose a password different from the current one."
    ]

    response = client.post(
        "/account/password",
        data={"current_password": DEMO_PASSWORD, "new_password": "a-brand-new-pass"},
    )
    assert response.status_code == 302
    user = demo.users["producer"]
    session.expire_all()
    assert user.password_hash.startswith("$argon2id$")
    assert audit_actions(session, "user", user.id)[-1] == "user.password_changed"
    # Every API token issued before the change is revoked.
    tokens = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()
    assert tokens and all(t.revoked_at is not None for t in tokens)
    assert client.get("/api/v1/me", headers=headers).status_code == 401

    client.post("/logout")
    response = client.post(
        "/login", data={"email": "producer@demo.test", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 422
    login(client, "producer@demo.test", "a-brand-new-pass")


# -- organization users ------------------------------------------------------------------------


def test_org_admin_creates_users(client, session, demo):
    login(client, "carrier@demo.test")
    response = client.post(
        "/organization/users",
        headers=EN,
        data={
            "name": "新司机",
            "email": "new-driver@demo.test",
            "password": "driver-pass-2026",
            "role": "driver",
        },
    )
    assert response.status_code == 302
    user = factories.user_by_email(session, "new-driver@demo.test")
    assert user is not None
    assert user.organization_id == demo.orgs["carrier"].id
    assert user.role.value == "driver"
    assert audit_actions(session, "user", user.id) == [
        "user.created",
        "user.email_verification_sent",
    ]
    client.post("/logout")
    login(client, "new-driver@demo.test", "driver-pass-2026")


def test_org_user_duplicate_email_is_a_field_error(client, session, demo):
    login(client, "producer@demo.test")
    users = count(session, User)
    response = client.post(
        "/organization/users",
        headers=EN,
        data={
            "name": "重复",
            "email": "Carrier@Demo.test",
            "password": "some-pass-2026",
            "role": "member",
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_messages(page, "email") == ["This e-mail address is already registered."]
    assert 'value="重复"' in field_html(page, "name")
    assert count(session, User) == users


def test_only_carriers_have_drivers(client, session, demo):
    login(client, "producer@demo.test")
    users = count(session, User)
    response = client.post(
        "/organization/users",
        headers=EN,
        data={
            "name": "不该有的司机",
            "email": "no-driver@demo.test",
            "password": "some-pass-2026",
            "role": "driver",
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Only carriers have drivers." in page
    assert count(session, User) == users
    # The producer's form does not even offer the driver role.
    page = client.get("/organization/users", headers=EN).get_data(as_text=True)
    assert 'value="driver"' not in page
    response = client.post(
        "/organization/users",
        headers=EN,
        data={
            "name": "X",
            "email": "x@demo.test",
            "password": "some-pass-2026",
            "role": "inspector",
        },
    )
    assert response.status_code == 422
    assert field_messages(response.get_data(as_text=True), "role") == [
        "Choose one of the listed values."
    ]


def test_members_cannot_manage_users(client, session, demo):
    login(client, "producer-staff@demo.test")
    assert client.get("/organization/users").status_code == 403
    assert (
        client.post(
            f"/organization/users/{demo.users['producer'].id}/active", data={"active": "0"}
        ).status_code
        == 403
    )
    session.expire_all()
    assert demo.users["producer"].active


def test_org_admin_deactivates_a_colleague_but_not_self(client, session, demo):
    driver = demo.users["driver"]
    login(client, "carrier@demo.test")
    response = client.post(f"/organization/users/{driver.id}/active", data={"active": "0"})
    assert response.status_code == 302
    session.expire_all()
    assert driver.active is False
    assert audit_actions(session, "user", driver.id)[-1] == "user.deactivated"
    response = client.post(f"/organization/users/{driver.id}/active", data={"active": "1"})
    session.expire_all()
    assert driver.active is True

    me = demo.users["carrier"]
    response = client.post(f"/organization/users/{me.id}/active", data={"active": "0"}, headers=EN)
    assert response.status_code == 403
    assert "You cannot deactivate your own account." in response.get_data(as_text=True)
    session.expire_all()
    assert me.active is True
    # Another organization's user is not found, whatever the id.
    other = demo.users["producer"]
    assert (
        client.post(f"/organization/users/{other.id}/active", data={"active": "0"}).status_code
        == 404
    )
    session.expire_all()
    assert other.active is True


# -- regulator bodies -------------------------------------------------------------------------


def test_platform_admin_creates_regulator_body_and_users(client, session, demo):
    login(client, "admin@demo.test")
    response = client.post(
        "/admin/regulators",
        headers=EN,
        data={"name": "达拉特旗生态环境分局", "region_code": "150621"},
    )
    assert response.status_code == 302
    body = session.scalars(
        select(RegulatorBody).where(RegulatorBody.name == "达拉特旗生态环境分局")
    ).one()
    assert body.region_code == "150621"
    assert audit_actions(session, "regulator_body", body.id) == ["regulator_body.created"]

    response = client.post(
        "/admin/regulators",
        headers=EN,
        data={"name": "达拉特旗生态环境分局", "region_code": "150699"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_messages(page, "region_code") == ["Unknown region code."]
    response = client.post(
        "/admin/regulators",
        headers=EN,
        data={"name": "达拉特旗生态环境分局", "region_code": "150621"},
    )
    assert field_messages(response.get_data(as_text=True), "name") == [
        "A regulator body with this name exists."
    ]
    assert count(session, RegulatorBody) == 3

    response = client.post(
        f"/admin/regulators/{body.id}/users",
        headers=EN,
        data={
            "name": "其木格",
            "email": "dalad@demo.test",
            "password": "inspect-2026",
            "role": "inspector",
        },
    )
    assert response.status_code == 302
    user = factories.user_by_email(session, "dalad@demo.test")
    assert user.regulator_body_id == body.id and user.organization_id is None
    assert user.role.value == "inspector"
    response = client.post(
        f"/admin/regulators/{body.id}/users",
        headers=EN,
        data={"name": "X", "email": "x2@demo.test", "password": "inspect-2026", "role": "driver"},
    )
    assert response.status_code == 422
    assert field_messages(response.get_data(as_text=True), "role") == [
        "Choose one of the listed values."
    ]
    assert client.get("/admin/regulators/999999/users").status_code == 404
    client.post("/logout")
    login(client, "dalad@demo.test", "inspect-2026")
    assert client.get("/flags/").status_code == 200


def test_region_code_format_is_checked(client, session, demo):
    login(client, "admin@demo.test")
    response = client.post(
        "/admin/regulators", headers=EN, data={"name": "某局", "region_code": "15"}
    )
    assert response.status_code == 422
    assert field_messages(response.get_data(as_text=True), "region_code") == [
        "A region code has 6 digits."
    ]


# -- services directly -----------------------------------------------------------------------


def test_services_write_a_verifiable_audit_chain(app, session):
    now = utcnow()
    admin = factories.platform_admin(session, now)
    org, org_admin = factories.organization(session, now, roles=("carrier",), approved_by=admin)
    factories.org_user(session, now, org_admin, role="driver")
    body, inspector = factories.regulator(session, now, admin, region_code="150602")
    session.flush()
    assert org.is_approved and inspector.regulator_body_id == body.id
    actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-5:] == [
        "organization.registered",
        "organization.approved",
        "user.created",
        "regulator_body.created",
        "user.created",
    ]
    assert verify(session).ok


def test_token_expiry_is_in_the_future(client, session, demo):
    response = client.post(
        "/api/v1/auth/token", json={"email": "producer@demo.test", "password": DEMO_PASSWORD}
    )
    row = session.scalars(select(ApiToken)).one()
    assert row.expires_at - row.created_at == timedelta(hours=12)
    assert response.get_json()["data"]["token"] not in row.token_hash
