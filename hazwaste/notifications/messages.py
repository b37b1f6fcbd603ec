"""What a notification says, in the reader's language.

:func:`context` gathers, once per event in the fan-out job, the few facts the words need
(manifest number, party names, the flag's rule…) so that showing an inbox needs no further
queries; :func:`render` words them in the current locale (the page's, or the recipient's
under ``force_locale`` for e-mail). Nothing here reaches the database except :func:`context`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy.orm import Session

from hazwaste import events, labels
from hazwaste.accounts.models import Organization
from hazwaste.cases.labels import FINDING_LABELS
from hazwaste.events import types as T
from hazwaste.manifests.models import Manifest
from hazwaste.reconciliation.models import Flag


@dataclass(frozen=True)
class Text:
    title: str
    body: str
    link: str  # a path on this site ("/manifests/12")


def _name(session: Session, org_id: int | None) -> str:
    org = session.get(Organization, org_id) if org_id else None
    return org.name if org is not None else ""


def context(session: Session, event: events.Event) -> dict[str, Any]:
    """The facts the words of ``event`` need, as JSON-ready values (quantities as strings)."""
    facts: dict[str, Any] = dict(event.data)
    facts.update(
        subject_kind=event.subject_kind,
        subject_id=event.subject_id,
        occurred_at=event.occurred_at.isoformat(),
    )
    if event.subject_kind == "manifest":
        manifest = session.get(Manifest, event.subject_id)
        if manifest is not None:
            facts.update(
                number=manifest.number or facts.get("number") or "",
                producer_id=manifest.producer_id,
                carrier_id=manifest.carrier_id,
                receiver_id=manifest.receiver_id,
                producer=_name(session, manifest.producer_id),
                carrier=_name(session, manifest.carrier_id),
                receiver=_name(session, manifest.receiver_id),
            )
            if manifest.receipt_due_date is not None:
                facts.setdefault("receipt_due_date", manifest.receipt_due_date.isoformat())
    elif event.subject_kind == "flag":
        flag = session.get(Flag, event.subject_id)
        if flag is not None:
            manifest = session.get(Manifest, flag.manifest_id) if flag.manifest_id else None
            facts.update(
                rule=flag.rule,
                severity=flag.severity.value,
                assignee_id=flag.assignee_id,
                number=manifest.number if manifest is not None else "",
                organization=_name(
                    session,
                    flag.producer_id or flag.receiver_id or flag.carrier_id,
                ),
            )
            if flag.case_finding is not None:
                facts.setdefault("finding", flag.case_finding.value)
    elif event.subject_kind == "organization":
        facts["organization"] = _name(session, event.subject_id)
    return facts


def _date(value: Any) -> str:
    if not value:
        return ""
    return date.fromisoformat(str(value)[:10]).strftime("%Y-%m-%d")


def _time(value: Any) -> str:
    if not value:
        return ""
    moment = datetime.fromisoformat(str(value))
    return labels.datetime_local(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _kg(value: Any) -> str:
    return labels.kg(Decimal(str(value))) if value not in (None, "") else ""


def _link(kind: str, subject_id: Any, audience: str | None) -> str:
    if kind == "manifest":
        return f"/manifests/{subject_id}"
    if kind == "flag":
        return f"/cases/{subject_id}" if audience == "regulator" else f"/flags/{subject_id}"
    if kind == "licence":
        return f"/permits/licences/{subject_id}"
    if kind == "permit":
        return "/permits/carrier-permits"
    if kind == "webhook":
        return f"/webhooks/{subject_id}"
    return "/"


def render(event_type: str, data: dict[str, Any], audience: str | None = None) -> Text:
    """Title, body and link of a notification in the current locale."""
    d = data
    number = d.get("number") or ""
    link = _link(str(d.get("subject_kind") or ""), d.get("subject_id"), audience)
    title, body = _words(event_type, d, number)
    return Text(title=title, body=body, link=link)


def _words(event_type: str, d: dict[str, Any], number: str) -> tuple[str, str]:
    if event_type == T.MANIFEST_SUBMITTED:
        return (
            _("Manifest %(number)s has been submitted to you", number=number),
            _(
                "%(producer)s issued it; carrier %(carrier)s, receiver %(receiver)s.",
                producer=d.get("producer", ""),
                carrier=d.get("carrier", ""),
                receiver=d.get("receiver", ""),
            ),
        )
    if event_type == T.MANIFEST_PICKED_UP:
        return (
            _("Manifest %(number)s is on its way", number=number),
            _(
                "%(carrier)s picked up %(kg)s kg at %(time)s (vehicle %(plate)s).",
                carrier=d.get("carrier", ""),
                kg=_kg(d.get("loaded_kg")),
                time=_time(d.get("occurred_at")),
                plate=d.get("vehicle", ""),
            ),
        )
    if event_type == T.MANIFEST_DELIVERED:
        return (
            _("Manifest %(number)s has arrived", number=number),
            _(
                "The load reached %(receiver)s at %(time)s; the receipt is due by %(due)s.",
                receiver=d.get("receiver", ""),
                time=_time(d.get("occurred_at")),
                due=_date(d.get("receipt_due_date")),
            ),
        )
    if event_type == T.MANIFEST_RECEIVED:
        return (
            _("Manifest %(number)s has been received", number=number),
            _(
                "%(receiver)s received %(kg)s kg.",
                receiver=d.get("receiver", ""),
                kg=_kg(d.get("received_kg")),
            ),
        )
    if event_type == T.MANIFEST_DISCREPANCY:
        lines = d.get("discrepancy_lines") or []
        parts = [
            _(
                "line %(line)s: loaded %(loaded)s kg, received %(received)s kg (%(pct)s %%)",
                line=item.get("line_no"),
                loaded=_kg(item.get("loaded_kg")),
                received=_kg(item.get("received_kg")),
                pct=item.get("pct"),
            )
            for item in lines
            if isinstance(item, dict)
        ]
        return (
            _("Manifest %(number)s: received weight differs beyond tolerance", number=number),
            _("%(receiver)s weighed: ", receiver=d.get("receiver", "")) + "；".join(parts),
        )
    if event_type == T.MANIFEST_REJECTED:
        count = int(d.get("rejected_lines") or 0)
        return (
            _("Waste on manifest %(number)s was rejected", number=number),
            ngettext(
                "%(receiver)s rejected %(num)s line.",
                "%(receiver)s rejected %(num)s lines.",
                count,
                receiver=d.get("receiver", ""),
            ),
        )
    if event_type == T.REVISION_REQUESTED:
        return (
            _("A revision of manifest %(number)s is waiting for you", number=number),
            _("Open the manifest to approve or refuse the change."),
        )
    if event_type == T.RECEIPT_DUE:
        return (
            _("Receipt of manifest %(number)s is due tomorrow", number=number),
            _(
                "Record the receipt by %(due)s (five working days after arrival).",
                due=_date(d.get("receipt_due_date")),
            ),
        )
    if event_type == T.RECEIPT_OVERDUE:
        return (
            _("Receipt of manifest %(number)s is overdue", number=number),
            _(
                "The receipt was due by %(due)s; the regulator sees the delay.",
                due=_date(d.get("receipt_due_date")),
            ),
        )
    rule = str(labels.RULE_LABELS.get(str(d.get("rule")), d.get("rule") or ""))
    if event_type == T.FLAG_RAISED:
        severity = str(labels.SEVERITY_LABELS.get(str(d.get("severity")), ""))
        about = _("manifest %(number)s", number=number) if number else d.get("organization", "")
        return (
            _("New flag: %(rule)s", rule=rule),
            _("Severity %(severity)s; concerns %(about)s.", severity=severity, about=about),
        )
    if event_type == T.FLAG_DECIDED:
        finding = d.get("finding")
        decision = (
            str(FINDING_LABELS.get(str(finding), finding))
            if finding
            else _("referred to the public security authority")
        )
        return (
            _("The regulator decided on a flag: %(rule)s", rule=rule),
            _("Decision: %(decision)s.", decision=decision),
        )
    if event_type == T.CASE_ASSIGNED:
        return (
            _("A case was assigned to you: %(rule)s", rule=rule),
            _("Concerns %(org)s.", org=d.get("organization", "")),
        )
    if event_type == T.CASE_RESPONSE:
        return (
            _("The enterprise answered a case: %(rule)s", rule=rule),
            _("%(org)s sent its explanation.", org=d.get("responder") or d.get("organization", "")),
        )
    if event_type in (T.LICENCE_EXPIRING, T.PERMIT_EXPIRING):
        what = (
            _("Licence %(number)s", number=number)
            if event_type == T.LICENCE_EXPIRING
            else _("Transport permit %(number)s", number=number)
        )
        return (
            _("%(what)s ends on %(date)s", what=what, date=_date(d.get("valid_to"))),
            ngettext(
                "%(num)s day left: apply for its renewal in time.",
                "%(num)s days left: apply for its renewal in time.",
                int(d.get("days") or 0),
            ),
        )
    if event_type == T.ORGANIZATION_APPROVED:
        return (
            _("%(org)s has been approved", org=d.get("organization", "")),
            _("Your organization can now issue and handle manifests."),
        )
    if event_type == T.WEBHOOK_DISABLED:
        return (
            _("A webhook endpoint was disabled"),
            _(
                "Deliveries to %(url)s failed for 24 hours; it is disabled until you "
                "enable it again.",
                url=d.get("url", ""),
            ),
        )
    return str(T.EVENT_TYPES.get(event_type, event_type)), ""


def mail_text(texts: list[Text], name: str) -> str:
    """The plain-text e-mail for one notification or a digest of several."""
    base = str(current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    parts = [_("Hello %(name)s,", name=name), ""]
    for text in texts:
        parts += [text.title, text.body, base + text.link, ""]
    parts.append(
        _("Choose what reaches you by e-mail at %(url)s", url=base + "/notifications/preferences")
    )
    return "\n".join(parts)


def digest_subject(count: int, day: date) -> str:
    return ngettext(
        "Hazardous-waste tracking: %(num)s notification on %(day)s",
        "Hazardous-waste tracking: %(num)s notifications on %(day)s",
        count,
        day=day.strftime("%Y-%m-%d"),
    )


def unknown_types(types: list[str]) -> str:
    return _("These notification types cannot reach you: %(types)s", types=", ".join(types))


def unknown_language() -> str:
    return _("Choose one of the languages offered.")
