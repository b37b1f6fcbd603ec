"""Spreadsheet files shared by every export (ledger, balances, cases, manifests).

Quantities leave as exact decimals: text like ``100.333`` in CSV, ``Decimal`` numbers with a
three-decimal format in XLSX (never a Python float). CSV starts with a UTF-8 byte-order mark
so that Excel shows Chinese text correctly when the file is double-clicked, and text that a
spreadsheet would run as a formula (CSV injection) is prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from flask import Response, stream_with_context
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy.orm import Session

from hazwaste.extensions import db

CSV_MIMETYPE = "text/csv; charset=utf-8"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KG_FORMAT = "#,##0.000"
#: Text whose first visible character is one of these is run as a formula by spreadsheet
#: programs (CSV injection, OWASP): the ASCII triggers, their full-width forms (Excel in
#: Chinese locales accepts them), and ``|`` / ``%`` (DDE and some locales' operators).
FORMULA_TRIGGERS = frozenset("=+-@＝＋－＠|%")
#: Characters spreadsheets skip before deciding a cell is a formula (also as the very first
#: character, tab, CR, LF and NUL are triggers in themselves).
LEADING_BLANKS = " \t\r\n\0\x0b\x0c\u00a0\u3000"
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
    if isinstance(value, str) and formula_like(value):
        return "'" + value
    return value


def formula_like(text: str) -> bool:
    """Whether a spreadsheet could run ``text`` as a formula: it starts with a control
    character (tab, CR, LF, NUL) or its first non-blank character is a trigger."""
    if not text:
        return False
    if text[0] in "\t\r\n\0":
        return True
    visible = text.lstrip(LEADING_BLANKS)
    return bool(visible) and visible[0] in FORMULA_TRIGGERS


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
    # content_type, not mimetype: Werkzeug appends "; charset=utf-8" to a text/* mimetype
    # even when it already names one (CSV_MIMETYPE does).
    return Response(body, content_type=mimetype, headers=_headers(filename))


def csv_download(
    header: Sequence[str], make_rows: Callable[[Session], Iterable[list[Any]]], filename: str
) -> Response:
    """A streamed CSV attachment: ``make_rows(session)`` is called while the response is sent.

    By then the request is over and its database session has been removed (Flask-SQLAlchemy
    does so at app-context teardown), so every ORM object the view loaded, ``current_user``
    included, is detached. ``make_rows`` must therefore close over plain values only (ids,
    filters) and load what it needs through the session it is given: a fresh one inside the
    app context that ``stream_with_context`` pushes again, removed when the stream ends or
    the client goes away.
    """

    def body() -> Iterator[str]:
        yield from csv_chunks(header, make_rows(db.session))

    return Response(
        stream_with_context(body()),
        content_type=CSV_MIMETYPE,
        headers=_headers(filename),
    )
