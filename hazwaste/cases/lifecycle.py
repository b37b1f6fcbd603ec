"""The case state machine: what a regulator may do with a flag, and doing it.

States (``Flag.case_status``)::

    new ──start──▶ investigating ──close(finding, note)──▶ closed ──reopen──▶ investigating
                                 └─refer(referral note)──▶ referred (final: 移送公安)

``investigating → new`` does not exist: once a body has opened an investigation it ends
with a finding or a referral. ``reopen`` exists because a closed case can come back when new
evidence arrives (e.g. the enterprise's explanation turns out false); a referred case is
with the police and stays final.

Who: only staff of a regulator body whose jurisdiction contains one of the flag's parties
(:func:`hazwaste.reconciliation.queries.visible_filter`). Enterprises get ``Forbidden``; a
regulator outside the jurisdiction gets ``NotFound`` (the flag does not exist for it).

Every step is a conditional UPDATE on ``(id, case_status)``: of two concurrent clicks one
wins, the other gets ``Conflict`` naming the current status. Every step writes a
:class:`CaseNote` and an audit record and sets ``case_changed_at``. Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hazwaste import events
from hazwaste.accounts.models import User
from hazwaste.audit import services as audit
from hazwaste.cases.models import CaseNote, CaseNoteKind
from hazwaste.errors import Conflict, Forbidden, Invalid, NotFound
from hazwaste.events import types as event_types
from hazwaste.reconciliation.models import CaseFinding, CaseStatus, Flag
from hazwaste.reconciliation.queries import visible_filter

NOTE_MAX = 4000


@dataclass(frozen=True)
class Transition:
    verb: str
    sources: tuple[CaseStatus, ...]
    target: CaseStatus


TRANSITIONS: dict[str, Transition] = {
    "start": Transition("start", (CaseStatus.NEW,), CaseStatus.INVESTIGATING),
    "close": Transition("close", (CaseStatus.INVESTIGATING,), CaseStatus.CLOSED),
    "refer": Transition("refer", (CaseStatus.INVESTIGATING,), CaseStatus.REFERRED),
    "reopen": Transition("reopen", (CaseStatus.CLOSED,), CaseStatus.INVESTIGATING),
}
FINAL = (CaseStatus.CLOSED, CaseStatus.REFERRED)


def status_label(status: CaseStatus | None) -> str:
    """The translated name of a case state, for messages."""
    from hazwaste.cases.labels import CASE_STATUS_LABELS

    return str(CASE_STATUS_LABELS.get(status.value, status.value)) if status else "?"


def in_jurisdiction(session: Session, user: User, flag: Flag) -> bool:
    """True if ``user`` is active regulator staff whose jurisdiction covers ``flag``."""
    if not user.is_regulator or not user.active:
        return False
    found = session.scalar(select(Flag.id).where(Flag.id == flag.id, visible_filter(user)))
    return found is not None


def _require_regulator(session: Session, user: User, flag: Flag) -> None:
    """Forbidden for anyone but regulator staff; NotFound outside the jurisdiction."""
    if not user.is_regulator or not user.active:
        raise Forbidden(_("Only the regulator can work a case."))
    if not in_jurisdiction(session, user, flag):
        raise NotFound()


def ensure_regulator(session: Session, user: User, flag: Flag) -> None:
    """What every case action checks first (Forbidden/NotFound), for callers that must
    refuse a wrong caller before reading the request body."""
    _require_regulator(session, user, flag)


def allowed(session: Session, user: User, flag: Flag, verb: str) -> bool:
    """Whether ``user`` may apply ``verb`` to ``flag`` in its current state (for the page)."""
    step = TRANSITIONS[verb]
    return flag.case_status in step.sources and in_jurisdiction(session, user, flag)


def can_start(session: Session, user: User, flag: Flag) -> bool:
    return allowed(session, user, flag, "start")


def can_close(session: Session, user: User, flag: Flag) -> bool:
    return allowed(session, user, flag, "close")


def can_refer(session: Session, user: User, flag: Flag) -> bool:
    return allowed(session, user, flag, "refer")


def can_reopen(session: Session, user: User, flag: Flag) -> bool:
    return allowed(session, user, flag, "reopen")


def can_assign(session: Session, user: User, flag: Flag) -> bool:
    return flag.case_status not in FINAL and in_jurisdiction(session, user, flag)


def can_note(session: Session, user: User, flag: Flag) -> bool:
    return in_jurisdiction(session, user, flag)


def _text(value: Any, field: str, required: bool, message: str) -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else ""
    if required and not text:
        raise Invalid(message, fields={field: [message]})
    if len(text) > NOTE_MAX:
        msg = _("At most %(num)s characters.", num=NOTE_MAX)
        raise Invalid(msg, fields={field: [msg]})
    return text


def _move(
    session: Session,
    now: datetime,
    user: User,
    flag: Flag,
    verb: str,
    body: str,
    **values: Any,
) -> Flag:
    """Apply one transition if the case is still in a source state (one winner)."""
    step = TRANSITIONS[verb]
    before = flag.case_status
    if before not in step.sources:
        raise Conflict(
            _(
                "This case is %(status)s; it cannot be changed this way now.",
                status=status_label(before),
            ),
            status=before.value,
        )
    result = session.execute(
        update(Flag)
        .where(Flag.id == flag.id, Flag.case_status == before)
        .values(case_status=step.target, case_changed_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        current = session.scalar(select(Flag.case_status).where(Flag.id == flag.id))
        session.expire(flag)
        status = current.value if current else "unknown"
        raise Conflict(
            _(
                "Someone else changed this case first; it is now %(status)s.",
                status=status_label(current),
            ),
            status=status,
        )
    session.expire(flag)
    session.add(
        CaseNote(
            flag_id=flag.id,
            author_id=user.id,
            kind=CaseNoteKind.TRANSITION,
            body=body,
            from_status=before,
            to_status=step.target,
            created_at=now,
        )
    )
    payload: dict[str, Any] = {"from": before.value, "to": step.target.value, "note": body}
    payload.update({k: v for k, v in values.items() if v is not None})
    audit.record(
        session,
        now,
        actor_user_id=user.id,
        action=f"case.{verb}",
        object_type="flag",
        object_id=flag.id,
        payload=payload,
    )
    if verb in DECISIONS:
        _publish(session, now, user, flag, event_types.FLAG_DECIDED, verb=verb)
    session.flush()
    return flag


#: The transitions the enterprise concerned is told about (the regulator's decision).
DECISIONS = frozenset({"close", "refer"})


def _publish(
    session: Session, now: datetime, user: User, flag: Flag, type: str, **data: Any
) -> None:
    events.publish(
        session,
        now,
        type,
        subject_kind="flag",
        subject_id=flag.id,
        organization_ids=[flag.producer_id, flag.carrier_id, flag.receiver_id],
        actor_id=user.id,
        data=data,
    )


def start(session: Session, now: datetime, user: User, flag: Flag, note: str = "") -> Flag:
    """new → investigating. The note is optional. Forbidden/NotFound/Conflict as above."""
    _require_regulator(session, user, flag)
    body = _text(note, "note", False, "")
    return _move(session, now, user, flag, "start", body)


def close(session: Session, now: datetime, user: User, flag: Flag, finding: Any, note: Any) -> Flag:
    """investigating → closed with a finding (explained / violation / false_alarm) and a
    note saying why; Invalid (fields ``finding``/``note``) if either is missing."""
    _require_regulator(session, user, flag)
    errors: dict[str, list[str]] = {}
    try:
        value = CaseFinding(finding)
    except ValueError:
        errors["finding"] = [_("Choose the finding.")]
    try:
        body = _text(note, "note", True, _("Say why the case is closed."))
    except Invalid as exc:
        errors.update(exc.fields)
    if errors:
        raise Invalid(_("The case was not closed."), fields=errors)
    return _move(session, now, user, flag, "close", body, case_finding=value)


def refer(session: Session, now: datetime, user: User, flag: Flag, referral_note: Any) -> Flag:
    """investigating → referred (移送公安); the referral note is required (field
    ``referral_note``). Final."""
    _require_regulator(session, user, flag)
    body = _text(
        referral_note,
        "referral_note",
        True,
        _("The referral note is required (what is referred, to whom, on which grounds)."),
    )
    return _move(session, now, user, flag, "refer", body)


def reopen(session: Session, now: datetime, user: User, flag: Flag, note: Any) -> Flag:
    """closed → investigating, with a note saying why (required); clears the finding."""
    _require_regulator(session, user, flag)
    body = _text(note, "note", True, _("Say why the case is reopened."))
    return _move(session, now, user, flag, "reopen", body, case_finding=None)


def transition(
    session: Session, now: datetime, user: User, flag: Flag, data: dict[str, Any]
) -> Flag:
    """Dispatch ``data["action"]`` (start/close/refer/reopen) with its fields."""
    action = data.get("action")
    if action == "start":
        return start(session, now, user, flag, data.get("note") or "")
    if action == "close":
        return close(session, now, user, flag, data.get("finding"), data.get("note"))
    if action == "refer":
        return refer(session, now, user, flag, data.get("referral_note"))
    if action == "reopen":
        return reopen(session, now, user, flag, data.get("note"))
    msg = _("Unknown action.")
    raise Invalid(msg, fields={"action": [msg]})


def inspectors(session: Session, user: User) -> list[User]:
    """Active staff of ``user``'s own regulator body (the people a case can go to)."""
    if user.regulator_body_id is None:
        return []
    return list(
        session.scalars(
            select(User)
            .where(User.regulator_body_id == user.regulator_body_id, User.active.is_(True))
            .order_by(User.name, User.id)
        )
    )


def assign(
    session: Session, now: datetime, user: User, flag: Flag, assignee_id: int | None
) -> Flag:
    """Give the case to an active user of the SAME regulator body (``None`` unassigns).

    Invalid (field ``assignee_id``) for anyone else; Conflict once the case is final.
    """
    _require_regulator(session, user, flag)
    if flag.case_status in FINAL:
        raise Conflict(
            _(
                "This case is %(status)s; it cannot be reassigned.",
                status=status_label(flag.case_status),
            ),
            status=flag.case_status.value,
        )
    assignee: User | None = None
    if assignee_id is not None:
        assignee = session.get(User, assignee_id)
        if (
            assignee is None
            or not assignee.active
            or assignee.regulator_body_id != user.regulator_body_id
        ):
            msg = _("Choose an inspector of your own body.")
            raise Invalid(msg, fields={"assignee_id": [msg]})
    before = flag.assignee_id
    result = session.execute(
        update(Flag)
        .where(Flag.id == flag.id, Flag.case_status.not_in(FINAL))
        .values(assignee_id=assignee_id, case_changed_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.expire(flag)
        raise Conflict(_("Someone else closed this case first."))
    session.expire(flag)
    session.add(
        CaseNote(
            flag_id=flag.id,
            author_id=user.id,
            kind=CaseNoteKind.ASSIGNMENT,
            assignee_id=assignee_id,
            body="",
            created_at=now,
        )
    )
    audit.record(
        session,
        now,
        actor_user_id=user.id,
        action="case.assign",
        object_type="flag",
        object_id=flag.id,
        payload={"from": before, "to": assignee_id},
    )
    if assignee_id is not None and assignee_id != before:
        _publish(session, now, user, flag, event_types.CASE_ASSIGNED, assignee_id=assignee_id)
    session.flush()
    return flag


def add_note(session: Session, now: datetime, user: User, flag: Flag, body: Any) -> CaseNote:
    """A free-text note on the case (any state); Invalid (field ``body``) if empty."""
    _require_regulator(session, user, flag)
    text = _text(body, "body", True, _("Write the note."))
    note = CaseNote(
        flag_id=flag.id, author_id=user.id, kind=CaseNoteKind.NOTE, body=text, created_at=now
    )
    session.add(note)
    session.flush()
    audit.record(
        session,
        now,
        actor_user_id=user.id,
        action="case.note",
        object_type="flag",
        object_id=flag.id,
        payload={"note_id": note.id},
    )
    return note


def history(session: Session, flag: Flag) -> list[CaseNote]:
    return list(
        session.scalars(
            select(CaseNote)
            .where(CaseNote.flag_id == flag.id)
            .order_by(CaseNote.created_at, CaseNote.id)
        )
    )
