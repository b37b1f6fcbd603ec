"""Audit log: hash chains per subject, a Merkle tree over all entries, signed tree heads."""

from flask import Flask


def init_app(app: Flask) -> None:
    # The API routes register on the API blueprint, which create_app registers after us.
    from hazwaste.audit import api, views  # noqa: F401
    from hazwaste.audit.cli import audit_cli
    from hazwaste.audit.services import checkpoint_job
    from hazwaste.jobs import outbox

    app.cli.add_command(audit_cli)
    app.register_blueprint(views.bp)
    # New entries get their place in the signed log within seconds, off the request path.
    outbox.register_periodic(
        "audit.checkpoint", checkpoint_job, app.config["AUDIT_CHECKPOINT_EVERY"]
    )
