"""Webhooks: endpoints, entitlement, signed delivery with retries, SSRF refusal.

The ``webhooks`` subscriber of :mod:`hazwaste.events` creates one delivery row per entitled,
subscribed, active endpoint (unique endpoint + event id) and enqueues one delivery job keyed
``webhook:<endpoint id>:<event id>``. The job POSTs the stored body, signed; on anything but
2xx it records the attempt and defers itself (:class:`outbox.JobDeferred`, not a failed job
attempt) by the next step of :data:`RETRY_SCHEDULE` (about 24 h in all). An endpoint whose
deliveries have failed for :data:`DISABLE_AFTER` is disabled and ``webhook.disabled`` is
published. Delivery is at least once: receivers de-duplicate by the event id.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from hazwaste import events
from hazwaste.accounts.models import Organization, RegulatorBody, User, UserRole
from hazwaste.errors import Forbidden, Invalid, NotFound
from hazwaste.events.types import EVENT_TYPES, WEBHOOK_DISABLED
from hazwaste.jobs import outbox
from hazwaste.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

DELIVER = "webhooks.deliver"
#: Wait after the 1st, 2nd, … failed attempt (sums to just over 24 h, so a
#: receiver down all the time is disabled at the last attempt); then the delivery fails.
RETRY_SCHEDULE = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
    timedelta(hours=9),  # the 9th attempt comes 24 h 21 min after the first
)
#: An endpoint failing (no 2xx) for this long is disabled.
DISABLE_AFTER = timedelta(hours=24)
TIMEOUT_SECONDS = 10
SIGNATURE_HEADER = "Hazwaste-Signature"
EVENT_ID_HEADER = "Hazwaste-Event-Id"
CHINA = ZoneInfo("Asia/Shanghai")
_LINKS = {"manifest": "/manifests/{}", "flag": "/flags/{}", "case": "/cases/{}"}


class UnsafeUrl(ValueError):
    """The URL is not http(s) or its host resolves to a private, loopback, link-local,
    multicast or reserved address."""


def new_secret() -> str:
    """A random 32-byte secret, hex."""
    return secrets.token_hex(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Hazwaste-Signature`` value: ``t=<unix seconds>,v1=<hex HMAC-SHA256>`` of
    ``f"{t}.{body}"`` under ``secret``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def check_url(url: str, allow_private: bool | None = None) -> str:
    """``url`` if it is http(s) and every address its host resolves to is public; else
    :class:`UnsafeUrl`. ``allow_private`` defaults to config ``WEBHOOKS_ALLOW_PRIVATE``."""
    if allow_private is None:
        allow_private = bool(current_app.config.get("WEBHOOKS_ALLOW_PRIVATE"))
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise UnsafeUrl("scheme")
    if parts.username or parts.password:
        raise UnsafeUrl("credentials")
    if allow_private:
        return url.strip()
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise UnsafeUrl("unresolvable") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if (
            address.is_private
            or address.is_loopback
            or address.is_link_local
            or address.is_multicast
            or address.is_reserved
            or address.is_unspecified
            or not address.is_global
        ):
            raise UnsafeUrl(str(address))
    return url.strip()


# --- who may manage which endpoint -------------------------------------------------------


def owner_of(user: User) -> tuple[int | None, int | None]:
    """(organization id, regulator body id) the user administers; 403 for anyone else
    (members, drivers, inspectors) — a logged-in user without an owner at all gets 404."""
    if not user.active:
        raise NotFound()
    if user.organization_id is not None and user.org_approved:
        if user.role is not UserRole.ADMIN:
            raise Forbidden()
        return user.organization_id, None
    if user.regulator_body_id is not None:
        if user.role is not UserRole.ADMIN:
            raise Forbidden()
        return None, user.regulator_body_id
    raise NotFound()


def endpoints_of(session: Session, user: User) -> list[WebhookEndpoint]:
    org_id, body_id = owner_of(user)
    stmt = select(WebhookEndpoint).order_by(WebhookEndpoint.id)
    if org_id is not None:
        stmt = stmt.where(WebhookEndpoint.organization_id == org_id)
    else:
        stmt = stmt.where(WebhookEndpoint.regulator_body_id == body_id)
    return list(session.scalars(stmt))


def get_endpoint(session: Session, user: User, endpoint_id: int) -> WebhookEndpoint:
    """The user's owner's endpoint: 403 for a non-administrator (before anything is looked
    up), 404 if it belongs to another organization or body."""
    org_id, body_id = owner_of(user)
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound()
    if org_id is not None and endpoint.organization_id != org_id:
        raise NotFound()
    if body_id is not None and endpoint.regulator_body_id != body_id:
        raise NotFound()
    return endpoint


def _valid_types(types: list[str]) -> list[str]:
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown or not types:
        msg = _("Choose at least one known event type.")
        raise Invalid(msg, {"event_types": [msg]})
    return types


def _checked_url(url: str) -> str:
    try:
        return check_url(url)
    except UnsafeUrl as exc:
        msg = _("Give an http(s) URL on a public address.")
        raise Invalid(msg, {"url": [msg]}) from exc


def create_endpoint(
    session: Session, now: datetime, user: User, url: str, event_types: list[str]
) -> WebhookEndpoint:
    """A new active endpoint of the user's organization or regulator body, with a fresh
    secret (the caller shows it once)."""
    org_id, body_id = owner_of(user)
    endpoint = WebhookEndpoint(
        organization_id=org_id,
        regulator_body_id=body_id,
        url=_checked_url(url),
        secret=new_secret(),
        active=True,
        created_by_id=user.id,
        created_at=now,
    )
    endpoint.event_types = _valid_types(event_types)
    session.add(endpoint)
    session.flush()
    return endpoint


def update_endpoint(
    session: Session,
    now: datetime,
    endpoint: WebhookEndpoint,
    *,
    url: str | None = None,
    event_types: list[str] | None = None,
    active: bool | None = None,
    rotate_secret: bool = False,
) -> WebhookEndpoint:
    if url is not None:
        endpoint.url = _checked_url(url)
    if event_types is not None:
        endpoint.event_types = _valid_types(event_types)
    if active is True and not endpoint.active:
        endpoint.active = True
        endpoint.disabled_at = None
        endpoint.disabled_reason = ""
        endpoint.failing_since = None
    elif active is False and endpoint.active:
        endpoint.active = False
        endpoint.disabled_at = now
        endpoint.disabled_reason = "by administrator"
    if rotate_secret:
        endpoint.secret = new_secret()
    session.flush()
    return endpoint


def delete_endpoint(session: Session, endpoint: WebhookEndpoint) -> None:
    session.delete(endpoint)
    session.flush()


def deliveries_of(
    session: Session, endpoint: WebhookEndpoint, limit: int = 100
) -> list[WebhookDelivery]:
    stmt = (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def get_delivery(session: Session, endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise NotFound()
    return delivery


def replay(session: Session, now: datetime, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send the delivery again now, as a new attempt (a new job; the same event id)."""
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = now
    outbox.enqueue(
        session,
        now,
        DELIVER,
        {"delivery_id": delivery.id},
        key=f"webhook:{delivery.endpoint_id}:{delivery.event_id}:replay:{secrets.token_hex(8)}",
    )
    return delivery


# --- the subscriber ----------------------------------------------------------------------


def _time(value: datetime) -> str:
    return value.replace(tzinfo=ZoneInfo("UTC")).astimezone(CHINA).isoformat(timespec="seconds")


def _link(event: events.Event) -> str | None:
    base = str(current_app.config.get("PUBLIC_BASE_URL") or "")
    path = _LINKS.get(event.subject_kind)
    if not base or path is None:
        return None
    return base + path.format(event.subject_id)


def body_of(event: events.Event) -> str:
    """The JSON body delivered for ``event`` (stored, so every attempt signs the same bytes)."""
    return json.dumps(
        {
            "id": event.id,
            "type": event.type,
            "time": _time(event.occurred_at),
            "object": {"kind": event.subject_kind, "id": event.subject_id},
            "link": _link(event),
            "data": event.data,
        },
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )


def entitled_endpoints(session: Session, event: events.Event) -> list[WebhookEndpoint]:
    """Active endpoints subscribed to the event's type whose owner may see its object: an
    organization that is a party, or a regulator body whose jurisdiction holds a party."""
    if not event.organization_ids:
        return []
    orgs = list(
        session.scalars(select(Organization).where(Organization.id.in_(event.organization_ids)))
    )
    candidates = session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))
    ).all()
    bodies = {b.id: b for b in session.scalars(select(RegulatorBody))}
    chosen = []
    for endpoint in candidates:
        if event.type not in endpoint.event_types:
            continue
        if endpoint.organization_id is not None:
            if endpoint.organization_id in event.organization_ids:
                chosen.append(endpoint)
        elif endpoint.regulator_body_id in bodies:
            prefix = bodies[endpoint.regulator_body_id].jurisdiction_prefix
            if any(org.region_code.startswith(prefix) for org in orgs):
                chosen.append(endpoint)
    return chosen


def on_event(session: Session, now: datetime, event: events.Event) -> None:
    """Subscriber: one delivery row and one delivery job per entitled endpoint."""
    body = None
    for endpoint in entitled_endpoints(session, event):
        exists = session.scalar(
            select(WebhookDelivery.id).where(
                WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.event_id == event.id
            )
        )
        if exists is not None:
            continue
        body = body if body is not None else body_of(event)
        delivery = WebhookDelivery(
            endpoint_id=endpoint.id,
            event_id=event.id,
            event_type=event.type,
            payload=body,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(delivery)
        session.flush()
        outbox.enqueue(
            session,
            now,
            DELIVER,
            {"delivery_id": delivery.id},
            key=f"webhook:{endpoint.id}:{event.id}",
        )


# --- the delivery job --------------------------------------------------------------------


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    opener = urllib.request.build_opener(_NoRedirect())
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return int(response.status), ""
    except urllib.error.HTTPError as exc:
        return int(exc.code), f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect could lead to an address the SSRF check never saw: it counts as a failure.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def deliver(session: Session, now: datetime, payload: dict[str, Any]) -> None:
    """Job handler: one attempt of one delivery; defers itself for the next retry."""
    delivery = session.get(WebhookDelivery, int(payload["delivery_id"]))
    if delivery is None or delivery.status is DeliveryStatus.DELIVERED:
        return
    endpoint = delivery.endpoint
    if not endpoint.active:
        delivery.status = DeliveryStatus.FAILED
        delivery.last_error = "endpoint disabled"
        return
    body = delivery.payload.encode()
    delivery.attempts += 1
    try:
        url = check_url(endpoint.url)
    except UnsafeUrl as exc:
        code, error = None, f"refused address: {exc}"
    else:
        code, error = _post(
            url,
            body,
            {
                "Content-Type": "application/json",
                EVENT_ID_HEADER: delivery.event_id,
                SIGNATURE_HEADER: sign(endpoint.secret, int(now.timestamp()), body),
                "User-Agent": "hazwaste-webhooks/1",
            },
        )
    delivery.last_response_code = code
    if code is not None and 200 <= code < 300:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.last_error = ""
        delivery.next_attempt_at = None
        endpoint.failing_since = None
        return
    delivery.last_error = error[:500]
    if endpoint.failing_since is None:
        endpoint.failing_since = now
    if now - endpoint.failing_since >= DISABLE_AFTER:
        disable(session, now, endpoint, "failing for 24 hours")
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
        return
    if delivery.attempts > len(RETRY_SCHEDULE):
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
        return
    delay = RETRY_SCHEDULE[delivery.attempts - 1]
    delivery.next_attempt_at = now + delay
    # A new job due then (this one is done): the attempt just recorded must commit.
    outbox.enqueue(
        session,
        now,
        DELIVER,
        {"delivery_id": delivery.id},
        key=f"webhook:{endpoint.id}:{delivery.event_id}:attempt:{delivery.attempts + 1}",
        eta=delivery.next_attempt_at,
    )


def disable(session: Session, now: datetime, endpoint: WebhookEndpoint, reason: str) -> None:
    """Deactivate a failing endpoint and tell its administrators (``webhook.disabled``)."""
    endpoint.active = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason
    owner: dict[str, Any] = (
        {"organization_id": endpoint.organization_id}
        if endpoint.organization_id is not None
        else {"regulator_body_id": endpoint.regulator_body_id}
    )
    events.publish(
        session,
        now,
        WEBHOOK_DISABLED,
        subject_kind="webhook",
        subject_id=endpoint.id,
        organization_ids=[endpoint.organization_id],
        data={**owner, "url": endpoint.url},
    )


def china_time(value: datetime | None) -> str:
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S") if value else ""
