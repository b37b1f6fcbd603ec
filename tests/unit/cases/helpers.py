"""Flags made directly (no reconciliation run) so case tests control their parties."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from hazwaste.reconciliation.models import Flag, Severity

_serial = itertools.count(1)


def make_flag(
    session: Any,
    now: Any,
    *,
    producer: Any = None,
    carrier: Any = None,
    receiver: Any = None,
    **overrides: Any,
) -> Flag:
    n = next(_serial)
    values: dict[str, Any] = {
        "rule": "WEIGHT_GAP",
        "subject_type": "manifest",
        "subject_id": 900000 + n,
        "period": "",
        "severity": Severity.HIGH,
        "quantity_kg": Decimal("1250.5"),
        "summary": f"测试差异 {n}",
        "evidence": "{}",
        "producer_id": producer.id if producer else None,
        "carrier_id": carrier.id if carrier else None,
        "receiver_id": receiver.id if receiver else None,
        "first_seen_at": now,
        "last_seen_at": now,
    }
    values.update(overrides)
    flag = Flag(**values)
    session.add(flag)
    session.flush()
    return flag
