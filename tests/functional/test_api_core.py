"""JSON API base: tokens, errors, /me, waste-code search, organization visibility, OpenAPI;
and the error pages (HTML and JSON) never showing a stack trace."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from openapi_spec_validator import validate as validate_openapi
from sqlalchemy import select

from hazwaste.accounts import services as accounts
from hazwaste.accounts.models import ApiToken, Organization, OrgStatus
from hazwaste.demo.services import DEMO_PASSWORD
from hazwaste.errors import Invalid
from tests import factories
from tests.conftest import api_token

EN = {"Accept-Language": "en"}


def error_of(response, status: int) -> dict:
    """The uniform error body, checked for shape, status and content type."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert {"code", "message", "fields"} <= set(error)
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    assert "Traceback" not in response.get_data(as_text=True)
    return error


# -- tokens ------------------------------------------------------------------------------------


def test_token_issue(client, session, demo):
    before = datetime.now().astimezone()
    response = client.post(
        "/api/v1/auth/token", json={"email": "Producer@demo.test", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 201
    data = response.get_json()["data"]
    assert data["token_type"] == "Bearer"
    assert len(data["token"]) >= 40
    expires = datetime.fromisoformat(data["expires_at"])
    assert expires.tzinfo is not None
    assert timedelta(hours=11, minutes=59) < expires - before <= timedelta(hours=12, minutes=1)
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {data['token']}"})
    assert me.status_code == 200
    assert me.get_json()["data"]["email"] == "producer@demo.test"


@pytest.mark.parametrize(
    "body",
    [
        {"email": "producer@demo.test", "password": "wrong"},
        {"email": "nobody@demo.test", "password": DEMO_PASSWORD},
    ],
)
def test_token_wrong_credentials(client, session, demo, body):
    error = error_of(client.post("/api/v1/auth/token", json=body, headers=EN), 401)
    assert error["code"] == "unauthorized"
    assert error["message"] == "Wrong e-mail address or password."
    assert session.scalars(select(ApiToken)).all() == []


def test_token_for_inactive_user_refused(client, session, demo):
    demo.users["driver"].active = False
    session.commit()
    error_of(
        client.post(
            "/api/v1/auth/token", json={"email": "driver@demo.test", "password": DEMO_PASSWORD}
        ),
        401,
    )


def test_error_messages_follow_the_language(client, session, demo):
    error = error_of(
        client.post(
            "/api/v1/auth/token",
            headers={"Accept-Language": "zh-CN"},
            json={"email": "producer@demo.test", "password": "x"},
        ),
        401,
    )
    assert error["message"] != "Wrong e-mail address or password."
    assert re.search(r"[\u4e00-\u9fff]", error["message"])


@pytest.mark.parametrize(
    "body, fields",
    [
        ("{not json", {"_schema"}),
        ("[1, 2]", {"_schema"}),
        ("null", {"_schema"}),
        ('{"email": "producer@demo.test"}', {"password"}),
        ('{"email": 5, "password": []}', {"email", "password"}),
    ],
)
def test_malformed_body_is_422_with_fields(client, session, demo, body, fields):
    response = client.post(
        "/api/v1/auth/token", data=body, content_type="application/json", headers=EN
    )
    error = error_of(response, 422)
    assert error["code"] == "invalid"
    assert set(error["fields"]) == fields
    for messages in error["fields"].values():
        assert messages and all(isinstance(m, str) and m for m in messages)


def test_body_that_is_not_json_at_all(client, session, demo):
    response = client.post(
        "/api/v1/auth/token",
        headers=EN,
        data={"email": "producer@demo.test", "password": DEMO_PASSWORD},
    )
    error = error_of(response, 422)
    assert error["fields"] == {"_schema": ["The request body must be a JSON object."]}


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer garbage-token",
        "Token abc",
        "Bearer " + "x" * 5000,
    ],
)
def test_missing_or_garbage_token(client, session, demo, header):
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/api/v1/me", headers=headers)
    error = error_of(response, 401)
    assert error["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_and_revoked_tokens(client, session, demo, now):
    user = demo.users["producer"]
    real_now = datetime.now().astimezone()
    expired = accounts.issue_token(
        session, real_now - timedelta(hours=13), user, timedelta(hours=12)
    )
    revoked = accounts.issue_token(session, real_now, user, timedelta(hours=12))
    session.commit()
    row = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == accounts._token_digest(revoked.token))
    ).one()
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {revoked.token}"}).status_code
        == 200
    )
    row.revoked_at = real_now
    session.commit()
    for issued in (expired, revoked):
        error_of(client.get("/api/v1/me", headers={"Authorization": f"Bearer {issued.token}"}), 401)


def test_token_of_deactivated_user_stops_working(client, session, demo):
    headers = api_token(client, "driver@demo.test")
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    demo.users["driver"].active = False
    session.commit()
    error_of(client.get("/api/v1/me", headers=headers), 401)


def test_cookie_session_does_not_open_the_api(client, session, demo):
    from tests.conftest import login

    login(client, "producer@demo.test")
    error_of(client.get("/api/v1/me"), 401)


def test_me(client, session, demo):
    for email, org, body, admin in (
        ("producer@demo.test", demo.orgs["producer"].id, None, False),
        ("regulator-otog@demo.test", None, demo.bodies["otog"].id, False),
        ("admin@demo.test", None, None, True),
    ):
        data = client.get("/api/v1/me", headers=api_token(client, email)).get_json()["data"]
        assert data["email"] == email
        assert (data["organization_id"], data["regulator_body_id"], data["is_platform_admin"]) == (
            org,
            body,
            admin,
        )
        assert "password_hash" not in data


# -- waste codes -------------------------------------------------------------------------------


def codes(client, headers, **params) -> list[str]:
    response = client.get("/api/v1/waste-codes", headers=headers, query_string=params)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["meta"]["count"] == len(body["data"])
    return [row["code"] for row in body["data"]]


def test_waste_code_search(client, session, demo):
    headers = api_token(client, "producer@demo.test")
    assert codes(client, headers, q="900-041-49") == ["900-041-49"]
    assert codes(client, headers, q="90004149") == ["900-041-49"]
    prefix = codes(client, headers, q="900-041")
    assert prefix == codes(client, headers, q="900041") and "900-041-49" in prefix
    hw08 = codes(client, headers, q="HW08", limit=500)
    assert len(hw08) > 20 and all(code.endswith("-08") for code in hw08)
    assert codes(client, headers, q="hw8", limit=500) == hw08
    assert codes(client, headers, category="HW08", limit=500) == hw08
    oil = codes(client, headers, q="废矿物油", limit=500)
    # The category is called 废矿物油与含矿物油废物, so the whole of HW08 matches, plus the
    # codes of other categories whose description mentions it.
    assert "900-249-08" in oil and set(hw08) <= set(oil)
    assert codes(client, headers, q="no-such-waste") == []
    first = client.get(
        "/api/v1/waste-codes", headers=headers, query_string={"q": "900-249-08"}
    ).get_json()["data"][0]
    assert first["edition"] == "2021" and first["category"] == "HW08"
    assert set(first["hazards"]) == {"T", "I"}
    assert len(codes(client, headers, limit=3)) == 3
    assert len(codes(client, headers, q="", limit=10000)) == 467


def test_waste_code_search_bad_query(client, session, demo):
    headers = api_token(client, "producer@demo.test")
    error = error_of(
        client.get(
            "/api/v1/waste-codes",
            headers=headers,
            query_string={"limit": "many", "on": "yesterday"},
        ),
        422,
    )
    assert set(error["fields"]) == {"limit", "on"}
    # Before the first catalogue edition there is nothing in force.
    assert codes(client, headers, q="HW08", on="2020-06-01") == []


def test_like_wildcards_are_literal(client, session, demo):
    headers = api_token(client, "producer@demo.test")
    assert codes(client, headers, q="%") == []
    assert codes(client, headers, q="_") == []


# -- organizations -----------------------------------------------------------------------------


def org_status(client, headers, org_id: int) -> int:
    response = client.get(f"/api/v1/organizations/{org_id}", headers=headers)
    if response.status_code == 404:
        error_of(response, 404)
    return response.status_code


def test_organization_visibility(client, session, demo):
    pending = session.scalars(
        select(Organization).where(Organization.status == OrgStatus.PENDING)
    ).one()
    producer, producer2 = demo.orgs["producer"], demo.orgs["producer2"]
    assert (producer.region_code, producer2.region_code, pending.region_code) == (
        "150624",
        "150602",
        "150603",
    )
    outside = session.scalars(select(Organization)).all()
    assert all(o.region_code.startswith("1506") for o in outside)
    # An organization outside Ordos, seen by nobody's regulator but the platform admin.
    far, _ = factories.organization(
        session,
        demo.users["admin"].created_at,
        region_code="110101",
        approved_by=demo.users["admin"],
    )
    session.commit()

    expected = {
        # own organization, approved peers; pending ones hidden from other enterprises
        "producer@demo.test": {producer.id: 200, producer2.id: 200, pending.id: 404, far.id: 200},
        "driver@demo.test": {producer.id: 200, pending.id: 404},
        # a pending organization sees only itself
        "pending@demo.test": {pending.id: 200, producer.id: 404},
        # regulators: their region and everything below it, pending included
        "regulator@demo.test": {producer.id: 200, producer2.id: 200, pending.id: 200, far.id: 404},
        "regulator-otog@demo.test": {
            producer.id: 200,
            producer2.id: 404,
            pending.id: 404,
            far.id: 404,
        },
        "admin@demo.test": {producer.id: 200, pending.id: 200, far.id: 200},
    }
    for email, cases in expected.items():
        headers = api_token(client, email)
        for org_id, status in cases.items():
            assert org_status(client, headers, org_id) == status, (email, org_id)
        assert org_status(client, headers, 999999) == 404

    data = client.get(
        f"/api/v1/organizations/{producer.id}", headers=api_token(client, "carrier@demo.test")
    ).get_json()["data"]
    assert data == {
        "id": producer.id,
        "uscc": producer.uscc,
        "name": producer.name,
        "address": producer.address,
        "region_code": "150624",
        "latitude": producer.latitude,
        "longitude": producer.longitude,
        "roles": ["producer"],
        "status": "approved",
    }


# -- unknown URLs and methods --------------------------------------------------------------------


def test_unknown_api_url_is_json_404(client, session):
    for url in ("/api/v1/nothing-here", "/api/v2/me", "/api/v1/organizations/abc"):
        error = error_of(client.get(url, headers=EN), 404)
        assert error["code"] == "not_found"


def test_wrong_method_is_json_405(client, session):
    error = error_of(client.delete("/api/v1/me"), 405)
    assert error["code"] == "method_not_allowed"


# -- OpenAPI -------------------------------------------------------------------------------------


def openapi_path(rule: str) -> str:
    """``/api/v1/organizations/<int:org_id>`` → ``/api/v1/organizations/{}``."""
    return re.sub(r"<(?:[^:>]+:)?[^>]+>", "{}", rule)


def test_openapi_document(app, client, session):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    validate_openapi(spec)  # raises with the offending part if not valid OpenAPI 3
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    schemas = spec["components"]["schemas"]
    assert {"Error", "TokenRequest", "TokenOut", "Me", "WasteCodeOut", "OrganizationOut"} <= set(
        schemas
    )
    assert {"code", "email", "password"} & set(schemas["TokenRequest"]["properties"]) == {
        "email",
        "password",
    }

    # Every API route of the application is documented, with each of its methods
    # (parameter names may differ: OpenAPI only requires them to match within the document).
    documented = {
        (re.sub(r"\{[^}]+\}", "{}", path), method)
        for path, operations in spec["paths"].items()
        for method in operations
    }
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint == "api.openapi":
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (openapi_path(rule.rule), method.lower()) in documented, rule.rule

    token = spec["paths"]["/api/v1/auth/token"]["post"]
    assert "security" not in token
    assert set(token["responses"]) >= {"201", "401", "422", "429"}
    issued = token["responses"]["201"]["content"]["application/json"]["schema"]
    assert issued["properties"]["data"] == {"$ref": "#/components/schemas/TokenOut"}
    me = spec["paths"]["/api/v1/me"]["get"]
    assert me["security"] == [{"bearer": []}]
    assert set(me["responses"]) >= {"200", "401"}
    listing = spec["paths"]["/api/v1/waste-codes"]["get"]
    assert {p["name"] for p in listing["parameters"] if p["in"] == "query"} == {
        "q",
        "category",
        "on",
        "limit",
        "offset",
    }
    body = listing["responses"]["200"]["content"]["application/json"]["schema"]
    assert body["properties"]["data"]["type"] == "array"
    org = spec["paths"]["/api/v1/organizations/{org_id}"]["get"]
    assert [p["name"] for p in org["parameters"] if p["in"] == "path"] == ["org_id"]


# -- error pages ---------------------------------------------------------------------------------


def test_404_page_has_no_stack_trace(client, session):
    response = client.get("/no/such/page", headers=EN)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Not found" in page and "There is nothing at this address." in page
    assert "Traceback" not in page and "werkzeug" not in page.lower()


def test_missing_object_page_is_404(client, session, demo):
    from tests.conftest import login

    login(client, "producer@demo.test")
    response = client.get("/catalog/waste-codes/999-999-99", headers=EN)
    assert response.status_code == 404
    assert "There is nothing at this address." in response.get_data(as_text=True)


@pytest.fixture()
def fragile_app(app, database_url):
    """An app with views that fail, to see what a visitor gets when the code breaks."""
    with factories.other_app(database_url) as (application, _session):

        def boom() -> str:
            raise RuntimeError("secret internal detail /srv/hazwaste/db.py")

        def invalid() -> str:
            raise Invalid("bad", {"x": ["bad x"]})

        for prefix in ("", "/api/v1"):
            application.add_url_rule(f"{prefix}/test-boom", f"boom{prefix}", boom)
            application.add_url_rule(f"{prefix}/test-invalid", f"invalid{prefix}", invalid)
        yield application


def test_exception_in_a_view_is_a_500_page_without_traceback(fragile_app):
    client = fragile_app.test_client()
    response = client.get("/test-boom", headers=EN)
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Something went wrong" in page
    for leak in ("Traceback", "RuntimeError", "secret internal detail", "/srv/hazwaste"):
        assert leak not in page


def test_exception_in_an_api_view_is_json(fragile_app):
    client = fragile_app.test_client()
    response = client.get("/api/v1/test-boom", headers=EN)
    error = error_of(response, 500)
    assert error["code"] == "server_error"
    assert "secret internal detail" not in response.get_data(as_text=True)
    error = error_of(client.get("/api/v1/test-invalid"), 422)
    assert error["fields"] == {"x": ["bad x"]}
    page = client.get("/test-invalid", headers=EN)
    assert page.status_code == 422 and page.mimetype == "text/html"
