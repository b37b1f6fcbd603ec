"""``flask seed-demo``: load the demo world (refuses a non-empty database unless --force)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from hazwaste.audit.services import checkpoint
from hazwaste.db import utcnow
from hazwaste.demo.services import DEMO_PASSWORD, DemoRefused, seed_demo
from hazwaste.extensions import db
from hazwaste.jobs import outbox


@click.command("seed-demo")
@click.option("--force", is_flag=True, help="Seed even if organizations already exist.")
@click.option("--if-empty", is_flag=True, help="Do nothing (exit 0) if the database has data.")
@with_appcontext
def seed_demo_command(force: bool, if_empty: bool) -> None:
    """Create the demo organizations, users, permits and regulators around Ordos."""
    try:
        world = seed_demo(db.session, utcnow(), force=force, history=True)
    except DemoRefused as exc:
        db.session.rollback()
        if if_empty:
            click.echo("Demo data: database already has data; left as it is.")
            return
        raise click.ClickException(f"refusing to seed: {exc} (use --force)") from exc
    db.session.commit()
    # The receipts enqueued their incremental reconciliations: run them now rather than
    # leave them to the first worker (the full run above already raised the flags).
    outbox.run_pending(db.session, utcnow())
    # Sign a first tree head over the demo's audit entries (the job does it later on).
    checkpoint(db.session, utcnow())
    db.session.commit()
    click.echo(
        f"Demo data loaded: {len(world.orgs)} organizations, {len(world.users)} users. "
        f"Every demo account's password is {DEMO_PASSWORD!r} (demo only)."
    )
