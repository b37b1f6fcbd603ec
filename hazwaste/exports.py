"""Spreadsheet files shared by every export (ledger, balances, cases, manifests).

Quantities leave as exact decimals: text like ``100.333`` in CSV, ``Decimal`` numbers with a
three-decimal format in XLSX (never a Python float). CSV starts with a UTF-8 byte-order mark
so that Excel shows Chinese text correctly when the file is double-clicked, and text that a
spreadsheet would run as a formula (CSV injection) is prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from flask import Response, stream_with_context
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

CSV_MIMETYPE = "text/csv; charset=utf-8"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KG_FORMAT = "#,##0.000"
#: Text starting with these is run as a formula by spreadsheet programs (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Size of the pieces a streamed CSV is sent in.
CSV_CHUNK = 64 * 1024


def plain(value: Decimal | None) -> str:
    """A quantity as text without exponent or trailing zeros (``100.5``, ``0.3``, ``12``)."""
    if value is None:
        return ""
    text = format(Decimal(value), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def csv_text(value: Any) -> Any:
    """One CSV cell: decimals plain, dates ISO, formula-looking text neutralised."""
    if isinstance(value, Decimal):
        return plain(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_bytes(header: Sequence[str], rows: Iterable[list[Any]]) -> bytes:
    return b"".join(chunk.encode("utf-8") for chunk in csv_chunks(header, rows))


def csv_chunks(header: Sequence[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """The CSV text in pieces, so a large export is streamed rather than built in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(header)
    for cells in rows:
        writer.writerow([csv_text(c) for c in cells])
        if buffer.tell() > CSV_CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_bytes(title: str, header: Sequence[str], rows: Iterable[list[Any]]) -> bytes:
    """A one-sheet workbook written row by row (openpyxl's write-only mode)."""
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


def _headers(filename: str) -> dict[str, str]:
    # Exports carry enterprise data: never kept by shared caches or the browser's cache.
    return {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
    }


def download(body: bytes, mimetype: str, filename: str) -> Response:
    return Response(body, mimetype=mimetype, headers=_headers(filename))


def csv_download(header: Sequence[str], rows: Iterable[list[Any]], filename: str) -> Response:
    """A streamed CSV attachment (the rows are read while the response is sent)."""
    return Response(
        stream_with_context(csv_chunks(header, rows)),
        mimetype=CSV_MIMETYPE,
        headers=_headers(filename),
    )
