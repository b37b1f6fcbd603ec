"""Notifications: who is told about an event, through which channel, and the daily digest.

The ``notifications`` subscriber of :mod:`hazwaste.events` only enqueues one fan-out job per
event (``notifications.fanout``, keyed by the event id). The fan-out job finds the people
entitled to know (:func:`audience` — the access rules of the pages: parties to a manifest,
the organization a flag concerns, regulators whose jurisdiction holds a party, the inspector
a case is assigned to), applies each person's preferences, writes one inbox row per person
(unique per user and event, so a repeated dispatch notifies once) and enqueues one e-mail
per person in that person's language — or leaves it for their daily digest. E-mail goes only
to addresses their owner has verified.

Reminders (receipt due tomorrow, receipt overdue, licence or carrier permit expiring in 60,
30 or 7 days) are published by the periodic :func:`remind`, each with a key so that running
it again (every worker runs it; cron may too) publishes nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hazwaste import events, mail
from hazwaste.accounts.models import Organization, RegulatorBody, User, UserRole
from hazwaste.errors import Invalid, NotFound
from hazwaste.events import types as T
from hazwaste.jobs import outbox
from hazwaste.manifests.models import Manifest, ManifestStatus
from hazwaste.notifications import messages
from hazwaste.notifications.models import Notification, NotificationPreference
from hazwaste.permits.models import CarrierPermit, Licence

FANOUT = "notifications.fanout"
CHINA = ZoneInfo("Asia/Shanghai")
#: Days before a licence's or a carrier permit's end at which its holder is reminded.
EXPIRY_REMINDER_DAYS = (60, 30, 7)
#: A notification list page holds at most this many rows.
PAGE_SIZE = 50

#: Who each type is for: ``enterprise`` staff, ``regulator`` staff, or both. The
#: preferences page shows a user only the types that can reach them.
AUDIENCES: dict[str, frozenset[str]] = {
    T.MANIFEST_SUBMITTED: frozenset({"enterprise"}),
    T.MANIFEST_PICKED_UP: frozenset({"enterprise"}),
    T.MANIFEST_DELIVERED: frozenset({"enterprise"}),
    T.MANIFEST_RECEIVED: frozenset({"enterprise"}),
    T.MANIFEST_DISCREPANCY: frozenset({"enterprise"}),
    T.MANIFEST_REJECTED: frozenset({"enterprise"}),
    T.REVISION_REQUESTED: frozenset({"enterprise"}),
    T.RECEIPT_DUE: frozenset({"enterprise"}),
    T.RECEIPT_OVERDUE: frozenset({"enterprise"}),
    T.FLAG_RAISED: frozenset({"enterprise", "regulator"}),
    T.FLAG_DECIDED: frozenset({"enterprise"}),
    T.CASE_ASSIGNED: frozenset({"regulator"}),
    T.CASE_RESPONSE: frozenset({"regulator"}),
    T.LICENCE_EXPIRING: frozenset({"enterprise"}),
    T.PERMIT_EXPIRING: frozenset({"enterprise"}),
    T.ORGANIZATION_APPROVED: frozenset({"enterprise"}),
    T.WEBHOOK_DISABLED: frozenset({"enterprise", "regulator"}),
}
#: Routine steps are in the inbox only unless the user asks for e-mail; everything that
#: needs someone to act is also e-mailed.
EMAIL_BY_DEFAULT = frozenset(AUDIENCES) - {
    T.MANIFEST_PICKED_UP,
    T.MANIFEST_DELIVERED,
    T.MANIFEST_RECEIVED,
}
#: For manifest events: which parties are told (the actor never is).
MANIFEST_PARTIES: dict[str, tuple[str, ...]] = {
    T.MANIFEST_SUBMITTED: ("carrier", "receiver"),
    T.MANIFEST_PICKED_UP: ("producer", "receiver"),
    T.MANIFEST_DELIVERED: ("producer", "receiver"),
    T.MANIFEST_RECEIVED: ("producer", "carrier"),
    T.MANIFEST_DISCREPANCY: ("producer", "carrier"),
    T.MANIFEST_REJECTED: ("producer", "carrier"),
    T.REVISION_REQUESTED: ("producer", "carrier", "receiver"),
    T.RECEIPT_DUE: ("receiver",),
    T.RECEIPT_OVERDUE: ("producer", "receiver"),
}
#: Office roles of an enterprise (drivers act on the scan pages, not on notifications).
OFFICE_ROLES = (UserRole.ADMIN, UserRole.MEMBER)


def audience_of(user: User) -> str | None:
    if user.regulator_body_id is not None:
        return "regulator"
    if user.organization_id is not None:
        return "enterprise"
    return None


def types_for(user: User) -> list[str]:
    """The event types that can reach ``user``, in the order of the preferences page."""
    kind = audience_of(user)
    org = user.organization
    # Only receivers hold licences and only carriers road-transport permits.
    held = {
        T.LICENCE_EXPIRING: org is not None and org.is_receiver,
        T.PERMIT_EXPIRING: org is not None and org.is_carrier,
    }
    return [t for t in T.EVENT_TYPES if kind in AUDIENCES[t] and held.get(t, True)]


# --- who is told -------------------------------------------------------------------------


def _office_staff(
    session: Session, org_ids: Iterable[int], admins_only: bool = False
) -> list[User]:
    ids = sorted(set(org_ids))
    if not ids:
        return []
    roles = (UserRole.ADMIN,) if admins_only else OFFICE_ROLES
    return list(
        session.scalars(
            select(User)
            .join(Organization, Organization.id == User.organization_id)
            .where(
                User.organization_id.in_(ids),
                User.active.is_(True),
                User.role.in_(roles),
                Organization.status == "approved",
            )
            .order_by(User.id)
        )
    )


def _regulators_over(
    session: Session, org_ids: Iterable[int], admins_only: bool = False
) -> list[User]:
    """Active staff of every regulator body whose jurisdiction holds one of the organizations."""
    regions = set(
        session.scalars(select(Organization.region_code).where(Organization.id.in_(set(org_ids))))
    )
    if not regions:
        return []
    bodies = [
        body
        for body in session.scalars(select(RegulatorBody))
        if any(code.startswith(body.jurisdiction_prefix) for code in regions)
    ]
    if not bodies:
        return []
    stmt = select(User).where(
        User.regulator_body_id.in_([b.id for b in bodies]), User.active.is_(True)
    )
    if admins_only:
        stmt = stmt.where(User.role == UserRole.ADMIN)
    return list(session.scalars(stmt.order_by(User.id)))


def audience(session: Session, event: events.Event, context: dict[str, Any]) -> list[User]:
    """The people entitled to be told about ``event`` (the actor excluded), by the same access
    rules as the pages: a party's office staff, regulators over a party, a case's inspector."""
    kind = event.type
    people: list[User] = []
    if kind in MANIFEST_PARTIES:
        ids = [context.get(f"{party}_id") for party in MANIFEST_PARTIES[kind]]
        people = _office_staff(session, [i for i in ids if i is not None])
    elif kind == T.FLAG_RAISED:
        people = _office_staff(session, event.organization_ids) + _regulators_over(
            session, event.organization_ids
        )
    elif kind == T.FLAG_DECIDED:
        people = _office_staff(session, event.organization_ids)
    elif kind == T.CASE_ASSIGNED:
        assignee = session.get(User, int(event.data.get("assignee_id") or 0))
        if assignee is not None and assignee.active and assignee.regulator_body_id is not None:
            people = [assignee]
    elif kind == T.CASE_RESPONSE:
        assignee_id = context.get("assignee_id")
        assignee = session.get(User, int(assignee_id)) if assignee_id else None
        if assignee is not None and assignee.active:
            people = [assignee]
        else:
            people = _regulators_over(session, event.organization_ids)
    elif kind in (T.LICENCE_EXPIRING, T.PERMIT_EXPIRING):
        people = _office_staff(session, event.organization_ids, admins_only=True)
    elif kind == T.ORGANIZATION_APPROVED:
        people = _office_staff(session, event.organization_ids)
    elif kind == T.WEBHOOK_DISABLED:
        body_id = event.data.get("regulator_body_id")
        if body_id is not None:
            people = list(
                session.scalars(
                    select(User).where(
                        User.regulator_body_id == int(body_id),
                        User.role == UserRole.ADMIN,
                        User.active.is_(True),
                    )
                )
            )
        else:
            people = _office_staff(session, event.organization_ids, admins_only=True)
    seen: set[int] = set()
    chosen = []
    for person in people:
        if person.id == event.actor_id or person.id in seen:
            continue
        seen.add(person.id)
        chosen.append(person)
    return chosen


# --- preferences -------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    event_type: str
    inbox: bool
    email: bool


def default_choice(event_type: str) -> Choice:
    return Choice(event_type, True, event_type in EMAIL_BY_DEFAULT)


def choices(session: Session, user: User) -> list[Choice]:
    """The user's channel choice for every type that can reach them (defaults filled in)."""
    stored = {
        p.event_type: p
        for p in session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == user.id)
        )
    }
    result = []
    for event_type in types_for(user):
        pref = stored.get(event_type)
        result.append(
            default_choice(event_type)
            if pref is None
            else Choice(event_type, pref.inbox, pref.email)
        )
    return result


def save_preferences(
    session: Session,
    user: User,
    chosen: dict[str, dict[str, bool]],
    *,
    digest: bool | None = None,
    locale: str | None = None,
) -> list[Choice]:
    """Store the user's choices: ``chosen`` maps event type → ``{"inbox", "email"}`` (types not
    given keep their choice). Invalid (field ``types``) for a type that cannot reach the user;
    Invalid (field ``locale``) for a language we do not have."""
    allowed = set(types_for(user))
    unknown = sorted(set(chosen) - allowed)
    if unknown:
        msg = messages.unknown_types(unknown)
        raise Invalid(msg, {"types": [msg]})
    if locale is not None and locale not in current_app.config["LANGUAGES"]:
        msg = messages.unknown_language()
        raise Invalid(msg, {"locale": [msg]})
    stored = {
        p.event_type: p
        for p in session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == user.id)
        )
    }
    for event_type, channels in chosen.items():
        current = stored.get(event_type)
        base = (
            default_choice(event_type)
            if current is None
            else Choice(event_type, current.inbox, current.email)
        )
        inbox = bool(channels.get("inbox", base.inbox))
        email = bool(channels.get("email", base.email))
        if current is None:
            session.add(
                NotificationPreference(
                    user_id=user.id, event_type=event_type, inbox=inbox, email=email
                )
            )
        else:
            current.inbox, current.email = inbox, email
    if digest is not None:
        user.notify_digest = digest
    if locale is not None:
        user.locale = locale
    session.flush()
    return choices(session, user)


def _preferences_of(session: Session, user_ids: list[int], event_type: str) -> dict[int, Choice]:
    rows = session.scalars(
        select(NotificationPreference).where(
            NotificationPreference.user_id.in_(user_ids),
            NotificationPreference.event_type == event_type,
        )
    )
    return {p.user_id: Choice(event_type, p.inbox, p.email) for p in rows}


# --- the subscriber and the fan-out job --------------------------------------------------


def on_event(session: Session, now: datetime, event: events.Event) -> None:
    """Subscriber: one fan-out job per event (its work happens in the job)."""
    if event.type not in AUDIENCES:
        return
    outbox.enqueue(session, now, FANOUT, {"event": event.to_payload()}, key=f"notify:{event.id}")


def fanout(session: Session, now: datetime, payload: dict[str, Any]) -> None:
    """Job handler: :func:`notify` the event the payload carries."""
    notify(session, now, events.Event.from_payload(payload["event"]))


def notify(session: Session, now: datetime, event: events.Event) -> int:
    """The inbox rows and e-mails of one event. Returns how many people were told.

    Idempotent: an existing (user, event) row is left alone and its e-mail is keyed by the
    event and the user, so a job that runs again tells nobody twice."""
    context = messages.context(session, event)
    people = audience(session, event, context)
    if not people:
        return 0
    ids = [p.id for p in people]
    already = set(
        session.scalars(
            select(Notification.user_id).where(
                Notification.event_id == event.id, Notification.user_id.in_(ids)
            )
        )
    )
    prefs = _preferences_of(session, ids, event.type)
    data_json = json.dumps(context, ensure_ascii=False, sort_keys=True, default=str)
    told = 0
    for person in people:
        if person.id in already:
            continue
        choice = prefs.get(person.id, default_choice(event.type))
        wants_mail = choice.email and person.email_verified_at is not None
        if not choice.inbox and not wants_mail:
            continue
        row = Notification(
            user_id=person.id,
            event_id=event.id,
            event_type=event.type,
            subject_kind=event.subject_kind,
            subject_id=event.subject_id,
            data_json=data_json,
            occurred_at=event.occurred_at.replace(tzinfo=UTC),
            created_at=now,
            inbox=choice.inbox,
            email_pending=wants_mail and person.notify_digest,
        )
        session.add(row)
        told += 1
        if wants_mail and not person.notify_digest:
            _mail_one(session, now, person, row, key=f"notify:{event.id}:{person.id}")
            row.emailed_at = now
    session.flush()
    return told


def _mail_one(session: Session, now: datetime, person: User, row: Notification, key: str) -> None:
    with force_locale(person.locale or "zh_CN"):
        text = messages.render(row.event_type, row.data, audience_of(person))
        body = messages.mail_text([text], person.name)
        mail.send(session, now, person.email, text.title, body, key=key)


# --- the inbox ---------------------------------------------------------------------------


def unread_count(session: Session, user: User) -> int:
    return int(
        session.scalar(
            select(func.count(Notification.id)).where(
                Notification.user_id == user.id,
                Notification.inbox.is_(True),
                Notification.read_at.is_(None),
            )
        )
        or 0
    )


def inbox(
    session: Session, user: User, *, unread_only: bool = False, before_id: int | None = None
) -> list[Notification]:
    """The user's inbox, newest first, at most :data:`PAGE_SIZE` rows (``before_id``: the
    next page starts below this id)."""
    stmt = select(Notification).where(Notification.user_id == user.id, Notification.inbox.is_(True))
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    if before_id is not None:
        stmt = stmt.where(Notification.id < before_id)
    return list(session.scalars(stmt.order_by(Notification.id.desc()).limit(PAGE_SIZE)))


def presented(row: Notification, user: User) -> dict[str, Any]:
    """The notification worded for ``user`` in the current language (page and API)."""
    text = messages.render(row.event_type, row.data, audience_of(user))
    return {
        "id": row.id,
        "type": row.event_type,
        "type_name": str(T.EVENT_TYPES.get(row.event_type, row.event_type)),
        "title": text.title,
        "body": text.body,
        "link": text.link,
        "object": {"kind": row.subject_kind, "id": row.subject_id},
        "occurred_at": row.occurred_at,
        "created_at": row.created_at,
        "read_at": row.read_at,
    }


def get_own(session: Session, user: User, notification_id: int) -> Notification:
    """The user's own notification; NotFound for anyone else's (never 403: ids are not told)."""
    row = session.get(Notification, notification_id)
    if row is None or row.user_id != user.id or not row.inbox:
        raise NotFound()
    return row


def mark_read(session: Session, now: datetime, row: Notification) -> Notification:
    if row.read_at is None:
        row.read_at = now
        session.flush()
    return row


def mark_all_read(session: Session, now: datetime, user: User) -> int:
    result = session.execute(
        update(Notification)
        .where(
            Notification.user_id == user.id,
            Notification.inbox.is_(True),
            Notification.read_at.is_(None),
        )
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- periodic work: reminders and digests -------------------------------------------------


def local_today(now: datetime) -> date:
    return now.astimezone(CHINA).date()


def remind(session: Session, now: datetime) -> int:
    """Publish the reminders due at ``now`` (not committed); returns how many were published.

    Receipt due tomorrow and receipt overdue (delivered manifests, China dates), licences and
    carrier permits ending in at most 60, 30 or 7 days (the nearest step reached). Each has a
    key naming its subject, step and date, so a second run publishes nothing again.
    """
    today = local_today(now)
    count = 0
    delivered = session.execute(
        select(
            Manifest.id,
            Manifest.number,
            Manifest.receipt_due_date,
            Manifest.producer_id,
            Manifest.carrier_id,
            Manifest.receiver_id,
        ).where(
            Manifest.status == ManifestStatus.DELIVERED,
            Manifest.receipt_due_date.is_not(None),
            Manifest.receipt_due_date <= today + timedelta(days=1),
        )
    ).all()
    for row in delivered:
        due = row.receipt_due_date
        kind = T.RECEIPT_DUE if due >= today else T.RECEIPT_OVERDUE
        if kind == T.RECEIPT_DUE and due != today + timedelta(days=1):
            continue  # due today: the "tomorrow" reminder went out yesterday
        events.publish(
            session,
            now,
            kind,
            subject_kind="manifest",
            subject_id=row.id,
            organization_ids=[row.producer_id, row.carrier_id, row.receiver_id],
            data={"number": row.number, "receipt_due_date": due.isoformat()},
            key=f"{kind}:{row.id}:{due.isoformat()}",
        )
        count += 1
    horizon = today + timedelta(days=max(EXPIRY_REMINDER_DAYS))
    for model, kind in ((Licence, T.LICENCE_EXPIRING), (CarrierPermit, T.PERMIT_EXPIRING)):
        ending = session.execute(
            select(model.id, model.number, model.valid_to, model.organization_id).where(
                model.revoked_at.is_(None), model.valid_to >= today, model.valid_to <= horizon
            )
        ).all()
        for item in ending:
            days = (item.valid_to - today).days
            step = min(d for d in EXPIRY_REMINDER_DAYS if days <= d)
            events.publish(
                session,
                now,
                kind,
                subject_kind="licence" if model is Licence else "permit",
                subject_id=item.id,
                organization_ids=[item.organization_id],
                data={"number": item.number, "valid_to": item.valid_to.isoformat(), "days": days},
                key=f"{kind}:{item.id}:{step}:{item.valid_to.isoformat()}",
            )
            count += 1
    return count


def digest_hour() -> int:
    return int(current_app.config["NOTIFICATION_DIGEST_HOUR"])


def send_digests(session: Session, now: datetime) -> int:
    """Send each digest user whose China time has reached the digest hour, and who has not had
    today's digest, one message with everything pending (not committed). Returns how many
    messages were sent."""
    local = now.astimezone(CHINA)
    if local.hour < digest_hour():
        return 0
    today = local.date()
    users = session.scalars(
        select(User).where(
            User.notify_digest.is_(True),
            User.active.is_(True),
            User.email_verified_at.is_not(None),
            (User.digest_sent_on.is_(None)) | (User.digest_sent_on < today),
        )
    ).all()
    sent = 0
    for person in users:
        pending = list(
            session.scalars(
                select(Notification)
                .where(Notification.user_id == person.id, Notification.email_pending.is_(True))
                .order_by(Notification.id)
            )
        )
        person.digest_sent_on = today
        if not pending:
            continue
        with force_locale(person.locale or "zh_CN"):
            texts = [messages.render(n.event_type, n.data, audience_of(person)) for n in pending]
            subject = messages.digest_subject(len(pending), today)
            body = messages.mail_text(texts, person.name)
        mail.send(session, now, person.email, subject, body, key=f"digest:{person.id}:{today}")
        for row in pending:
            row.email_pending = False
            row.emailed_at = now
        sent += 1
    session.flush()
    return sent


def periodic_job(session: Session, now: datetime) -> dict[str, int]:
    """The workers' periodic work, committed: reminders, then digests."""
    try:
        done = {"reminders": remind(session, now), "digests": send_digests(session, now)}
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return done
