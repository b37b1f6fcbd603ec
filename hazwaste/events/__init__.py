"""Domain events: what happened, to whom it matters — published inside the transaction that
made it happen, delivered after commit.

Low-level like :mod:`hazwaste.jobs`: domains import it to :func:`publish`, and consumers
(notifications, webhooks, …) :func:`subscribe`; it imports no domain. Publishing adds one
outbox job (never commits, never does the work); after commit a worker runs
``events.dispatch``, which hands the event to every subscriber. Subscribers must only enqueue
their own jobs, keyed by the event id (``outbox.enqueue(..., key=f"…:{event.id}:…")``), so a
dispatch that runs twice (its commit was lost) adds nothing twice and one failing consumer
never makes another one repeat its work. Delivery is therefore at least once, and the event
id lets every consumer de-duplicate.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields
from sqlalchemy.orm import Session

from hazwaste.events.types import EVENT_TYPES

#: Outbox job kind that hands one event to every subscriber.
DISPATCH = "events.dispatch"


class UnknownEventType(LookupError):
    """The event type is not in :data:`hazwaste.events.types.EVENT_TYPES` (a programming
    error at the call site)."""


@dataclass(frozen=True)
class Event:
    """One thing that happened.

    ``subject_kind``/``subject_id`` name the object it happened to (``manifest``, ``flag``,
    ``case``, ``organization``, ``licence``, ``permit``, ``webhook``…); ``organization_ids``
    are the organizations that are parties to it (a manifest's producer, carrier and receiver;
    a flag's organization) — consumers decide from them, with the same access rules as the
    pages and the API, who may be told. ``data`` is small JSON the consumers need to word the
    message without reloading (numbers, statuses, quantities as strings — never floats).
    ``occurred_at`` is naive UTC, like every time in the database.
    """

    id: str
    type: str
    occurred_at: datetime
    subject_kind: str
    subject_id: int
    organization_ids: tuple[int, ...] = ()
    actor_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        payload = asdict(self)
        payload["occurred_at"] = self.occurred_at.replace(tzinfo=None).isoformat()
        payload["organization_ids"] = list(self.organization_ids)
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Event:
        return cls(
            id=payload["id"],
            type=payload["type"],
            occurred_at=datetime.fromisoformat(payload["occurred_at"]),
            subject_kind=payload["subject_kind"],
            subject_id=int(payload["subject_id"]),
            organization_ids=tuple(int(i) for i in payload.get("organization_ids") or ()),
            actor_id=payload.get("actor_id"),
            data=dict(payload.get("data") or {}),
        )


class EventPayloadSchema(Schema):
    id = fields.String(required=True)
    type = fields.String(required=True)
    occurred_at = fields.String(required=True)
    subject_kind = fields.String(required=True)
    subject_id = fields.Integer(required=True, strict=True)
    organization_ids = fields.List(fields.Integer(strict=True), load_default=list)
    actor_id = fields.Integer(strict=True, allow_none=True, load_default=None)
    data = fields.Dict(load_default=dict)
    also = fields.List(fields.String(), load_default=list)


Subscriber = Callable[[Session, datetime, Event], None]

_SUBSCRIBERS: dict[str, Subscriber] = {}


def subscribe(name: str, fn: Subscriber) -> None:
    """Register (or replace, on a second ``create_app``) a consumer of every event.

    ``fn(session, now, event)`` runs in the dispatch job's transaction and must only enqueue
    its own outbox jobs keyed by ``event.id`` (see the module docstring)."""
    _SUBSCRIBERS[name] = fn


def subscribers() -> dict[str, Subscriber]:
    return dict(_SUBSCRIBERS)


def publish(
    session: Session,
    now: datetime,
    type: str,
    *,
    subject_kind: str,
    subject_id: int,
    organization_ids: Iterable[int | None] = (),
    actor_id: int | None = None,
    data: dict[str, Any] | None = None,
    key: str | None = None,
    also: Iterable[str] = (),
) -> Event:
    """Record that ``type`` happened, in the caller's transaction (one INSERT into the
    outbox; never commits). The event exists if and only if that transaction commits.

    With ``key`` (e.g. ``receipt-due:<manifest id>:<date>`` for a reminder a periodic job
    may find twice), publishing is idempotent: a second publish with the same key adds
    nothing. ``also``: further types that happened in the same change to the same subject
    (a receipt that rejects a line is also ``manifest.rejected``); they travel in the same
    outbox row — a hand-off pays one INSERT whatever it means — and reach the subscribers as
    events of their own, with ids ``<id>-<n>``. Raises :class:`UnknownEventType` for a type
    not in ``EVENT_TYPES``.
    """
    from hazwaste.jobs import outbox

    extra = [t for t in dict.fromkeys(also) if t != type]
    for name in (type, *extra):
        if name not in EVENT_TYPES:
            raise UnknownEventType(name)
    event = Event(
        id=uuid.uuid4().hex,
        type=type,
        occurred_at=now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now,
        subject_kind=subject_kind,
        subject_id=int(subject_id),
        organization_ids=tuple(sorted({int(i) for i in organization_ids if i is not None})),
        actor_id=actor_id,
        data=dict(data or {}),
    )
    payload = event.to_payload()
    if extra:
        payload["also"] = extra
    outbox.enqueue(
        session,
        now,
        DISPATCH,
        payload,
        key=f"event:{key}" if key is not None else f"event:{event.id}",
    )
    return event


def dispatch(session: Session, now: datetime, payload: dict[str, Any]) -> None:
    """Job handler: hand the event (and those that came ``also`` with it) to every
    subscriber, each of which enqueues its own jobs."""
    event = Event.from_payload(payload)
    happened = [event] + [
        replace(event, id=f"{event.id}-{n}", type=name)
        for n, name in enumerate(payload.get("also") or (), 1)
    ]
    for one in happened:
        for fn in _SUBSCRIBERS.values():
            fn(session, now, one)


def _summary(payload: dict[str, Any]) -> str:
    return f"{payload.get('type')} {payload.get('subject_kind')} {payload.get('subject_id')}"


def init_app(app: Flask) -> None:
    from hazwaste.jobs import outbox

    outbox.register(
        DISPATCH,
        dispatch,
        schema=EventPayloadSchema,
        summary=_summary,
        label=_l("Event delivery to notifications and webhooks"),
    )
