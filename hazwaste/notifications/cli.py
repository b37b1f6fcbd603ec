"""``flask notifications``: run the reminders and digests by hand or from cron (the workers
run them every 15 minutes; both are idempotent)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from hazwaste.db import utcnow
from hazwaste.extensions import db
from hazwaste.notifications import services


@click.group("notifications")
def notifications_cli() -> None:
    """Notification reminders and digests."""


@notifications_cli.command("remind")
@with_appcontext
def remind_command() -> None:
    """Publish due reminders (receipt due/overdue, licences and permits ending) and send the
    daily digests that are due."""
    done = services.periodic_job(db.session, utcnow())
    click.echo(f"reminders={done['reminders']} digests={done['digests']}")
