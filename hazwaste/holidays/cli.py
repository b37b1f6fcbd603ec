"""``flask holidays``: load a year's official schedule from a file, and show where each
year's working days come from."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from hazwaste.db import utcnow
from hazwaste.errors import Invalid
from hazwaste.extensions import db
from hazwaste.holidays import services


@click.group("holidays")
def holidays_cli() -> None:
    """Official holiday schedules (国务院办公厅 notices)."""


@holidays_cli.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", default="", help="the notice, e.g. 国办发明电〔2026〕…号")
@with_appcontext
def load_command(path: Path, source: str) -> None:
    """Load the schedule file PATH (CSV: date,kind,name); all or nothing. Provisional due
    dates are computed again by the job workers after the commit."""
    try:
        written = services.load_text(
            db.session, utcnow(), path.read_text(encoding="utf-8-sig"), source, None
        )
    except Invalid as exc:
        db.session.rollback()
        for message in exc.fields.get("file", [str(exc)]):
            click.echo(message, err=True)
        raise SystemExit(1) from None
    db.session.commit()
    for year, changed in written.items():
        click.echo(f"{year}: {'loaded' if changed else 'unchanged'}")


@holidays_cli.command("status")
@with_appcontext
def status_command() -> None:
    """Where each year's working days come from (official, library, estimate)."""
    now = utcnow()
    for row in services.status(db.session, services.years_around(now, back=3, ahead=2)):
        extra = (
            f" {row.days_off} days off, {row.workdays} make-up days"
            if row.source == "official"
            else ""
        )
        click.echo(f"{row.year}: {row.source}{extra}")
    missing = services.missing_next_year(db.session, now)
    if missing:
        click.echo(f"warning: the official schedule of {missing} is not loaded yet", err=True)
