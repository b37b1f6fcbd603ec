"""CSV and XLSX of the balances table (exact decimals; same cell rules as ledger exports)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import gettext as _

from hazwaste.exports import csv_bytes, xlsx_bytes
from hazwaste.oversight.balances import BalanceRow


def _header() -> list[str]:
    return [
        _("Month"),
        _("Enterprise or region"),
        _("Region code"),
        _("Waste code"),
        _("Generated (kg)"),
        _("Shipped (kg)"),
        _("Received (kg)"),
        _("Disposed (kg)"),
        _("Stock (kg)"),
    ]


def _cells(r: BalanceRow) -> list[Any]:
    return [
        r.month,
        r.name,
        r.region_code,
        r.waste_code,
        r.generated,
        r.shipped,
        r.received,
        r.disposed,
        r.stock,
    ]


def balances_csv(rows: Sequence[BalanceRow]) -> bytes:
    return csv_bytes(_header(), (_cells(r) for r in rows))


def balances_xlsx(rows: Sequence[BalanceRow]) -> bytes:
    return xlsx_bytes(_("Balances"), _header(), (_cells(r) for r in rows))
