"""Named API tokens: chosen scopes and lifetime, the secret shown once, never wider than the
token that creates one, and enforced on every call (403 naming the missing scope)."""

from __future__ import annotations

import re

from tests.conftest import api_token, login

EMAIL = "producer@demo.test"


def _create(client, headers, **body):
    payload = {"name": "ERP", "scopes": ["ledger"], "expires_in_days": 30, **body}
    return client.post("/api/v1/auth/tokens", headers=headers, json=payload)


def test_named_token_through_the_api_is_limited_to_its_scopes(client, demo):
    login_token = api_token(client, EMAIL)
    created = _create(client, login_token, scopes=["ledger", "tokens"])
    assert created.status_code == 201, created.get_json()
    data = created.get_json()["data"]
    assert data["name"] == "ERP" and data["scopes"] == ["ledger", "tokens"]
    named = {"Authorization": f"Bearer {data['token']}"}

    assert client.get("/api/v1/ledger", headers=named).status_code == 200
    refused = client.get("/api/v1/manifests", headers=named)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "insufficient_scope"
    assert refused.get_json()["error"]["scope"] == "manifests:read"
    assert 'scope="manifests:read"' in refused.headers["WWW-Authenticate"]

    listed = client.get("/api/v1/auth/tokens", headers=named).get_json()["data"]
    mine = [t for t in listed if t["name"] == "ERP"]
    assert mine and mine[0]["scopes"] == ["ledger", "tokens"] and "token" not in mine[0]

    # A token cannot mint a wider one.
    wider = _create(client, named, scopes=["ledger", "handoffs"])
    assert wider.status_code == 422
    assert "handoffs" in wider.get_json()["error"]["fields"]["scopes"][0]


def test_named_token_refusals_are_field_level(client, demo):
    headers = api_token(client, EMAIL)
    long = _create(client, headers, expires_in_days=366)
    assert long.status_code == 422 and "expires_in_days" in long.get_json()["error"]["fields"]
    unknown = _create(client, headers, scopes=["everything"])
    assert "scopes" in unknown.get_json()["error"]["fields"]
    none = _create(client, headers, scopes=[])
    assert "scopes" in none.get_json()["error"]["fields"]
    blank = _create(client, headers, name="  ")
    assert "name" in blank.get_json()["error"]["fields"]


def test_revoked_named_token_gets_401(client, demo):
    headers = api_token(client, EMAIL)
    data = _create(client, headers, scopes=["tokens", "ledger"]).get_json()["data"]
    named = {"Authorization": f"Bearer {data['token']}"}
    assert client.delete("/api/v1/auth/token", headers=named).status_code == 204
    assert client.get("/api/v1/ledger", headers=named).status_code == 401


def test_account_page_creates_a_token_and_shows_the_secret_once(client, demo):
    login(client, EMAIL)
    page = client.get("/account").get_data(as_text=True)
    assert "为其他系统新建令牌" in page and 'value="handoffs"' in page
    bad = client.post(
        "/account/tokens", data={"name": "调度系统", "scopes": [], "expires_in_days": "30"}
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "请至少选择一个权限范围" in text and 'value="调度系统"' in text
    made = client.post(
        "/account/tokens",
        data={
            "name": "调度系统",
            "scopes": ["handoffs", "manifests:read"],
            "expires_in_days": "30",
        },
    )
    assert made.status_code == 200
    secret = re.search(r'id="new-token">.*?<code>([^<]+)</code>', made.get_data(as_text=True), re.S)
    assert secret
    headers = {"Authorization": f"Bearer {secret.group(1)}"}
    assert client.get("/api/v1/manifests", headers=headers).status_code == 200
    assert client.get("/api/v1/ledger", headers=headers).status_code == 403
    again = client.get("/account").get_data(as_text=True)
    assert secret.group(1) not in again and "调度系统" in again
