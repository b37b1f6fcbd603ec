"""Evaluating several rules of a full run at once, on separate database connections.

The rules are independent read-only queries, each mostly one core's work in the database;
running them side by side shortens a national run on a multi-core server. Flags are still
written by the run's own transaction, from the findings the workers hand over in batches
through a bounded queue (memory stays bounded however many findings a rule has).

Workers read committed data only. On PostgreSQL they import the run transaction's snapshot
(``pg_export_snapshot``), so every rule sees exactly the same database state; on SQLite (WAL
mode) each worker reads the last committed state when its rule starts.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from hazwaste.reconciliation.rules.base import Context, Finding, Rule

#: Findings handed over per batch.
BATCH = 1000
_SNAPSHOT_ID = re.compile(r"^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$")


class _Stopped(Exception):
    """The run stopped consuming (it failed): workers give up."""


def shareable(session: Session) -> bool:
    """Whether other connections can read what this session's database holds (not an
    in-memory SQLite database, which exists in one connection only)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        return True
    database = bind.engine.url.database or ""
    return database not in ("", ":memory:") and "mode=memory" not in database


def evaluate(
    session: Session, rules: list[Rule], ctx: Context, workers: int, statements: list[str]
) -> Iterator[tuple[Rule, Iterable[Finding] | None]]:
    """Yield ``(rule, findings)`` batches as the workers produce them and ``(rule, None)``
    when a rule is complete; costliest rules start first. A worker's exception is raised
    here; if the consumer stops early, the workers are stopped and joined."""
    engine = session.get_bind().engine
    snapshot = None
    if engine.dialect.name == "postgresql":
        snapshot = session.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        if not _SNAPSHOT_ID.match(snapshot):  # interpolated below: be sure of its shape
            raise RuntimeError(f"unexpected snapshot id {snapshot!r}")
    out: queue.Queue[tuple[Rule, Any]] = queue.Queue(maxsize=2 * workers)
    stop = threading.Event()

    def put(item: tuple[Rule, Any]) -> None:
        while True:
            if stop.is_set():
                raise _Stopped()
            try:
                out.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def work(rule: Rule) -> None:
        try:
            with Session(bind=engine) as own:
                if snapshot is not None:
                    own.connection(execution_options={"isolation_level": "REPEATABLE READ"})
                    own.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
                else:  # SQLite: a reader beside the run's write transaction
                    own.connection(execution_options={"read_only": True})
                for statement in statements:
                    own.execute(text(statement))
                batch: list[Finding] = []
                for finding in rule.findings(own, ctx):
                    batch.append(finding)
                    if len(batch) >= BATCH:
                        put((rule, batch))
                        batch = []
                put((rule, batch))
                own.rollback()
            put((rule, None))
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the consumer, which raises it
            with contextlib.suppress(_Stopped):
                put((rule, exc))

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reconcile")
    try:
        for rule in sorted(rules, key=lambda r: -r.cost):
            pool.submit(work, rule)
        pending = len(rules)
        while pending:
            rule, item = out.get()
            if isinstance(item, BaseException):
                raise item
            if item is None:
                pending -= 1
            yield rule, item
    finally:
        stop.set()
        pool.shutdown(wait=True)
