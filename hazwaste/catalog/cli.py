"""``flask load-reference``: load or refresh reference data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask.cli import with_appcontext

from hazwaste.catalog import editions, services
from hazwaste.db import utcnow
from hazwaste.errors import Invalid
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


@click.group("catalog")
def catalog_cli() -> None:
    """Catalogue editions (名录)."""


@catalog_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--code", required=True, help="the edition's code, e.g. 2025")
@click.option("--name", required=True, help="e.g. 国家危险废物名录（2025年版）")
@click.option("--decree", default="")
@click.option("--effective-from", "effective_from", required=True, help="YYYY-MM-DD")
@click.option("--drop-exemptions", is_flag=True, help="do not keep the previous 豁免清单")
@click.option("--dry-run", is_flag=True, help="print the differences only")
@with_appcontext
def import_command(
    path: Path,
    code: str,
    name: str,
    decree: str,
    effective_from: str,
    drop_exemptions: bool,
    dry_run: bool,
) -> None:
    """Import the edition table PATH (the columns of hw_catalog_2021.csv): all or nothing,
    with the differences against the edition before it."""
    from sqlalchemy import select

    from hazwaste.accounts.models import User

    try:
        since = date.fromisoformat(effective_from)
    except ValueError:
        raise click.BadParameter("YYYY-MM-DD", param_hint="--effective-from") from None
    admin = db.session.scalars(select(User).where(User.is_platform_admin.is_(True))).first()
    if admin is None:
        raise click.ClickException("no platform administrator to record the import under")
    meta = {"code": code, "name": name, "decree": decree, "effective_from": since}
    try:
        result = editions.import_edition(
            db.session,
            utcnow(),
            admin,
            meta,
            path.read_text(encoding="utf-8-sig"),
            dry_run=dry_run,
            keep_exemptions=not drop_exemptions,
        )
    except Invalid as exc:
        db.session.rollback()
        for key, messages in exc.fields.items():
            for message in messages:
                click.echo(f"{key}: {message}", err=True)
        raise SystemExit(1) from None
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    click.echo(
        f"{'would load' if dry_run else 'loaded'} {code}: {result.total} codes; against "
        f"{result.base}: {len(result.added)} added, {len(result.removed)} removed, "
        f"{len(result.changed)} changes"
    )
    for change in result.changed:
        click.echo(f"  {change.code} {change.field}: {change.before} -> {change.after}")
