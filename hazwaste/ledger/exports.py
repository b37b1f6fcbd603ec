"""CSV and XLSX exports of ledger entries and monthly summaries.

Quantities leave as exact decimals: text like ``100.333`` in CSV, ``Decimal`` numbers with a
three-decimal format in XLSX (never a Python float). CSV starts with a UTF-8 byte-order mark
so that Excel shows Chinese text correctly when the file is double-clicked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from flask_babel import gettext as _

from hazwaste import exports as shared
from hazwaste.ledger import services
from hazwaste.ledger.display import LEDGER_KIND_LABELS, label

CSV_MIMETYPE, XLSX_MIMETYPE = shared.CSV_MIMETYPE, shared.XLSX_MIMETYPE


def _entry_header() -> list[str]:
    return [
        _("Date"),
        _("Waste code"),
        _("Kind"),
        _("Quantity (kg)"),
        _("Container code"),
        _("Manifest"),
        _("Method"),
        _("Note"),
    ]


def _entry_cells(row: Any) -> list[Any]:
    entry, number = row
    return [
        entry.occurred_on,
        entry.waste_code,
        label(LEDGER_KIND_LABELS, entry.kind),
        entry.quantity_kg,
        entry.container.code if entry.container is not None else "",
        number or "",
        entry.method_code or "",
        entry.note,
    ]


def _summary_header() -> list[str]:
    return [
        _("Waste code"),
        _("Opening stock (kg)"),
        _("Generated (kg)"),
        _("Shipped out (kg)"),
        _("Used or disposed of on site (kg)"),
        _("Closing stock (kg)"),
    ]


def _summary_cells(balance: services.MonthBalance) -> list[Any]:
    return [
        balance.waste_code or _("Total"),
        balance.opening_kg,
        balance.generated_kg,
        balance.shipped_kg,
        balance.self_used_kg,
        balance.closing_kg,
    ]


def entries_csv(rows: Iterable[Any]) -> bytes:
    """``rows`` are (entry, manifest number) pairs as :func:`queries.entries_for_export` gives."""
    return shared.csv_bytes(_entry_header(), (_entry_cells(r) for r in rows))


def entries_xlsx(rows: Iterable[Any]) -> bytes:
    return shared.xlsx_bytes(_("Ledger"), _entry_header(), (_entry_cells(r) for r in rows))


def summary_csv(balances: Sequence[services.MonthBalance], total: services.MonthBalance) -> bytes:
    return shared.csv_bytes(_summary_header(), (_summary_cells(b) for b in [*balances, total]))


def summary_xlsx(balances: Sequence[services.MonthBalance], total: services.MonthBalance) -> bytes:
    return shared.xlsx_bytes(
        _("Monthly summary"), _summary_header(), (_summary_cells(b) for b in [*balances, total])
    )
