"""Documents: the manifest PDF (危险废物转移联单) and QR image, HJ 1276 container labels.

Reads manifest and ledger models; those modules never import this package. Pages live in
``views`` (blueprint ``documents``), API routes in ``api`` (on ``hazwaste.api.core.bp``),
shared logic in ``services``.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    from hazwaste.documents import api, views  # noqa: F401  (api routes register on bp)

    app.register_blueprint(views.bp)
