"""``flask reconcile``: run the reconciliation rules (for cron)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from hazwaste.db import utcnow
from hazwaste.extensions import db
from hazwaste.reconciliation import services
from hazwaste.reconciliation.rules import REGISTRY


def _as_of(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:  # a bare date or time means China time
        from zoneinfo import ZoneInfo

        parsed = parsed.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    return parsed.astimezone(UTC)


@click.command("reconcile")
@click.option("--as-of", "as_of", help="Evaluate as of this time (ISO 8601; default now).")
@click.option(
    "--rule",
    "rules",
    multiple=True,
    type=click.Choice(sorted(REGISTRY)),
    help="Run only this rule (repeatable). Default: every rule.",
)
@with_appcontext
def reconcile_command(as_of: str | None, rules: tuple[str, ...]) -> None:
    """Evaluate the rules, upsert flags, resolve cleared ones; print counts per rule."""
    now = utcnow()
    try:
        record = services.start(db.session, now, _as_of(as_of), list(rules) or None)
    except services.RunRefused as exc:
        db.session.rollback()
        raise click.ClickException(f"refused: {exc}") from exc
    db.session.commit()
    run_id = record.id
    try:
        services.execute(
            db.session, record, now, workers=current_app.config["RECONCILIATION_WORKERS"]
        )
        db.session.commit()
    except services.RunRefused as exc:
        db.session.rollback()
        services.fail(db.session, run_id, str(exc))
        db.session.commit()
        raise click.ClickException(f"refused: {exc}") from exc
    except Exception as exc:
        db.session.rollback()
        services.fail(db.session, run_id, repr(exc))
        db.session.commit()
        raise
    counts = json.loads(record.counts)
    for code, numbers in sorted(counts.items()):
        click.echo(
            f"{code:<18} found {numbers['found']:>7}  new {numbers['new']:>7}  "
            f"resolved {numbers['resolved']:>7}"
        )
    finished = record.finished_at or record.started_at
    click.echo(
        f"run {run_id} as of {record.as_of.isoformat()} finished in "
        f"{(finished - record.started_at).total_seconds():.2f} s"
    )


@click.group("totals")
def totals_group() -> None:
    """The monthly totals the balance rules read (deltas written by database triggers,
    folded by compaction)."""


@totals_group.command("verify")
@with_appcontext
def verify_command() -> None:
    """Compare the stored totals with a recomputation from the ledger and the manifests;
    exit status 1 when any row differs."""
    from hazwaste.reconciliation import totals

    differences = totals.verify(db.session)
    bad = {name: rows for name, rows in differences.items() if rows}
    for name, rows in sorted(bad.items()):
        click.echo(f"{name}: {len(rows)} rows")
        for row in rows[:20]:
            click.echo(f"  {row}")
    if bad:
        raise SystemExit(1)
    click.echo("monthly totals: exact")


@totals_group.command("rebuild")
@with_appcontext
def rebuild_command() -> None:
    """Recompute the stored totals from the ledger and the manifests."""
    from hazwaste.reconciliation import totals

    counts = totals.rebuild(db.session)
    db.session.commit()
    click.echo(
        f"monthly totals rebuilt: {counts['producer']} producer rows, "
        f"{counts['receiver']} receiver rows"
    )


@totals_group.command("compact")
@with_appcontext
def compact_command() -> None:
    """Fold the deltas recorded since the last compaction into the monthly totals (the job
    workers do it every 30 s)."""
    from hazwaste.reconciliation import totals

    counts = totals.compact(db.session) or {}
    db.session.commit()
    click.echo(
        f"monthly totals compacted: {counts.get('producer', 0)} producer deltas, "
        f"{counts.get('receiver', 0)} receiver deltas"
    )
