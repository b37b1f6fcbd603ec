"""Reading uploaded CSV files (container import, management plan import) safely.

Whatever the bytes, the outcome is rows or an ``Invalid`` on ``file`` with a message the user
can act on: an empty file, NUL bytes (a workbook rather than a CSV file), an encoding other
than UTF-8 or GB18030, a field longer than the ``csv`` module accepts or malformed quoting.
Line endings may be CRLF, LF or CR alone (as the old Mac Excel saves them).
"""

from __future__ import annotations

import csv
import io

from flask_babel import gettext as _

from hazwaste.errors import Invalid

ENCODINGS = ("utf-8-sig", "gb18030")


def file_error(message: str) -> Invalid:
    return Invalid(message, {"file": [message]})


def decode(raw: bytes) -> str:
    """The file's text (UTF-8 with or without BOM, or GB18030 as Excel saves it).

    ``Invalid`` on ``file`` if it is empty, contains NUL bytes (no text file does, and
    PostgreSQL cannot store them) or is in neither encoding.
    """
    if not raw.strip():
        raise file_error(_("The file is empty."))
    if b"\x00" in raw:
        raise file_error(
            _("The file contains NUL bytes: it is not a CSV text file (perhaps a workbook?).")
        )
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise file_error(_("The file is not UTF-8 or GB18030 text."))


def read_rows(text: str, max_rows: int) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and ``(line number, values)`` of each non-blank row (the header is line 1;
    a quoted field may span lines, a row is numbered by its first line).

    ``Invalid`` on ``file`` if a row is not valid CSV (with its line number) or there are
    more than ``max_rows`` rows; reading stops there.
    """
    # newline="": the csv module itself recognises \r\n, \n and \r, also inside quotes.
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []
    line = 0
    try:
        header = next(reader, [])
        line = reader.line_num
        for values in reader:
            start, line = line + 1, reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(rows) >= max_rows:
                raise file_error(_("At most %(n)s rows per file.", n=max_rows))
            rows.append((start, values))
    except csv.Error as exc:
        where = line + 1
        if "field larger than field limit" in str(exc):
            raise file_error(
                _(
                    "Line %(line)s: a field is longer than %(n)s characters.",
                    line=where,
                    n=csv.field_size_limit(),
                )
            ) from exc
        raise file_error(
            _("The file is not a valid CSV file (line %(line)s).", line=where)
        ) from exc
    return header, rows


def read_records(text: str, max_rows: int) -> tuple[set[str], list[tuple[int, dict[str, str]]]]:
    """:func:`read_rows` as the set of column names and ``(line number, {column: value})``
    per row, names and values stripped (a leading BOM too); extra unnamed values dropped."""
    header, rows = read_rows(text.lstrip("\ufeff"), max_rows)
    names = [name.strip() for name in header]
    records = [
        (line, {name: value.strip() for name, value in zip(names, values, strict=False) if name})
        for line, values in rows
    ]
    return {n for n in names if n}, records
