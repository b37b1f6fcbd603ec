"""Audit log: hash chains per subject, a Merkle tree over all entries, signed tree heads."""

from flask import Flask


def init_app(app: Flask) -> None:
    # Its API endpoints are in hazwaste.api.audit (the API layer sits above accounts).
    from hazwaste.audit import views
    from hazwaste.audit.cli import audit_cli
    from hazwaste.audit.services import checkpoint_job
    from hazwaste.jobs import outbox

    app.cli.add_command(audit_cli)
    app.register_blueprint(views.bp)
    # New entries get their place in the signed log within seconds, off the request path.
    outbox.register_periodic(
        "audit.checkpoint", checkpoint_job, app.config["AUDIT_CHECKPOINT_EVERY"]
    )
