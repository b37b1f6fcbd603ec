"""The enterprise's side of a case: answering a flag with an explanation."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from hazwaste import events
from hazwaste.accounts.models import User
from hazwaste.audit import services as audit
from hazwaste.cases import routes
from hazwaste.cases.models import FlagResponse
from hazwaste.errors import Forbidden, Invalid
from hazwaste.events import types as event_types
from hazwaste.labels import datetime_local
from hazwaste.manifests.models import EventKind, Manifest
from hazwaste.reconciliation.models import Flag

BODY_MAX = 4000
ATTACHMENTS_MAX = 20


def can_respond(user: User, flag: Flag) -> bool:
    """Members of an approved organization that is the flag's producer, carrier or receiver."""
    org = user.organization_id
    return (
        org is not None
        and user.active
        and user.org_approved
        and org in (flag.producer_id, flag.carrier_id, flag.receiver_id)
    )


def respond(
    session: Session, now: datetime, user: User, flag: Flag, data: dict[str, Any]
) -> FlagResponse:
    """Store the enterprise's explanation (``body``, required) and its attachments'
    descriptions (``attachments``: text, one per line, optional).

    Forbidden for anyone outside the organizations concerned (regulators included);
    Invalid with field messages for an empty explanation or too many attachment lines.
    """
    if not can_respond(user, flag):
        raise Forbidden(_("Only the enterprise concerned can answer this flag."))
    errors: dict[str, list[str]] = {}
    body = (data.get("body") or "").strip()
    if not body:
        errors["body"] = [_("Write your explanation.")]
    elif len(body) > BODY_MAX:
        errors["body"] = [_("At most %(num)s characters.", num=BODY_MAX)]
    lines = [ln.strip() for ln in (data.get("attachments") or "").splitlines() if ln.strip()]
    if len(lines) > ATTACHMENTS_MAX:
        errors["attachments"] = [_("At most %(num)s attachments.", num=ATTACHMENTS_MAX)]
    elif any(len(ln) > 300 for ln in lines):
        errors["attachments"] = [_("Each description has at most 300 characters.")]
    if errors:
        raise Invalid(_("The explanation was not sent."), fields=errors)
    assert user.organization_id is not None  # can_respond
    response = FlagResponse(
        flag_id=flag.id,
        organization_id=user.organization_id,
        author_id=user.id,
        body=body,
        attachments="\n".join(lines),
        created_at=now,
    )
    session.add(response)
    session.flush()
    audit.record(
        session,
        now,
        actor_user_id=user.id,
        action="case.response",
        object_type="flag",
        object_id=flag.id,
        payload={"response_id": response.id, "attachments": len(lines)},
    )
    events.publish(
        session,
        now,
        event_types.CASE_RESPONSE,
        subject_kind="flag",
        subject_id=flag.id,
        organization_ids=[flag.producer_id, flag.carrier_id, flag.receiver_id],
        actor_id=user.id,
        data={"response_id": response.id, "responder": flag_org_name(user)},
    )
    return response


def flag_org_name(user: User) -> str:
    return user.organization.name if user.organization is not None else ""


def responses(session: Session, flag: Flag) -> list[FlagResponse]:
    return list(
        session.scalars(
            select(FlagResponse)
            .where(FlagResponse.flag_id == flag.id)
            .order_by(FlagResponse.created_at, FlagResponse.id)
        )
    )


EVIDENCE_UNITS = (("_kg", "kg"), ("_pct", "%"), ("_km", "km"), ("percent", "%"))
EVIDENCE_LABELS: dict[str, Any] = {
    "number": lazy_gettext("Manifest number"),
    "waste_code": lazy_gettext("Waste code"),
    "physical_form": lazy_gettext("Physical form"),
    "arrived": lazy_gettext("Arrived"),
    "method": lazy_gettext("Method"),
    "kind": lazy_gettext("Kind"),
    "line_no": lazy_gettext("Line"),
    "declared_kg": lazy_gettext("Declared"),
    "loaded_kg": lazy_gettext("Loaded"),
    "received_kg": lazy_gettext("Received"),
    "accepted_kg": lazy_gettext("Accepted"),
    "disposed_kg": lazy_gettext("Disposed"),
    "gap_kg": lazy_gettext("Gap"),
    "gap_pct": lazy_gettext("Gap (percent)"),
    "tolerance_pct": lazy_gettext("Tolerance"),
    "floor_kg": lazy_gettext("Minimum gap counted"),
    "distance_km": lazy_gettext("Distance from the site"),
    "limit_km": lazy_gettext("Allowed distance"),
    "hours": lazy_gettext("Hours in transit"),
    "limit_hours": lazy_gettext("Allowed hours"),
    "days": lazy_gettext("Days"),
    "limit_days": lazy_gettext("Allowed days"),
    "working_days_late": lazy_gettext("Working days late"),
    "generated_kg": lazy_gettext("Generated"),
    "shipped_kg": lazy_gettext("Shipped"),
    "self_used_kg": lazy_gettext("Used on site"),
    "opening_kg": lazy_gettext("Opening stock"),
    "closing_kg": lazy_gettext("Closing stock"),
    "imbalance_kg": lazy_gettext("Imbalance"),
    "excess_kg": lazy_gettext("Excess"),
    "capacity_kg": lazy_gettext("Licensed capacity"),
    "planned_kg": lazy_gettext("Planned"),
    "actual_kg": lazy_gettext("Actual"),
    "quantity_kg": lazy_gettext("Quantity"),
    "month": lazy_gettext("Month"),
    "year": lazy_gettext("Year"),
    "period": lazy_gettext("Ledger period"),
    "picked_up_at": lazy_gettext("Picked up"),
    "delivered_at": lazy_gettext("Delivered"),
    "received_at": lazy_gettext("Received at"),
    "receipt_due_date": lazy_gettext("Receipt due"),
    "occurred_at": lazy_gettext("Occurred"),
    "event": lazy_gettext("Step"),
    "position": lazy_gettext("Position"),
    "site": lazy_gettext("Site"),
}


def evidence_rows(evidence: dict[str, Any]) -> list[dict[str, Any]]:
    """The evidence as labelled rows with units (``unit`` empty when none applies); nested
    lists and objects are shown as compact text."""
    rows = []
    for key in sorted(evidence):
        value = evidence[key]
        unit = next((u for suffix, u in EVIDENCE_UNITS if key.endswith(suffix)), "")
        if key == "hours" or key == "limit_hours":
            unit = "h"
        if isinstance(value, list | dict):
            value = json.dumps(value, ensure_ascii=False)
        elif key.endswith("_at") and isinstance(value, str):
            value = _local_time(value)
        rows.append(
            {"key": key, "label": EVIDENCE_LABELS.get(key, key), "value": value, "unit": unit}
        )
    return rows


def _local_time(text: str) -> str:
    """An ISO timestamp from the evidence in China time; the text as is if it is not one."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        return text
    return datetime_local(moment)


def manifest_view(session: Session, manifest_id: int | None) -> dict[str, Any] | None:
    """Timeline, per-line weights and the route plot of the flag's manifest (the caller has
    already checked the flag is visible; the manifest's parties are the flag's)."""
    if manifest_id is None:
        return None
    manifest = session.get(Manifest, manifest_id)
    if manifest is None:
        return None
    events = sorted(
        (e for e in manifest.events if e.kind is not EventKind.EDITED),
        key=lambda e: (e.occurred_at, e.id),
    )
    sites = [
        {
            "lat": org.latitude,
            "lon": org.longitude,
            "label": org.name,
            "kind": kind,
        }
        for org, kind in ((manifest.producer, "producer"), (manifest.receiver, "receiver"))
        if org is not None
    ]
    points = [
        {
            "lat": e.latitude,
            "lon": e.longitude,
            "label": f"{i}",
            "detail": f"{e.kind.value} {e.occurred_at:%Y-%m-%d %H:%M}",
            "kind": "event",
        }
        for i, e in enumerate(events, 1)
    ]
    return {
        "manifest": manifest,
        "events": events,
        "lines": sorted(manifest.lines, key=lambda line: line.line_no),
        "plot": routes.plot(sites, points),
    }
