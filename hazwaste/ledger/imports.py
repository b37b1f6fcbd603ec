"""CSV import of containers: every row validated, all-or-nothing, errors per row and field."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from hazwaste import csvimport
from hazwaste.accounts.models import User
from hazwaste.errors import Invalid
from hazwaste.ledger import services
from hazwaste.ledger.models import Container
from hazwaste.ledger.schemas import CSV_COLUMNS, ContainerSchema
from hazwaste.schemas import capped_rows, field_errors

#: Largest accepted upload; 10,000 rows are about 1.5 MB.
MAX_IMPORT_BYTES = 8 * 1024 * 1024
MAX_IMPORT_ROWS = 20000
#: Columns a file may leave out (blank for every row).
OPTIONAL_COLUMNS = ("main_components", "harmful_components", "source_process")


@dataclass
class ImportResult:
    created: list[Container] = field(default_factory=list)
    errors: dict[int, dict[str, Any]] = field(default_factory=dict)  # CSV line number → fields


def template_csv() -> str:
    """The header line plus one example row, for users to fill in."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerow(
        [
            "900-249-08",
            "废矿物油",
            "liquid",
            "T,I",
            "矿物油",
            "石油烃",
            "drum",
            "180.5",
            date.today().isoformat(),
            "设备检修",
        ]
    )
    return out.getvalue()


def parse_csv(raw: bytes) -> list[tuple[int, dict[str, str]]]:
    """Decode (UTF-8 with or without BOM, or GB18030 from Excel) and split into
    ``(line number, row)`` pairs; the header is line 1, blank lines are skipped.

    ``Invalid`` on ``file`` if the file is too large, empty, not CSV text (see
    :mod:`hazwaste.csvimport`), lacks a required column, has no rows or too many.
    """
    if len(raw) > MAX_IMPORT_BYTES:
        msg = _("The file is larger than %(mb)s MB.", mb=MAX_IMPORT_BYTES // (1024 * 1024))
        raise Invalid(msg, {"file": [msg]})
    header, found = csvimport.read_rows(csvimport.decode(raw), MAX_IMPORT_ROWS)
    names = [h.strip() for h in header]
    missing = [c for c in CSV_COLUMNS if c not in names and c not in OPTIONAL_COLUMNS]
    if missing:
        raise csvimport.file_error(_("Missing columns: %(cols)s", cols=", ".join(missing)))
    rows = [
        (line, {name: (values[i] if i < len(values) else "") for i, name in enumerate(names)})
        for line, values in found
    ]
    if not rows:
        raise csvimport.file_error(_("The file has no rows."))
    return rows


def import_containers(
    session: Session, now: datetime, user: User, raw: bytes, today: date
) -> list[Container]:
    """Register every row of the CSV, or none: ``Invalid`` lists the bad rows' fields keyed
    by their line numbers in the file (the header is line 1) — the first
    :data:`~hazwaste.schemas.ROW_ERRORS_MAX` of them, ``extra["invalid_rows"]`` counts all."""
    rows = parse_csv(raw)
    schema = ContainerSchema()
    checker = services.WasteCodeChecker(session)
    loaded: list[dict[str, Any]] = []
    errors: dict[int, Any] = {}
    for line, row in rows:
        try:
            data = schema.load(row)
        except ValidationError as exc:
            errors[line] = field_errors(exc)
            continue
        loaded.append(data)
        # The catalogue and date rules too, so that one upload lists every problem.
        if rule_errors := services.check_row(checker, data, today):
            errors[line] = rule_errors
    if not errors:
        try:
            return services.register_containers(session, now, user, loaded, today)
        except Invalid as exc:
            row_errors = exc.fields.get("rows")
            if not isinstance(row_errors, dict):
                raise
            # Every row loaded (none had errors), so the service's indexes are the file's rows.
            errors = {rows[int(i)][0]: e for i, e in row_errors.items() if str(i).isdigit()}
    shown, total = capped_rows(errors)
    raise Invalid(
        _("Nothing was imported: %(n)s rows have errors.", n=total),
        {"rows": shown},
        invalid_rows=total,
    )
