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

from hazwaste.accounts.models import User
from hazwaste.errors import Invalid
from hazwaste.ledger import services
from hazwaste.ledger.models import Container
from hazwaste.ledger.schemas import CSV_COLUMNS, ContainerSchema
from hazwaste.schemas import field_errors

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


def parse_csv(raw: bytes) -> list[dict[str, str]]:
    """Decode (UTF-8 with or without BOM, or GB18030 from Excel) and split into rows."""
    if len(raw) > MAX_IMPORT_BYTES:
        msg = _("The file is larger than %(mb)s MB.", mb=MAX_IMPORT_BYTES // (1024 * 1024))
        raise Invalid(msg, {"file": [msg]})
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        msg = _("The file is not UTF-8 or GB18030 text.")
        raise Invalid(msg, {"file": [msg]})
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in header and c not in OPTIONAL_COLUMNS]
    if missing:
        msg = _("Missing columns: %(cols)s", cols=", ".join(missing))
        raise Invalid(msg, {"file": [msg]})
    rows = [{(k or "").strip(): (v or "") for k, v in row.items()} for row in reader]
    if not rows:
        msg = _("The file has no rows.")
        raise Invalid(msg, {"file": [msg]})
    if len(rows) > MAX_IMPORT_ROWS:
        msg = _("At most %(n)s rows per file.", n=MAX_IMPORT_ROWS)
        raise Invalid(msg, {"file": [msg]})
    return rows


def import_containers(
    session: Session, now: datetime, user: User, raw: bytes, today: date
) -> list[Container]:
    """Register every row of the CSV, or none: ``Invalid`` lists each bad row's fields
    keyed by its line number in the file (the header is line 1)."""
    rows = parse_csv(raw)
    schema = ContainerSchema()
    checker = services.WasteCodeChecker(session)
    loaded: list[dict[str, Any]] = []
    errors: dict[int, Any] = {}
    for index, row in enumerate(rows):
        try:
            data = schema.load(row)
        except ValidationError as exc:
            errors[index + 2] = field_errors(exc)
            continue
        loaded.append(data)
        # The catalogue and date rules too, so that one upload lists every problem.
        if rule_errors := services.check_row(checker, data, today):
            errors[index + 2] = rule_errors
    if not errors:
        try:
            return services.register_containers(session, now, user, loaded, today)
        except Invalid as exc:
            row_errors = exc.fields.get("rows")
            if not isinstance(row_errors, dict):
                raise
            errors = {int(i) + 2: e for i, e in row_errors.items() if str(i).isdigit()}
    raise Invalid(
        _("Nothing was imported: %(n)s rows have errors.", n=len(errors)), {"rows": errors}
    )
