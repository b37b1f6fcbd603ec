"""CSV and XLSX exports of ledger entries and monthly summaries.

Quantities leave as exact decimals: text like ``100.333`` in CSV, ``Decimal`` numbers with a
three-decimal format in XLSX (never a Python float). CSV starts with a UTF-8 byte-order mark
so that Excel shows Chinese text correctly when the file is double-clicked.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from hazwaste.ledger import services
from hazwaste.ledger.display import LEDGER_KIND_LABELS, label

CSV_MIMETYPE = "text/csv; charset=utf-8"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KG_FORMAT = "#,##0.000"


def plain(value: Decimal | None) -> str:
    """A quantity as text without exponent or trailing zeros (``100.5``, ``0.3``, ``12``)."""
    if value is None:
        return ""
    text = format(Decimal(value), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


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


#: Text starting with these is run as a formula by spreadsheet programs (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(value: Any) -> Any:
    if isinstance(value, Decimal):
        return plain(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv(header: Sequence[str], rows: Iterable[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for cells in rows:
        writer.writerow([_csv_text(c) for c in cells])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _xlsx(title: str, header: Sequence[str], rows: Iterable[list[Any]]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    bold = Font(bold=True)
    head = []
    for text in header:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        head.append(cell)
    sheet.append(head)
    for cells in rows:
        out = []
        for value in cells:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, Decimal):
                cell.number_format = KG_FORMAT
            elif hasattr(value, "isoformat"):
                cell.number_format = "yyyy-mm-dd"
            elif isinstance(value, str):
                cell.data_type = "s"  # a note like "=1+1" stays text, never a formula
            out.append(cell)
        sheet.append(out)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def entries_csv(rows: Iterable[Any]) -> bytes:
    """``rows`` are (entry, manifest number) pairs as :func:`queries.entries_for_export` gives."""
    return _csv(_entry_header(), (_entry_cells(r) for r in rows))


def entries_xlsx(rows: Iterable[Any]) -> bytes:
    return _xlsx(_("Ledger"), _entry_header(), (_entry_cells(r) for r in rows))


def summary_csv(balances: Sequence[services.MonthBalance], total: services.MonthBalance) -> bytes:
    return _csv(_summary_header(), (_summary_cells(b) for b in [*balances, total]))


def summary_xlsx(balances: Sequence[services.MonthBalance], total: services.MonthBalance) -> bytes:
    return _xlsx(
        _("Monthly summary"), _summary_header(), (_summary_cells(b) for b in [*balances, total])
    )
