"""``flask load-reference``: load or refresh reference data."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from hazwaste.catalog import services
from hazwaste.extensions import db


@click.command("load-reference")
@with_appcontext
def load_reference_command() -> None:
    """Load regions, treatment methods and the waste catalogue editions (idempotent)."""
    report = services.load_reference_data(db.session)
    db.session.commit()
    click.echo(
        "Reference data: {regions} regions, {methods} treatment methods, {editions} "
        "catalogue edition(s) with {waste_codes} waste codes and {exemptions} "
        "exemption rows.".format(**report.as_dict())
    )
