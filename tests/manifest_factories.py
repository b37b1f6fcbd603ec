"""Helpers that build manifests in the demo world through the real services."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hazwaste.manifests import lifecycle, services
from hazwaste.manifests.models import Manifest


def draft_data(demo: Any, planned: date, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "carrier_id": demo.orgs["carrier"].id,
        "receiver_id": demo.orgs["receiver"].id,
        "vehicle_id": demo.extra["vehicles"][0].id,
        "driver_id": demo.extra["drivers"][0].id,
        "planned_date": planned,
        "emergency_measures": "泄漏时用吸附棉围堵，报告119和当地生态环境局。",
        "lines": [
            {
                "waste_code": "900-249-08",
                "waste_name": "废矿物油",
                "physical_form": "liquid",
                "hazards": ["T", "I"],
                "packaging": "200L铁桶",
                "container_count": 10,
                "declared_kg": Decimal("1800.5"),
                "declared_unit": "kg",
            },
            {
                "waste_code": "900-041-49",
                "waste_name": "废包装桶",
                "physical_form": "solid",
                "hazards": ["T"],
                "packaging": "吨袋",
                "container_count": 2,
                "declared_kg": Decimal("420"),
                "declared_unit": "kg",
            },
        ],
    }
    data.update(overrides)
    return data


def make_draft(session: Any, now: Any, demo: Any, **overrides: Any) -> Manifest:
    planned = overrides.pop("planned_date", (now + timedelta(days=1)).date())
    data = draft_data(demo, planned, **overrides)
    return services.create_draft(session, now, demo.users["producer"], data)


def make_submitted(session: Any, now: Any, demo: Any, **overrides: Any) -> Manifest:
    manifest = make_draft(session, now, demo, **overrides)
    return lifecycle.submit(session, now, manifest, demo.users["producer"])


def pickup_data(
    manifest: Manifest, vehicle_id: int, factor: Decimal = Decimal("1")
) -> dict[str, Any]:
    return {
        "vehicle_id": vehicle_id,
        "note": "",
        "latitude": 39.348,
        "longitude": 106.959,
        "accuracy_m": 12.0,
        "position_note": "",
        "lines": [
            {"line_id": ln.id, "loaded_kg": (ln.declared_kg * factor).quantize(Decimal("0.001"))}
            for ln in manifest.lines
        ],
    }


def receipt_data(
    manifest: Manifest, decisions: dict[int, str] | None = None, factor: Decimal = Decimal("1")
) -> dict[str, Any]:
    decisions = decisions or {}
    lines = []
    for ln in manifest.lines:
        decision = decisions.get(ln.line_no, "accept")
        received = ((ln.loaded_kg or ln.declared_kg) * factor).quantize(Decimal("0.001"))
        lines.append(
            {
                "line_id": ln.id,
                "received_kg": received,
                "decision": decision,
                "rejected_kg": (received / 2).quantize(Decimal("0.001"))
                if decision == "partial"
                else None,
                "rejection_reason": "" if decision == "accept" else "含水率超标",
            }
        )
    return {
        "lines": lines,
        # A weight off by more than the tolerance must be explained; the same weights need not.
        "note": "" if factor == 1 else "过磅差异，已拍照留存",
        "latitude": None,
        "longitude": None,
        "accuracy_m": None,
        "position_note": "not_requested",
    }
