"""``flask audit verify``: check the hash chain end to end."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from hazwaste.audit import services
from hazwaste.extensions import db

audit_cli = AppGroup("audit", help="Audit log commands.")


@audit_cli.command("verify")
def verify_command() -> None:
    """Verify the audit chain; exit 1 and name the first broken row if any was altered."""
    result = services.verify(db.session)
    if result.ok:
        click.echo(f"OK: {result.checked} audit entries verified; head hash {result.head_hash}")
        return
    click.echo(
        f"BROKEN at audit entry {result.first_broken_id}: {result.reason} "
        f"({result.checked} entries verified before it)",
        err=True,
    )
    raise SystemExit(1)
