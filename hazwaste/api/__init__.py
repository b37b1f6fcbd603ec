"""JSON API under ``/api/v1``: bearer-token auth, uniform errors, OpenAPI document.

Domains add their endpoints to :data:`bp` in their own ``api.py`` modules and describe them
with :func:`hazwaste.api.spec.document`; the OpenAPI document is built from those records.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    # The transparency log's endpoints live here, above accounts (they read an optional
    # bearer token), so the audit domain stays below every domain that records into it.
    from hazwaste.api import audit, core, json, routes  # noqa: F401  (routes register on bp)
    from hazwaste.extensions import csrf

    app.json = json.JSONProvider(app)
    # The API authenticates with bearer tokens only (never cookies), so CSRF cannot apply.
    csrf.exempt(core.bp)
    app.register_blueprint(core.bp)
