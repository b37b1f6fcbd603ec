"""The manifest state machine: one module owns every status change.

``draft → submitted → in_transit → delivered → received → completed``, plus ``cancelled``
(before pickup) and ``rejected`` (the receiver refuses the whole load).

Each verb has a guard ``can_<verb>(manifest, user)`` that pages use to show or hide the
action, and the verb itself, which checks the guard again, validates its input, then moves
the status with a conditional ``UPDATE … WHERE status = <expected>``: of two simultaneous
scans exactly one wins and the other gets :class:`Conflict` with the current status. Web
pages and the API call these same verbs. Every verb appends a hand-off event and an audit
entry; none commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from hazwaste import events
from hazwaste.accounts.models import User
from hazwaste.audit import services as audit
from hazwaste.errors import Conflict, Forbidden, Invalid
from hazwaste.events import types as event_types
from hazwaste.holidays import services as holidays
from hazwaste.ledger import services as ledger
from hazwaste.ledger.models import Container
from hazwaste.manifests import access, gates
from hazwaste.manifests.models import (
    EventKind,
    LineDecision,
    Manifest,
    ManifestLine,
    ManifestStatus,
    PhysicalForm,
)
from hazwaste.manifests.services import (
    allocate_number,
    local_date,
    record_event,
    validate_for_submit,
)
from hazwaste.permits import services as permits
from hazwaste.permits.models import Vehicle
from hazwaste.workdays import add_working_days

S = ManifestStatus

#: Working days the receiver has to confirm receipt after arrival (令23号 Art. 18 practice).
RECEIPT_DUE_WORKING_DAYS = 5
GRAM = Decimal("0.001")

#: Expected status for each verb. Anything else is a 409 with the current status.
SOURCE_STATES: dict[str, frozenset[ManifestStatus]] = {
    "submit": frozenset({S.DRAFT}),
    "cancel": frozenset({S.DRAFT, S.SUBMITTED}),
    "pickup": frozenset({S.SUBMITTED}),
    "deliver": frozenset({S.IN_TRANSIT}),
    "receive": frozenset({S.DELIVERED}),
    "dispose": frozenset({S.RECEIVED}),
    "correct": frozenset({S.SUBMITTED, S.IN_TRANSIT, S.DELIVERED}),
}

OPEN_STATES = frozenset({S.SUBMITTED, S.IN_TRANSIT, S.DELIVERED, S.RECEIVED})
FINAL_STATES = frozenset({S.COMPLETED, S.CANCELLED, S.REJECTED})


# -- guards ----------------------------------------------------------------------------------


def can_edit(manifest: Manifest, user: User) -> bool:
    return manifest.status is S.DRAFT and access.acts_for_producer(user, manifest)


def can_submit(manifest: Manifest, user: User) -> bool:
    return manifest.status in SOURCE_STATES["submit"] and access.acts_for_producer(user, manifest)


def can_cancel(manifest: Manifest, user: User) -> bool:
    return manifest.status in SOURCE_STATES["cancel"] and access.acts_for_producer(user, manifest)


def can_correct(manifest: Manifest, user: User) -> bool:
    return manifest.status in SOURCE_STATES["correct"] and access.acts_for_producer(user, manifest)


def can_pickup(manifest: Manifest, user: User) -> bool:
    return manifest.status in SOURCE_STATES["pickup"] and access.acts_as_driver(user, manifest)


def can_deliver(manifest: Manifest, user: User) -> bool:
    return manifest.status in SOURCE_STATES["deliver"] and (
        access.acts_as_driver(user, manifest) or access.acts_for_receiver(user, manifest)
    )


def can_receive(manifest: Manifest, user: User) -> bool:
    return manifest.status in SOURCE_STATES["receive"] and access.acts_for_receiver(user, manifest)


def can_dispose(manifest: Manifest, user: User) -> bool:
    return manifest.status in SOURCE_STATES["dispose"] and access.acts_for_receiver(user, manifest)


GUARDS = {
    "submit": can_submit,
    "cancel": can_cancel,
    "pickup": can_pickup,
    "deliver": can_deliver,
    "receive": can_receive,
    "dispose": can_dispose,
    "correct": can_correct,
}


def _driver_or_receiver(user: User, manifest: Manifest) -> bool:
    return access.acts_as_driver(user, manifest) or access.acts_for_receiver(user, manifest)


#: Which party performs each verb (the same checks the verbs make).
PARTY_CHECKS = {
    "submit": access.acts_for_producer,
    "cancel": access.acts_for_producer,
    "correct": access.acts_for_producer,
    "pickup": access.acts_as_driver,
    "deliver": _driver_or_receiver,
    "receive": access.acts_for_receiver,
    "dispose": access.acts_for_receiver,
}


def ensure_allowed(verb: str, manifest: Manifest, user: User) -> None:
    """Raise what the verb would for the wrong party (``Forbidden``) or state (``Conflict``).

    The API calls this before parsing the request body, so a wrong party or state is
    reported as such (403/409) whatever the body holds. Advisory only: the verb checks again
    and its conditional update decides any race.
    """
    _check(verb, manifest, user, PARTY_CHECKS[verb])


def available_actions(manifest: Manifest, user: User) -> list[str]:
    """Verbs ``user`` may perform now, in lifecycle order (drives buttons and scan pages)."""
    actions = [verb for verb, guard in GUARDS.items() if guard(manifest, user)]
    if can_edit(manifest, user):
        actions.insert(0, "edit")
    return actions


# -- mechanics ---------------------------------------------------------------------------------


def _check(verb: str, manifest: Manifest, user: User, party_check: Any) -> None:
    """Forbidden for the wrong party, Conflict (with current status) for the wrong state."""
    if not party_check(user, manifest):
        raise Forbidden()
    if manifest.status not in SOURCE_STATES[verb]:
        raise Conflict(
            _(
                "This manifest is %(status)s; it cannot be changed this way now.",
                status=manifest.status.value,
            ),
            status=manifest.status.value,
        )


def _transition(
    session: Session,
    manifest: Manifest,
    verb: str,
    new_status: ManifestStatus,
    now: datetime,
    guard: list[Any] | None = None,
    refused: Callable[[], None] | None = None,
    **values: Any,
) -> None:
    """Move the status only if nobody else did first (the one-winner rule).

    ``guard``: more conditions of the same ``UPDATE`` (checks that cost no statement when
    they hold); when the status is still movable but a guard failed, ``refused()`` raises
    the explanation. The winner's ``manifest`` then holds what was stored (the new version
    read back with ``RETURNING``), so nothing needs reloading to answer.
    """
    version = session.scalar(
        update(Manifest)
        .where(Manifest.id == manifest.id, Manifest.status.in_(SOURCE_STATES[verb]), *(guard or []))
        .values(status=new_status, version=Manifest.version + 1, updated_at=now, **values)
        .returning(Manifest.version)
        .execution_options(synchronize_session=False)
    )
    if version is None:
        current = session.scalar(select(Manifest.status).where(Manifest.id == manifest.id))
        if refused is not None and current in SOURCE_STATES[verb]:
            refused()
        session.expire(manifest)
        status = current.value if current else "unknown"
        raise Conflict(
            _("Someone else changed this manifest first; it is now %(status)s.", status=status),
            status=status,
        )
    stored = {"status": new_status, "version": version, "updated_at": now, **values}
    for key, value in stored.items():
        set_committed_value(manifest, key, value)


def _containers(session: Session, manifest: Manifest) -> list[Container]:
    """The manifest's containers; no query when its load counted none (a hand-off load)."""
    if manifest.container_total == 0:
        return []
    return ledger.manifest_containers(session, manifest.id)


def _grams(value: Decimal) -> Decimal:
    """A quantity as the database returns it (to the gram), so answers read ``200.000``."""
    return value.quantize(GRAM)


def _lines_by_id(manifest: Manifest) -> dict[int, ManifestLine]:
    return {line.id: line for line in manifest.lines}


def _line_entries(
    manifest: Manifest, entries: Iterable[dict[str, Any]], required: bool = True
) -> tuple[dict[int, dict[str, Any]], dict[str, Any]]:
    """Map submitted per-line entries to the manifest's lines; errors for unknown/missing."""
    by_id = _lines_by_id(manifest)
    given: dict[int, dict[str, Any]] = {}
    errors: dict[str, Any] = {}
    for index, entry in enumerate(entries):
        if entry["line_id"] not in by_id:
            errors.setdefault("lines", {})[index] = {"line_id": [_("Not a line of this manifest.")]}
        else:
            given[entry["line_id"]] = entry
    if required:
        missing = [line.line_no for line in manifest.lines if line.id not in given]
        if missing:
            errors.setdefault("lines", {})["_schema"] = [
                _(
                    "Give a quantity for every line (missing: %(lines)s).",
                    lines=", ".join(map(str, missing)),
                )
            ]
    return given, errors


def _position(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data.get(k) for k in ("latitude", "longitude", "accuracy_m", "position_note")}


# -- verbs ---------------------------------------------------------------------------------------


def submit(session: Session, now: datetime, manifest: Manifest, user: User) -> Manifest:
    """Validate the whole manifest, allocate its number and issue it.

    Raises ``Invalid`` with every problem keyed by field (nothing changes then), ``Forbidden``
    for anyone but the producer's staff, ``Conflict`` if it is no longer a draft.
    """
    _check("submit", manifest, user, access.acts_for_producer)
    errors = validate_for_submit(session, manifest, local_date(now))
    warnings: list[str] = []
    if not errors:  # the limits only mean something for a valid manifest
        errors = gates.submission_errors(session, manifest, manifest.planned_date)
        weights = _weights(manifest, "declared_kg")
        warnings = gates.limit_messages(session, manifest, manifest.planned_date, weights)
        if warnings and _limits_block():
            errors["_schema"] = warnings
    if errors:
        raise Invalid(_("The manifest cannot be submitted yet."), errors)
    _warn(session, manifest, warnings)
    number = allocate_number(session, manifest.producer, now)
    _transition(session, manifest, "submit", S.SUBMITTED, now, number=number, submitted_at=now)
    record_event(
        session,
        now,
        manifest,
        EventKind.SUBMITTED,
        user,
        payload={
            "number": number,
            "planned_date": manifest.planned_date,
            **({"warnings": warnings} if warnings else {}),
            "lines": [
                {"line_no": ln.line_no, "waste_code": ln.waste_code, "declared_kg": ln.declared_kg}
                for ln in manifest.lines
            ],
        },
        total_kg=manifest.declared_total_kg,
    )
    _publish(session, now, event_types.MANIFEST_SUBMITTED, manifest, user, number=number)
    return manifest


def _weights(manifest: Manifest, column: str) -> dict[str, Decimal]:
    """Kilograms per waste code of ``column`` (declared_kg or loaded_kg)."""
    weights: dict[str, Decimal] = {}
    for line in manifest.lines:
        value = getattr(line, column)
        if value is not None:
            weights[line.waste_code] = weights.get(line.waste_code, Decimal(0)) + value
    return weights


def _limits_block() -> bool:
    """``PLAN_CHECK=block``; outside an application (a script's session) the default, warn."""
    if not has_app_context():
        return False
    return str(current_app.config.get("PLAN_CHECK", "warn")).lower() == "block"


_WARNINGS = "hazwaste.manifest_warnings"


def _warn(session: Session, manifest: Manifest, messages: list[str]) -> None:
    if messages:
        session.info.setdefault(_WARNINGS, {})[manifest.id] = list(messages)


def warnings(session: Session, manifest: Manifest) -> list[str]:
    """What the last verb on ``manifest`` in this session passed with a warning (the limits
    of :mod:`gates` in ``PLAN_CHECK=warn`` mode), for the page or the API to show; the same
    text is in the step's event payload (``warnings``)."""
    return list(session.info.get(_WARNINGS, {}).pop(manifest.id, []))


def _publish(
    session: Session,
    now: datetime,
    type: str,
    manifest: Manifest,
    user: User,
    also: list[str] | None = None,
    **data: Any,
) -> None:
    """Tell the parties (after commit: one outbox row, see :mod:`hazwaste.events`)."""
    events.publish(
        session,
        now,
        type,
        subject_kind="manifest",
        subject_id=manifest.id,
        organization_ids=[manifest.producer_id, manifest.carrier_id, manifest.receiver_id],
        actor_id=user.id,
        data={"number": manifest.number, **data},
        also=also or [],
    )


def cancel(
    session: Session, now: datetime, manifest: Manifest, user: User, reason: str
) -> Manifest:
    """Cancel before pickup; a reason is required."""
    _check("cancel", manifest, user, access.acts_for_producer)
    if not reason.strip():
        raise Invalid(
            _("Give the reason for cancelling."), {"reason": [_("This field is required.")]}
        )
    _transition(
        session,
        manifest,
        "cancel",
        S.CANCELLED,
        now,
        cancelled_at=now,
        cancel_reason=reason.strip(),
    )
    released = ledger.release_from_manifest(session, now, manifest.id)
    record_event(
        session,
        now,
        manifest,
        EventKind.CANCELLED,
        user,
        note=reason.strip(),
        payload={"containers_released": released},
    )
    return manifest


def pickup(
    session: Session, now: datetime, manifest: Manifest, user: User, data: dict[str, Any]
) -> Manifest:
    """The carrier's driver takes the load: vehicle, weighed quantity per line, GPS, note.

    ``data``: ``vehicle_id``, ``lines`` = [{``line_id``, ``loaded_kg``}], optional ``note``,
    ``latitude``/``longitude``/``accuracy_m`` or ``position_note`` when no position was given.
    """
    _check("pickup", manifest, user, access.acts_as_driver)
    errors: dict[str, Any] = {}
    vehicle = session.get(Vehicle, data["vehicle_id"])
    if vehicle is None or vehicle.organization_id != manifest.carrier_id or not vehicle.active:
        errors["vehicle_id"] = [_("Choose an active vehicle of your company.")]
    given, line_errors = _line_entries(manifest, data["lines"])
    errors.update(line_errors)
    total = sum((entry["loaded_kg"] for entry in given.values()), Decimal("0"))
    if vehicle is not None and "vehicle_id" not in errors and total > vehicle.max_load_kg:
        errors["vehicle_id"] = [
            _(
                "The loaded total %(total)s kg exceeds this vehicle's maximum load of %(max)s kg.",
                total=format(total.normalize(), "f"),
                max=format(vehicle.max_load_kg.normalize(), "f"),
            )
        ]
    containers = _containers(session, manifest)
    check = ledger.loading_check(
        session, manifest.id, data.get("container_codes") or [], containers=containers
    )
    if check.expected and not check.ok:
        errors["container_codes"] = loading_messages(check)
    if not errors and _limits_block():
        # Warn mode told the producer at submission, and OVER_PLAN follows the pickup: the
        # driver is not stopped then, and the hand-off keeps its statement budget.
        weighed: dict[str, Decimal] = {}
        for line in manifest.lines:
            kg = given[line.id]["loaded_kg"]
            weighed[line.waste_code] = weighed.get(line.waste_code, Decimal(0)) + kg
        beyond = gates.limit_messages(session, manifest, local_date(now), weighed)
        if beyond:
            errors["_schema"] = beyond
    if errors:
        raise Invalid(_("The pickup cannot be recorded yet."), errors)
    assert vehicle is not None
    today = local_date(now)

    def refused() -> None:
        # A check on the actual day failed in the UPDATE: say which, with the numbers.
        messages = gates.pickup_errors(session, manifest, user, today, total)
        raise Invalid(
            _("The pickup cannot be recorded yet."),
            {"_schema": messages or [_("The pickup cannot be recorded now; try again.")]},
        )

    _transition(
        session,
        manifest,
        "pickup",
        S.IN_TRANSIT,
        now,
        # On the actual day: permit, qualification, licence for every code, capacity left.
        guard=gates.pickup_guard(manifest, user, today, total),
        refused=refused,
        picked_up_at=now,
        pickup_vehicle_id=vehicle.id,
        pickup_driver_user_id=user.id,
    )
    for line in manifest.lines:
        line.loaded_kg = _grams(given[line.id]["loaded_kg"])
    shipped = ledger.ship_containers(
        session, now, user, manifest.id, local_date(now), containers=containers
    )
    record_event(
        session,
        now,
        manifest,
        EventKind.PICKED_UP,
        user,
        note=data.get("note") or "",
        position=_position(data),
        vehicle_id=vehicle.id,
        total_kg=total,
        payload={
            "vehicle": vehicle.plate,
            "lines": [{"line_no": ln.line_no, "loaded_kg": ln.loaded_kg} for ln in manifest.lines],
            "containers_scanned": [c.code for c in shipped],
        },
    )
    _publish(
        session,
        now,
        event_types.MANIFEST_PICKED_UP,
        manifest,
        user,
        vehicle=vehicle.plate,
        loaded_kg=format(total.normalize(), "f"),
    )
    return manifest


def loading_messages(check: ledger.LoadingCheck) -> list[str]:
    """What blocks the loading, in words a driver can act on."""
    messages = []
    if check.missing:
        messages.append(
            _(
                "Not scanned (%(n)s): %(codes)s",
                n=len(check.missing),
                codes=", ".join(check.missing),
            )
        )
    if check.foreign:
        messages.append(
            _(
                "Not on this manifest (%(n)s): %(codes)s — ask the producer to "
                "correct the manifest.",
                n=len(check.foreign),
                codes=", ".join(check.foreign),
            )
        )
    if check.invalid:
        messages.append(_("Not a container code: %(codes)s", codes=", ".join(check.invalid)))
    return messages


def receipt_due(delivered_at: datetime) -> tuple[date, bool]:
    """The receipt due date of an arrival at ``delivered_at``: :data:`RECEIPT_DUE_WORKING_DAYS`
    working days after its China date; and whether it is exact (False: provisional, a day in
    between fell in a year without an official schedule)."""
    return add_working_days(local_date(delivered_at), RECEIPT_DUE_WORKING_DAYS)


def recompute_receipt_due(session: Session, now: datetime, year: int) -> int:
    """After ``year``'s schedule was loaded: compute every provisional receipt due date
    again and audit each change (the reconciliation's own hook then evaluates
    RECEIPT_OVERDUE again). Returns how many manifests changed."""
    changed = 0
    rows = session.scalars(
        select(Manifest).where(
            Manifest.receipt_due_exact.is_(False), Manifest.delivered_at.is_not(None)
        )
    ).all()
    for manifest in rows:
        assert manifest.delivered_at is not None
        old = manifest.receipt_due_date
        due, exact = receipt_due(manifest.delivered_at)
        if due == old and not exact:
            continue
        manifest.receipt_due_date = due
        manifest.receipt_due_exact = exact
        audit.record(
            session,
            now,
            actor_user_id=None,
            action="manifest.receipt_due_recomputed",
            object_type="manifest",
            object_id=manifest.id,
            payload={
                "from": old.isoformat() if old else None,
                "to": due.isoformat(),
                "exact": exact,
                "schedule_year": year,
            },
        )
        changed += 1
    return changed


def deliver(
    session: Session, now: datetime, manifest: Manifest, user: User, data: dict[str, Any]
) -> Manifest:
    """Arrival at the receiver's gate, by the driver or at the receiver's first scan.

    Sets the receipt due date: :data:`RECEIPT_DUE_WORKING_DAYS` Chinese working days after
    the arrival day.
    """
    _check("deliver", manifest, user, _driver_or_receiver)
    holidays.refresh(session)
    due, exact = receipt_due(now)
    _transition(
        session,
        manifest,
        "deliver",
        S.DELIVERED,
        now,
        delivered_at=now,
        receipt_due_date=due,
        receipt_due_exact=exact,
    )
    record_event(
        session,
        now,
        manifest,
        EventKind.DELIVERED,
        user,
        note=data.get("note") or "",
        position=_position(data),
        payload={
            "receipt_due_date": due,
            "by": "receiver" if access.acts_for_receiver(user, manifest) else "driver",
        },
    )
    _publish(
        session,
        now,
        event_types.MANIFEST_DELIVERED,
        manifest,
        user,
        receipt_due_date=due.isoformat(),
    )
    return manifest


def receipt_preview(manifest: Manifest, entries: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per line: loaded, received, discrepancy (kg and %), accepted, rejected — computed."""
    rows = []
    for line in manifest.lines:
        entry = entries.get(line.id)
        if entry is None:
            continue
        received = entry["received_kg"]
        decision = LineDecision(entry["decision"])
        rejected = {
            LineDecision.ACCEPT: Decimal("0"),
            LineDecision.REJECT: received,
            LineDecision.PARTIAL: entry.get("rejected_kg") or Decimal("0"),
        }[decision]
        loaded = line.loaded_kg
        gap = None if loaded is None else received - loaded
        pct = None if gap is None or not loaded else (gap * 100 / loaded).quantize(Decimal("0.01"))
        rows.append(
            {
                "line": line,
                "loaded_kg": loaded,
                "received_kg": received,
                "discrepancy_kg": gap,
                "discrepancy_pct": pct,
                "decision": decision,
                "accepted_kg": received - rejected,
                "rejected_kg": rejected,
                "rejection_reason": (entry.get("rejection_reason") or "").strip(),
            }
        )
    return rows


def validate_receipt(
    manifest: Manifest, data: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    given, errors = _line_entries(manifest, data["lines"])
    rows = receipt_preview(manifest, given)
    for index, row in enumerate(rows):
        line_errors: dict[str, list[str]] = {}
        decision = row["decision"]
        if decision is not LineDecision.ACCEPT and not row["rejection_reason"]:
            line_errors["rejection_reason"] = [_("Give the reason for the rejection.")]
        if decision is LineDecision.ACCEPT and row["received_kg"] <= 0:
            line_errors["received_kg"] = [_("An accepted line needs a weight above zero.")]
        if decision is LineDecision.PARTIAL and not (
            Decimal("0") < row["rejected_kg"] < row["received_kg"]
        ):
            line_errors["rejected_kg"] = [
                _(
                    "For a partial rejection, the rejected weight is "
                    "above zero and below the received weight."
                )
            ]
        if line_errors:
            errors.setdefault("lines", {})[index] = line_errors
    return rows, errors


def receive(
    session: Session, now: datetime, manifest: Manifest, user: User, data: dict[str, Any]
) -> Manifest:
    """Weighbridge quantities and a decision per line. All lines rejected → ``rejected``."""
    _check("receive", manifest, user, access.acts_for_receiver)
    rows, errors = validate_receipt(manifest, data)
    gaps = beyond_tolerance(rows) if not errors else []
    if gaps and not (data.get("note") or "").strip():
        # The parties and the regulator are alerted: the receiver says why, with the receipt.
        errors["note"] = [
            _(
                "Line %(lines)s differs from the loaded weight beyond the tolerance: explain "
                "the difference in the note.",
                lines="、".join(str(g["line_no"]) for g in gaps),
            )
        ]
    if errors:
        raise Invalid(_("The receipt cannot be recorded yet."), errors)
    all_rejected = all(row["decision"] is LineDecision.REJECT for row in rows)
    new_status = S.REJECTED if all_rejected else S.RECEIVED
    _transition(session, manifest, "receive", new_status, now, received_at=now)
    total = Decimal("0")
    for row in rows:
        line = row["line"]
        line.received_kg = _grams(row["received_kg"])
        line.decision = row["decision"]
        line.accepted_kg = _grams(row["accepted_kg"])
        line.rejected_kg = _grams(row["rejected_kg"])
        line.rejection_reason = row["rejection_reason"]
        total += row["received_kg"]
    missing = ledger.receive_containers(
        session,
        now,
        manifest.id,
        data.get("container_codes"),
        any_containers=manifest.container_total != 0,
    )
    record_event(
        session,
        now,
        manifest,
        EventKind.REJECTED if all_rejected else EventKind.RECEIVED,
        user,
        note=data.get("note") or "",
        position=_position(data),
        total_kg=total,
        payload={
            "containers_missing": missing,
            "lines": [
                {
                    "line_no": r["line"].line_no,
                    "received_kg": r["received_kg"],
                    "discrepancy_kg": r["discrepancy_kg"],
                    "discrepancy_pct": r["discrepancy_pct"],
                    "decision": r["decision"].value,
                    "accepted_kg": r["accepted_kg"],
                    "rejected_kg": r["rejected_kg"],
                    "rejection_reason": r["rejection_reason"],
                }
                for r in rows
            ],
        },
    )
    if all_rejected:
        # Nothing to dispose of: the load goes back; the manifest's story ends here.
        session.execute(
            update(Manifest)
            .where(Manifest.id == manifest.id)
            .values(completed_at=now)
            .execution_options(synchronize_session=False)
        )
    rejected_lines = [r for r in rows if r["decision"] is not LineDecision.ACCEPT]
    gaps = beyond_tolerance(rows)
    also = [event_types.MANIFEST_REJECTED] if rejected_lines else []
    if gaps:
        also.append(event_types.MANIFEST_DISCREPANCY)
    _publish(
        session,
        now,
        event_types.MANIFEST_REJECTED if all_rejected else event_types.MANIFEST_RECEIVED,
        manifest,
        user,
        # One outbox row whatever the receipt means (the hand-off's statement budget).
        also=also,
        status=new_status.value,
        received_kg=format(total.normalize(), "f"),
        rejected_lines=len(rejected_lines),
        containers_missing=len(missing),
        discrepancy_lines=gaps,
    )
    return manifest


def beyond_tolerance(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The receipt lines whose received weight differs from the loaded weight beyond the
    WEIGHT_GAP rule's tolerance (per physical form, above its floor), for the parties' alert
    at once — the rule's flag follows from the reconciliation job."""
    settings = current_app.config["RECONCILIATION"]
    floor = Decimal(str(settings["WEIGHT_FLOOR_KG"]))
    gaps = []
    for row in rows:
        gap, pct = row["discrepancy_kg"], row["discrepancy_pct"]
        if gap is None or pct is None:
            continue
        solid = row["line"].physical_form is PhysicalForm.SOLID
        limit = Decimal(
            str(settings["WEIGHT_TOLERANCE_PCT_SOLID" if solid else "WEIGHT_TOLERANCE_PCT_LIQUID"])
        )
        if abs(pct) > limit and abs(gap) > floor:
            gaps.append(
                {
                    "line_no": row["line"].line_no,
                    "loaded_kg": format(row["loaded_kg"].normalize(), "f"),
                    "received_kg": format(row["received_kg"].normalize(), "f"),
                    "pct": format(pct.normalize(), "f"),
                    "tolerance_pct": format(limit.normalize(), "f"),
                }
            )
    return gaps


def dispose(
    session: Session, now: datetime, manifest: Manifest, user: User, data: dict[str, Any]
) -> Manifest:
    """Utilisation/disposal per accepted line: method (within the licence), quantity, date.

    Lines can be disposed of in several steps; each line once. When every accepted line is
    disposed of, the manifest is ``completed``.
    """
    _check("dispose", manifest, user, access.acts_for_receiver)
    given, errors = _line_entries(manifest, data["lines"], required=False)
    if not given and not errors:
        errors["lines"] = {"_schema": [_("Record at least one line.")]}
    by_id = _lines_by_id(manifest)
    today = local_date(now)
    for index, (line_id, entry) in enumerate(given.items()):
        line = by_id[line_id]
        line_errors: dict[str, list[str]] = {}
        if line.disposal_method is not None:
            line_errors["line_id"] = [_("This line's disposal is already recorded.")]
        elif not line.accepted_kg:
            line_errors["line_id"] = [_("Nothing was accepted on this line.")]
        else:
            if entry["disposed_kg"] > line.accepted_kg:
                line_errors["disposed_kg"] = [
                    _(
                        "More than the accepted %(kg)s kg.",
                        kg=format(line.accepted_kg.normalize(), "f"),
                    )
                ]
            disposal_date: date = entry["disposal_date"]
            if disposal_date > today:
                line_errors["disposal_date"] = [_("The date is in the future.")]
            elif manifest.received_at and disposal_date < local_date(manifest.received_at):
                line_errors["disposal_date"] = [_("The date is before the receipt.")]
            if not permits.licence_allows_method(
                session, manifest.receiver_id, line.waste_code, disposal_date, entry["method"]
            ):
                line_errors["method"] = [
                    _(
                        "Your licence does not allow %(method)s for %(code)s on that date.",
                        method=entry["method"],
                        code=line.waste_code,
                    )
                ]
        if line_errors:
            errors.setdefault("lines", {})[index] = line_errors
    if errors:
        raise Invalid(_("The disposal cannot be recorded yet."), errors)
    for line_id, entry in given.items():
        # Conditional per line too: two receivers' clerks cannot both record the same line.
        result = session.execute(
            update(ManifestLine)
            .where(ManifestLine.id == line_id, ManifestLine.disposal_method.is_(None))
            .values(
                disposal_method=entry["method"],
                disposed_kg=entry["disposed_kg"],
                disposal_date=entry["disposal_date"],
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(
                _("Someone else recorded this disposal first."), status=manifest.status.value
            )
    session.expire_all()
    remaining = [ln for ln in manifest.lines if ln.accepted_kg and ln.disposal_method is None]
    total = sum((e["disposed_kg"] for e in given.values()), Decimal("0"))
    if not remaining:
        _transition(session, manifest, "dispose", S.COMPLETED, now, completed_at=now)
        ledger.dispose_containers(session, now, manifest.id)
    record_event(
        session,
        now,
        manifest,
        EventKind.DISPOSED,
        user,
        note=data.get("note") or "",
        total_kg=total,
        payload={
            "lines": [
                {
                    "line_no": by_id[i].line_no,
                    "method": e["method"],
                    "disposed_kg": e["disposed_kg"],
                    "disposal_date": e["disposal_date"],
                }
                for i, e in given.items()
            ],
            "completed": not remaining,
        },
    )
    return manifest


#: Header fields a correction may change, and the line fields.
CORRECTABLE_FIELDS = ("planned_date", "vehicle_id", "driver_id", "emergency_measures")
CORRECTABLE_LINE_FIELDS = ("waste_name", "packaging", "container_count", "declared_kg")


def correct(
    session: Session, now: datetime, manifest: Manifest, user: User, data: dict[str, Any]
) -> Manifest:
    """An explicit, reasoned correction after submission, visible to all parties as an event.

    Only the fields in :data:`CORRECTABLE_FIELDS` / :data:`CORRECTABLE_LINE_FIELDS` change;
    parties, waste codes and recorded hand-offs never do. The corrected manifest must still
    pass every submit rule (licence, permit, vehicle load…) — otherwise nothing changes.
    """
    _check("correct", manifest, user, access.acts_for_producer)
    reason = (data.get("reason") or "").strip()
    if not reason:
        raise Invalid(
            _("Give the reason for the correction."), {"reason": [_("This field is required.")]}
        )
    changes: dict[str, Any] = {}
    for key in CORRECTABLE_FIELDS:
        if key in data and data[key] != getattr(manifest, key):
            changes[key] = [getattr(manifest, key), data[key]]
            setattr(manifest, key, data[key])
    by_id = _lines_by_id(manifest)
    for entry in data.get("lines") or []:
        line = by_id.get(entry.get("line_id"))
        if line is None:
            raise Invalid(
                _("Not a line of this manifest."),
                {"lines": {"_schema": [_("Not a line of this manifest.")]}},
            )
        for key in CORRECTABLE_LINE_FIELDS:
            if key in entry and entry[key] != getattr(line, key):
                changes[f"line {line.line_no} {key}"] = [getattr(line, key), entry[key]]
                setattr(line, key, entry[key])
    if not changes:
        raise Invalid(_("Nothing to correct: no field differs from the manifest."), {})
    session.flush()
    errors = validate_for_submit(session, manifest, min(local_date(now), manifest.planned_date))
    if errors:
        raise Invalid(_("The correction breaks a rule of the manifest."), errors)
    manifest.version += 1
    manifest.updated_at = now
    record_event(
        session, now, manifest, EventKind.CORRECTED, user, note=reason, payload={"changes": changes}
    )
    return manifest
