"""Every authenticated API operation declares a known scope (the table fails closed)."""

from hazwaste.accounts.scopes import SCOPES
from hazwaste.api.scopes import ENDPOINT_SCOPES, required_scope


def test_every_token_required_endpoint_declares_a_known_scope(app):
    missing = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        authenticated = rule.rule.startswith("/api/v1/") and getattr(view, "api_auth", False)
        if authenticated and required_scope(rule.endpoint) is None:
            missing.append(rule.endpoint)
    assert missing == []
    assert set(ENDPOINT_SCOPES.values()) <= set(SCOPES)


def test_an_unknown_endpoint_has_no_scope():
    assert required_scope("api.nonexistent") is None
    assert required_scope(None) is None


def test_the_openapi_document_names_each_operations_scope(app):
    from hazwaste.api.spec import build_spec

    with app.test_request_context():
        spec = build_spec()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if "security" in operation:
                assert operation["x-required-scope"] in SCOPES, (method, path)
