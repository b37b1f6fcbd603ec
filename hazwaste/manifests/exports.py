"""CSV and XLSX of the manifest list with the page's filters (same query, not paginated).

Manifests are read in batches with their parties and lines loaded alongside, so a regulator
exporting a whole jurisdiction neither loads everything at once nor queries per row.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session, selectinload

from hazwaste.accounts.models import User
from hazwaste.labels import STATUS_LABELS, datetime_local
from hazwaste.manifests import services
from hazwaste.manifests.models import Manifest

BATCH = 500


def header() -> list[str]:
    return [
        _("Number"),
        _("Status"),
        _("Planned date"),
        _("Producer"),
        _("Carrier"),
        _("Receiver"),
        _("Waste codes"),
        _("Declared (kg)"),
        _("Loaded (kg)"),
        _("Received (kg)"),
        _("Accepted (kg)"),
        _("Picked up"),
        _("Arrived"),
        _("Received"),
        _("Receipt due"),
    ]


def _total(values: list[Decimal | None]) -> Decimal | None:
    known = [v for v in values if v is not None]
    return sum(known, Decimal(0)) if known else None


def rows(session: Session, user: User, filters: services.ManifestFilters) -> Iterator[list[Any]]:
    """One list per manifest visible to ``user``, newest first (exact Decimal kg)."""
    stmt = services.list_query(user, filters).options(
        selectinload(Manifest.producer),
        selectinload(Manifest.carrier),
        selectinload(Manifest.receiver),
        selectinload(Manifest.lines),
    )
    for m in session.scalars(stmt.execution_options(yield_per=BATCH)):
        yield [
            m.number or _("Draft #%(id)s", id=m.id),
            str(STATUS_LABELS.get(m.status.value, m.status.value)),
            m.planned_date,
            m.producer.name,
            m.carrier.name,
            m.receiver.name,
            " ".join(dict.fromkeys(line.waste_code for line in m.lines)),
            m.declared_total_kg,
            _total([line.loaded_kg for line in m.lines]),
            _total([line.received_kg for line in m.lines]),
            _total([line.accepted_kg for line in m.lines]),
            datetime_local(m.picked_up_at),
            datetime_local(m.delivered_at),
            datetime_local(m.received_at),
            m.receipt_due_date,
        ]
