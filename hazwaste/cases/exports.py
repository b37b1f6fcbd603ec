"""CSV and XLSX of the case queue with the page's filters (same query, not paginated).

Rows are read in batches (``yield_per``) so a large jurisdiction does not sit in memory;
the CSV is streamed and starts with a UTF-8 BOM so Excel shows Chinese correctly.
Quantities stay Decimal (plain text in CSV, numbers with three decimals in XLSX).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session, selectinload

from hazwaste import exports as shared
from hazwaste.accounts.models import User
from hazwaste.labels import datetime_local
from hazwaste.reconciliation import queries
from hazwaste.reconciliation.models import Flag

BATCH = 500


def header() -> list[str]:
    return [
        _("ID"),
        _("Rule"),
        _("Severity"),
        _("Case status"),
        _("Finding"),
        _("Assignee"),
        _("Enterprises"),
        _("Region"),
        _("Quantity (kg)"),
        _("First seen"),
        _("Last change"),
        _("Summary"),
    ]


def rows(session: Session, user: User, filters: queries.FlagFilters) -> Iterator[list[Any]]:
    """One list per flag, in the queue's order (Decimal quantity, local time strings)."""
    stmt = queries.list_query(user, filters).options(
        selectinload(Flag.producer),
        selectinload(Flag.carrier),
        selectinload(Flag.receiver),
        selectinload(Flag.assignee),
    )
    for flag in session.scalars(stmt.execution_options(yield_per=BATCH)):
        orgs = [o for o in (flag.producer, flag.carrier, flag.receiver) if o is not None]
        yield [
            flag.id,
            flag.rule,
            flag.severity.value,
            flag.case_status.value,
            flag.case_finding.value if flag.case_finding else "",
            flag.assignee.name if flag.assignee else "",
            " / ".join(dict.fromkeys(o.name for o in orgs)),
            " / ".join(dict.fromkeys(o.region_code for o in orgs)),
            flag.quantity_kg,
            datetime_local(flag.first_seen_at),
            datetime_local(flag.case_changed_at or flag.last_seen_at),
            flag.summary,
        ]


def xlsx_bytes(data: Iterable[list[Any]]) -> bytes:
    return shared.xlsx_bytes(_("Cases"), header(), data)
