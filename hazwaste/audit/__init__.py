"""Hash-chained audit log of every event."""

from flask import Flask


def init_app(app: Flask) -> None:
    from hazwaste.audit.cli import audit_cli

    app.cli.add_command(audit_cli)
