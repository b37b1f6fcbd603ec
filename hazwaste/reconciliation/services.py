"""The reconciliation engine: run rules, upsert flags, resolve what cleared, record the run.

A run evaluates the registered rules as of a time. Findings are upserted by
(rule, subject, period): re-running never duplicates a flag, it refreshes its evidence and
severity; a flag whose condition no longer holds is marked *resolved* (kept, never deleted).
A full run never overlaps another run: PostgreSQL takes an advisory lock, exclusive for a full
run and shared for a manifest-scoped (incremental) one, so the incremental runs the job workers
start after receipts run side by side and only wait for — are deferred by — a full run; on
SQLite a second run is refused while another is recorded as running.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from hazwaste import events
from hazwaste.audit.services import canonical_json
from hazwaste.db import utcnow
from hazwaste.events import types as event_types
from hazwaste.holidays import services as holidays
from hazwaste.reconciliation import concurrent
from hazwaste.reconciliation.models import Flag, FlagStatus, ReconciliationRun, RunStatus
from hazwaste.reconciliation.rules import REGISTRY
from hazwaste.reconciliation.rules.base import Context, Finding, Rule
from hazwaste.reconciliation.totals import compact as compact_totals

#: Advisory-lock key for reconciliation runs on PostgreSQL ("hazw" in ASCII).
ADVISORY_LOCK_KEY = 0x68617A77
#: A run recorded as running for longer than this is considered dead (crashed process).
STALE_RUN = timedelta(hours=6)
UPSERT_CHUNK = 1000


class RunRefused(Exception):
    """Another reconciliation run is in progress."""


def _sqlite_guard(session: Session, now: datetime) -> None:
    if session.get_bind().dialect.name == "postgresql":
        return
    running = session.scalar(
        select(func.count())
        .select_from(ReconciliationRun)
        .where(
            ReconciliationRun.status == RunStatus.RUNNING,
            ReconciliationRun.started_at > now - STALE_RUN,
        )
    )
    if running:
        raise RunRefused("another reconciliation run is recorded as running")


def _advisory_lock(session: Session, shared: bool = False) -> None:
    """Take the run lock for the transaction (``RunRefused`` if it cannot be had at once).

    Incremental runs touch only their manifest's flags, so they share the lock; a full run
    rewrites every rule's flags and needs it alone."""
    if session.get_bind().dialect.name != "postgresql":
        return
    function = "pg_try_advisory_xact_lock_shared" if shared else "pg_try_advisory_xact_lock"
    got = session.execute(text(f"SELECT {function}(:k)"), {"k": ADVISORY_LOCK_KEY}).scalar_one()
    if not got:
        raise RunRefused("another reconciliation run holds the lock")


def _upsert(
    session: Session, rule: Rule, findings: Iterable[Finding], run: ReconciliationRun, now: datetime
) -> int:
    builder = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    count = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        if not batch:
            return
        stmt = builder(Flag)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Flag.rule, Flag.subject_type, Flag.subject_id, Flag.period],
            set_={
                "severity": stmt.excluded.severity,
                "quantity_kg": stmt.excluded.quantity_kg,
                "summary": stmt.excluded.summary,
                "evidence": stmt.excluded.evidence,
                "producer_id": stmt.excluded.producer_id,
                "carrier_id": stmt.excluded.carrier_id,
                "receiver_id": stmt.excluded.receiver_id,
                "manifest_id": stmt.excluded.manifest_id,
                "status": FlagStatus.OPEN.value,
                "resolved_at": None,
                "last_seen_at": stmt.excluded.last_seen_at,
                "last_run_id": stmt.excluded.last_run_id,
            },
        )
        session.execute(stmt, batch)
        batch.clear()

    for finding in findings:
        batch.append(
            {
                "rule": rule.code,
                "subject_type": finding.subject_type,
                "subject_id": finding.subject_id,
                "period": finding.period,
                "severity": finding.severity.value,
                "status": FlagStatus.OPEN.value,
                "case_status": "new",
                "quantity_kg": finding.quantity_kg,
                "summary": finding.summary,
                "evidence": canonical_json(finding.evidence),
                "producer_id": finding.producer_id,
                "carrier_id": finding.carrier_id,
                "receiver_id": finding.receiver_id,
                "manifest_id": finding.manifest_id,
                "first_seen_at": now,
                "last_seen_at": now,
                "last_run_id": run.id,
            }
        )
        count += 1
        if len(batch) >= UPSERT_CHUNK:
            flush()
    flush()
    return count


def _resolve_cleared(
    session: Session, rule: Rule, run: ReconciliationRun, now: datetime, manifest_id: int | None
) -> int:
    stmt = (
        update(Flag)
        .where(
            Flag.rule == rule.code,
            Flag.status == FlagStatus.OPEN,
            (Flag.last_run_id.is_(None)) | (Flag.last_run_id != run.id),
        )
        .values(status=FlagStatus.RESOLVED, resolved_at=now, last_run_id=run.id)
        .execution_options(synchronize_session=False)
    )
    if manifest_id is not None:
        stmt = stmt.where(Flag.manifest_id == manifest_id)
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def _rules(rules: list[str] | None, manifest_id: int | None) -> list[Rule]:
    chosen = rules or list(REGISTRY)
    unknown = [code for code in chosen if code not in REGISTRY]
    if unknown:
        raise KeyError(", ".join(unknown))
    instances = [REGISTRY[code]() for code in chosen]
    if manifest_id is not None:
        instances = [r for r in instances if r.manifest_scoped]
    return instances


def start(
    session: Session,
    now: datetime,
    as_of: datetime | None = None,
    rules: list[str] | None = None,
    manifest_id: int | None = None,
) -> ReconciliationRun:
    """Record a run as *running*. Commit it before :func:`execute` so that, on SQLite, a
    second concurrent run sees it and is refused (``RunRefused``); ``KeyError`` for an
    unknown rule code. A full run also folds the monthly totals' deltas here (committed
    with the record): the rules read totals plus unfolded deltas, exact either way, but
    fewer deltas make that cheaper (after a bulk load, every row is one)."""
    instances = _rules(rules, manifest_id)
    _sqlite_guard(session, now)
    if manifest_id is None:
        compact_totals(session)
    record = ReconciliationRun(
        as_of=as_of or now,
        started_at=now,
        status=RunStatus.RUNNING,
        scope="full" if manifest_id is None else f"manifest:{manifest_id}",
        rules=",".join(r.code for r in instances),
    )
    session.add(record)
    session.flush()
    return record


def _run_settings(session: Session, record: ReconciliationRun) -> list[str]:
    """``SET LOCAL`` statements for a full run's transaction(s) on PostgreSQL."""
    from flask import current_app

    if session.get_bind().dialect.name != "postgresql" or record.scope != "full":
        return []
    statements = []
    # LOCAL: only this run's transaction; the value is configuration, not user input.
    work_mem = str(current_app.config.get("RECONCILIATION_WORK_MEM") or "")
    if work_mem.replace("MB", "").replace("GB", "").isdigit():
        statements.append(f"SET LOCAL work_mem = '{work_mem}'")
    # Compiling each rule's plan costs about a second at national scale and the plans run
    # once: JIT does not pay for itself here.
    statements.append("SET LOCAL jit = off")
    # The rules join millions of lines with small tables; the planner underestimates the
    # small side after filters and picks merge joins that sort every line (seconds).
    statements.append("SET LOCAL enable_mergejoin = off")
    return statements


def execute(
    session: Session,
    record: ReconciliationRun,
    now: datetime,
    settings: dict[str, Any] | None = None,
    workers: int = 1,
) -> ReconciliationRun:
    """Evaluate the run's rules, upsert flags, resolve cleared ones, store counts.

    On PostgreSQL it first takes the advisory lock (``RunRefused`` if a full run holds it, or,
    for a full run, if any run does).
    With ``workers`` > 1 a full run evaluates that many rules at once, each on its own
    connection reading committed data (on PostgreSQL the very snapshot of this transaction);
    only use it when everything the run should see is committed (``flask reconcile``). The
    caller commits; on an exception it should roll back and call :func:`fail`.
    """
    from flask import current_app

    _advisory_lock(session, shared=record.scope != "full")
    holidays.refresh(session)  # RECEIPT_OVERDUE counts working days
    statements = _run_settings(session, record)
    for statement in statements:
        session.execute(text(statement))
    manifest_id = (
        int(record.scope.split(":", 1)[1]) if record.scope.startswith("manifest:") else None
    )
    instances = [REGISTRY[code]() for code in record.rules.split(",") if code]
    ctx = Context(
        as_of=record.as_of,
        settings=settings or current_app.config["RECONCILIATION"],
        manifest_id=manifest_id,
    )
    counts: dict[str, dict[str, int]] = {}
    found: dict[str, int] = {}
    if workers > 1 and record.scope == "full" and concurrent.shareable(session):
        stream = concurrent.evaluate(session, instances, ctx, workers, statements)
    else:
        stream = _one_by_one(session, instances, ctx)
    for rule, batch in stream:
        if batch is not None:
            found[rule.code] = found.get(rule.code, 0) + _upsert(session, rule, batch, record, now)
            continue
        new = session.scalar(
            select(func.count())
            .select_from(Flag)
            .where(Flag.rule == rule.code, Flag.last_run_id == record.id, Flag.first_seen_at == now)
        )
        resolved = _resolve_cleared(session, rule, record, now, manifest_id)
        counts[rule.code] = {
            "found": found.get(rule.code, 0),
            "new": int(new or 0),
            "resolved": resolved,
        }
    _publish_new(session, record, now)
    record.counts = json.dumps(counts, sort_keys=True)
    record.status = RunStatus.SUCCEEDED
    record.finished_at = max(utcnow(), now)
    return record


def _publish_new(session: Session, record: ReconciliationRun, now: datetime) -> int:
    """``flag.raised`` for every flag this run created (not for re-found ones)."""
    rows = session.execute(
        select(
            Flag.id, Flag.rule, Flag.severity, Flag.producer_id, Flag.carrier_id, Flag.receiver_id
        ).where(Flag.last_run_id == record.id, Flag.first_seen_at == now)
    ).all()
    for row in rows:
        events.publish(
            session,
            now,
            event_types.FLAG_RAISED,
            subject_kind="flag",
            subject_id=row.id,
            organization_ids=[row.producer_id, row.carrier_id, row.receiver_id],
            data={"rule": row.rule, "severity": row.severity.value},
            key=f"flag.raised:{row.id}",
        )
    return len(rows)


def _one_by_one(
    session: Session, rules: list[Rule], ctx: Context
) -> Iterator[tuple[Rule, Iterable[Finding] | None]]:
    """Each rule's findings in this session, then ``(rule, None)`` once it is done."""
    for rule in rules:
        yield rule, rule.findings(session, ctx)
        yield rule, None


def fail(session: Session, record_id: int, error: str) -> None:
    """Mark a run as failed after its transaction was rolled back (caller commits)."""
    record = session.get(ReconciliationRun, record_id)
    if record is not None:
        record.status = RunStatus.FAILED
        record.finished_at = utcnow()
        record.error = error[:2000]


def run(
    session: Session,
    now: datetime,
    as_of: datetime | None = None,
    rules: list[str] | None = None,
    manifest_id: int | None = None,
    settings: dict[str, Any] | None = None,
) -> ReconciliationRun:
    """:func:`start` and :func:`execute` in one transaction (tests, incremental runs)."""
    record = start(session, now, as_of, rules, manifest_id)
    return execute(session, record, now, settings)
