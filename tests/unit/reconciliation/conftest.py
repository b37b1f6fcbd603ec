"""Helpers for rule tests: manifests driven through the real lifecycle to a chosen step."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from hazwaste.manifests import lifecycle
from hazwaste.reconciliation import services as recon
from hazwaste.reconciliation.models import Flag
from tests.manifest_factories import make_submitted, pickup_data, receipt_data


class Journey:
    """Drive one manifest: ``Journey(session, demo).pickup(t).deliver(t).receive(t, ...)``."""

    def __init__(self, session: Any, demo: Any, submitted_at: datetime, **overrides: Any):
        self.session, self.demo = session, demo
        self.manifest = make_submitted(session, submitted_at, demo, **overrides)

    def pickup(self, at: datetime, factor: str = "1", **extra: Any) -> Journey:
        data = pickup_data(self.manifest, self.demo.extra["vehicles"][0].id, Decimal(factor))
        data.update(extra)
        lifecycle.pickup(self.session, at, self.manifest, self.demo.users["driver"], data)
        return self

    def deliver(self, at: datetime, **extra: Any) -> Journey:
        lifecycle.deliver(
            self.session, at, self.manifest, self.demo.users["driver"], {"note": "", **extra}
        )
        return self

    def receive(self, at: datetime, factor: str = "1", **kw: Any) -> Journey:
        lifecycle.receive(
            self.session,
            at,
            self.manifest,
            self.demo.users["receiver"],
            receipt_data(self.manifest, factor=Decimal(factor), **kw),
        )
        return self


def flags(session: Any, rule: str) -> list[Flag]:
    return list(session.query(Flag).filter(Flag.rule == rule).order_by(Flag.id))


def run(session: Any, as_of: datetime, rule: str, settings: dict[str, Any] | None = None) -> Any:
    record = recon.run(session, as_of, as_of, rules=[rule], settings=settings)
    session.flush()
    session.expire_all()  # flags were written with Core statements: reload them
    return record


@pytest.fixture(autouse=True, params=["deltas", "compacted"])
def compaction(request: Any, monkeypatch: Any) -> str:
    """Every test here runs twice: with the monthly totals' deltas never folded (a full run
    does not compact either: the rules must read totals plus deltas), and with a compaction
    after every flush (the rules read compacted totals)."""
    if request.param == "deltas":
        monkeypatch.setattr(recon, "compact_totals", lambda session, wait=True: {})
        return request.param
    session = request.getfixturevalue("session")
    from sqlalchemy import event

    from hazwaste.reconciliation import totals

    def fold(flushing: Any, _context: Any) -> None:
        totals.compact(flushing)

    event.listen(session, "after_flush_postexec", fold)
    request.addfinalizer(lambda: event.remove(session, "after_flush_postexec", fold))
    return request.param


@pytest.fixture()
def journey(session: Any, demo: Any) -> Any:
    def make(submitted_at: datetime, **overrides: Any) -> Journey:
        return Journey(session, demo, submitted_at, **overrides)

    return make


HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
