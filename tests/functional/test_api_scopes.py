"""Token scopes narrow a token: outside its scopes a request gets 403 insufficient_scope."""

from sqlalchemy import update

from hazwaste.accounts.models import ApiToken
from tests.conftest import api_token


def test_token_without_the_scope_gets_403_naming_it(client, session, demo):
    headers = api_token(client, "producer@demo.test")
    assert client.get("/api/v1/manifests", headers=headers).status_code == 200
    session.execute(update(ApiToken).values(scopes="ledger"))
    session.commit()
    response = client.get("/api/v1/manifests", headers=headers)
    assert response.status_code == 403
    error = response.get_json()["error"]
    assert error["code"] == "insufficient_scope"
    assert error["scope"] == "manifests:read"
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", scope="manifests:read"'
    )
    assert client.get("/api/v1/ledger", headers=headers).status_code != 403
