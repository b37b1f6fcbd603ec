"""What every rule is: a class with a code, a subject and ONE set-based query.

A rule's :meth:`Rule.findings` runs a single SELECT over the whole database (or over one
manifest for the incremental run after a receipt) and maps each result row to a
:class:`Finding`. No per-manifest Python loop, no query per row: the database does the work.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import Select
from sqlalchemy.orm import Session

from hazwaste.reconciliation.models import Severity

#: Rows fetched from the database at a time: bounds memory at national scale.
FETCH_BATCH = 5000


@dataclass(frozen=True)
class Finding:
    subject_type: str
    subject_id: int
    period: str
    severity: Severity
    quantity_kg: Decimal | None
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    producer_id: int | None = None
    carrier_id: int | None = None
    receiver_id: int | None = None
    manifest_id: int | None = None


@dataclass(frozen=True)
class Context:
    """What a run knows: the evaluation time, the settings and an optional manifest scope."""

    as_of: datetime
    settings: dict[str, Any]
    manifest_id: int | None = None


class Rule(ABC):
    code: ClassVar[str]
    subject_type: ClassVar[str]
    #: Rules that can be evaluated for a single manifest right after its receipt.
    manifest_scoped: ClassVar[bool] = False
    #: Relative cost of a full evaluation at national scale: a concurrent run starts the
    #: costliest rules first (scheduling only; no effect on results).
    cost: ClassVar[int] = 1

    @abstractmethod
    def query(self, session: Session, ctx: Context) -> Select[Any]:
        """The one set-based SELECT; rows are handed to :meth:`to_finding`."""

    @abstractmethod
    def to_finding(self, row: Any, ctx: Context) -> Finding | None:
        """Turn one result row into a finding (None to drop it after a Python-side check)."""

    def findings(self, session: Session, ctx: Context) -> Iterator[Finding]:
        result = session.execute(self.query(session, ctx).execution_options(yield_per=FETCH_BATCH))
        for row in result:
            finding = self.to_finding(row, ctx)
            if finding is not None:
                yield finding


REGISTRY: dict[str, type[Rule]] = {}


def register(cls: type[Rule]) -> type[Rule]:
    """Class decorator adding a rule to the registry under its ``code``."""
    if cls.code in REGISTRY:
        raise ValueError(f"rule {cls.code} registered twice")
    REGISTRY[cls.code] = cls
    return cls


def manifest_total_g(column: Any) -> Any:
    """The manifest's lines summed (integer grams) as a correlated scalar subquery: evaluated
    only for the rows a rule returns, not aggregated over every line of the database first."""
    from sqlalchemy import func, select

    from hazwaste.db import grams
    from hazwaste.manifests.models import Manifest, ManifestLine

    return (
        select(grams(func.sum(grams(column))))
        .where(ManifestLine.manifest_id == Manifest.id)
        .correlate(Manifest)
        .scalar_subquery()
    )


def severity_for(quantity_kg: Decimal | None, settings: dict[str, Any]) -> Severity:
    """Severity rising with the unexplained tonnage; ≥ the referral threshold is critical."""
    if quantity_kg is None:
        return Severity.MEDIUM
    amount = abs(quantity_kg)
    if amount >= Decimal(str(settings["CRITICAL_KG"])):
        return Severity.CRITICAL
    if amount >= Decimal(str(settings["HIGH_KG"])):
        return Severity.HIGH
    if amount >= Decimal(str(settings["MEDIUM_KG"])):
        return Severity.MEDIUM
    return Severity.LOW
