"""Producer-side records: containers (一物一码) with their digital codes, and the management
ledger (管理台账, HJ 1259) with monthly balances; pages, API and CSV import."""

from flask import Flask


def init_app(app: Flask) -> None:
    from hazwaste.ledger import api, display, views  # noqa: F401  (api routes register on bp)

    display.init_app(app)
    app.register_blueprint(views.bp)
