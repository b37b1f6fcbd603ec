"""``flask load-reference``: load or refresh reference data."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from hazwaste.catalog import services
from hazwaste.db import utcnow
from hazwaste.extensions import db
from hazwaste.holidays import services as holidays


@click.command("load-reference")
@with_appcontext
def load_reference_command() -> None:
    """Load regions, treatment methods, the waste catalogue editions and the official
    holiday schedules (idempotent)."""
    report = services.load_reference_data(db.session)
    years = holidays.load_data_file(db.session, utcnow())
    db.session.commit()
    click.echo(
        "Reference data: {regions} regions, {methods} treatment methods, {editions} "
        "catalogue edition(s) with {waste_codes} waste codes and {exemptions} "
        "exemption rows; {years} holiday schedule year(s) written.".format(
            **report.as_dict(), years=years
        )
    )
