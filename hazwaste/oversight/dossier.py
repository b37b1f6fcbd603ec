"""Case dossiers as PDF, for a penalty or referral file (reportlab, embedded CJK font).

* Flag dossier: the finding (rule, severity, status, case status and finding, quantity,
  parties), its evidence, the manifest's timeline with positions and the weight at every
  step, the per-line weights, the case notes and the enterprise's responses.
* Enterprise dossier: the organization, its risk rating with the formula's parts, its
  balances of the last 12 months and its flags.

Both read only; :class:`NotFound` when the flag or enterprise lies outside the regulator's
jurisdiction, :class:`Forbidden` for anyone but a regulator.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hazwaste.accounts.models import User
from hazwaste.cases.labels import CASE_STATUS_LABELS, FINDING_LABELS
from hazwaste.cases.models import CaseNote, FlagResponse
from hazwaste.documents.manifest_pdf import _grid, _styles, china_time, kg, register_font, text
from hazwaste.labels import EVENT_LABELS, FLAG_STATUS_LABELS, RULE_LABELS, SEVERITY_LABELS
from hazwaste.manifests.models import Manifest
from hazwaste.oversight import balances, dashboard, risk, scope
from hazwaste.reconciliation import queries
from hazwaste.reconciliation.models import Flag

WIDTH = A4[0] - 28 * mm


def _case_status(flag: Flag) -> str:
    return str(CASE_STATUS_LABELS.get(flag.case_status.value, flag.case_status.value))


def _finding(flag: Flag) -> str:
    if flag.case_finding is None:
        return ""
    return str(FINDING_LABELS.get(flag.case_finding.value, flag.case_finding.value))


def _p(value: object, style: str = "base") -> Paragraph:
    return Paragraph(text(value), _styles()[style])


def _label(table: dict[str, Any], value: str) -> str:
    return str(table.get(value, value))


def _facts(rows: Sequence[tuple[str, object]]) -> Table:
    return _grid([[_p(k, "head"), _p(v)] for k, v in rows], [40 * mm, WIDTH - 40 * mm])


def _section(title: str) -> Paragraph:
    return Paragraph(text(title), _styles()["section"])


def _table(
    header: Sequence[str], rows: Sequence[Sequence[object]], widths: Sequence[float]
) -> Table:
    body = [[_p(h, "head") for h in header]]
    body += [[_p(c, "small") for c in row] for row in rows]
    if not rows:
        body.append([_p("—", "small")] + [_p("", "small") for _h in header[1:]])
    return _grid(body, widths, header_rows=1)


def _build(title: str, story: list[Any]) -> bytes:
    register_font()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title=title,
        author="hazwaste",
        creator="hazwaste",
    )
    doc.build([Paragraph(text(title), _styles()["title"]), Spacer(1, 4), *story])
    return buffer.getvalue()


def _org_name(org: Any) -> str:
    return f"{org.name}（{org.uscc}，{org.region_code}）" if org is not None else ""


def _timeline(manifest: Manifest) -> list[Any]:
    rows = []
    for ev in manifest.events:
        position = (
            f"{ev.latitude:.5f}, {ev.longitude:.5f} (±{ev.accuracy_m or 0:.0f} m)"
            if ev.latitude is not None and ev.longitude is not None
            else (ev.position_note or "—")
        )
        rows.append(
            [
                china_time(ev.occurred_at),
                _label(EVENT_LABELS, ev.kind.value),
                ev.actor_org.name if ev.actor_org else "",
                position,
                kg(ev.total_kg),
                ev.note,
            ]
        )
    weights = [
        [
            ln.line_no,
            f"{ln.waste_code} {ln.waste_name}",
            kg(ln.declared_kg),
            kg(ln.loaded_kg),
            kg(ln.received_kg),
            kg(ln.accepted_kg),
            kg(ln.disposed_kg),
        ]
        for ln in manifest.lines
    ]
    return [
        _section(_("Manifest %(number)s: timeline", number=manifest.number or manifest.id)),
        _table(
            [_("Time (China)"), _("Step"), _("By"), _("Position"), _("Weight (kg)"), _("Note")],
            rows,
            [26 * mm, 20 * mm, 40 * mm, 42 * mm, 20 * mm, WIDTH - 148 * mm],
        ),
        _section(_("Weights per step (kg)")),
        _table(
            [
                "#",
                _("Waste"),
                _("Declared"),
                _("Loaded"),
                _("Received quantity"),
                _("Accepted"),
                _("Disposed quantity"),
            ],
            weights,
            [8 * mm, WIDTH - 108 * mm, 20 * mm, 20 * mm, 20 * mm, 20 * mm, 20 * mm],
        ),
    ]


def flag_pdf(session: Session, now: datetime, user: User, flag_id: int) -> bytes:
    scope.prefix_of(user)
    flag = queries.get_visible(session, user, flag_id)
    story: list[Any] = [
        _facts(
            [
                (_("Flag"), f"#{flag.id}"),
                (_("Rule"), f"{_label(RULE_LABELS, flag.rule)} ({flag.rule})"),
                (_("Severity"), _label(SEVERITY_LABELS, flag.severity.value)),
                (_("Finding"), flag.summary),
                (_("Quantity (kg)"), kg(flag.quantity_kg)),
                (_("Status"), _label(FLAG_STATUS_LABELS, flag.status.value)),
                (_("Case status"), _case_status(flag)),
                (_("Case finding"), _finding(flag) or "—"),
                (_("Period"), flag.period or "—"),
                (_("First seen"), china_time(flag.first_seen_at)),
                (_("Last seen"), china_time(flag.last_seen_at)),
                (_("Producer"), _org_name(flag.producer)),
                (_("Carrier"), _org_name(flag.carrier)),
                (_("Receiver"), _org_name(flag.receiver)),
                (_("Printed"), china_time(now)),
            ]
        ),
        _section(_("Evidence")),
        _facts(
            [
                (k, json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v)
                for k, v in sorted(queries.evidence(flag).items())
            ]
            or [("—", "")]
        ),
    ]
    if flag.manifest_id is not None:
        manifest = session.get(Manifest, flag.manifest_id)
        if manifest is not None:
            story += _timeline(manifest)
    notes = session.scalars(
        select(CaseNote).where(CaseNote.flag_id == flag.id).order_by(CaseNote.created_at)
    ).all()
    story += [
        _section(_("Case notes")),
        _table(
            [_("Time (China)"), _("Author"), _("Kind"), _("Note")],
            [
                [
                    china_time(n.created_at),
                    n.author.name,
                    n.kind.value
                    + (
                        f" {n.from_status.value if n.from_status else ''}→"
                        f"{n.to_status.value if n.to_status else ''}"
                        if n.to_status
                        else ""
                    ),
                    n.body,
                ]
                for n in notes
            ],
            [26 * mm, 30 * mm, 36 * mm, WIDTH - 92 * mm],
        ),
    ]
    responses = session.scalars(
        select(FlagResponse).where(FlagResponse.flag_id == flag.id).order_by(FlagResponse.id)
    ).all()
    story += [
        _section(_("Enterprise responses")),
        _table(
            [_("Time (China)"), _("Enterprise"), _("Explanation"), _("Attachments")],
            [
                [china_time(r.created_at), r.organization.name, r.body, r.attachments]
                for r in responses
            ],
            [26 * mm, 40 * mm, WIDTH - 116 * mm, 50 * mm],
        ),
    ]
    return _build(_("Case dossier: flag #%(id)s", id=flag.id), story)


def enterprise_pdf(session: Session, now: datetime, user: User, org_id: int) -> bytes:
    org = scope.enterprise(session, user, org_id)
    rating = risk.ratings(session, now, scope.prefix_of(user), organization_id=org.id)[0]
    months = dashboard.months_back(now, 12)
    rows = balances.rows(
        session,
        balances.BalanceFilters(
            prefix=scope.prefix_of(user), organization_id=org.id, month_from=months[0]
        ),
    )
    flags = session.scalars(
        select(Flag)
        .where(
            or_(Flag.producer_id == org.id, Flag.carrier_id == org.id, Flag.receiver_id == org.id)
        )
        .order_by(Flag.first_seen_at.desc())
    ).all()
    story: list[Any] = [
        _facts(
            [
                (_("Enterprise"), org.name),
                (_("Unified social credit code"), org.uscc),
                (_("Address"), org.address),
                (_("Region code"), org.region_code),
                (_("Roles"), ", ".join(org.roles)),
                (_("Printed"), china_time(now)),
            ]
        ),
        _section(_("Risk rating")),
        _facts(
            [
                (_("Score"), format(rating.score, "f")),
                (_("Grade"), str(risk.GRADE_LABELS[rating.grade])),
                (_("Flags"), str(rating.flags)),
                (_("Open"), str(rating.open_flags)),
                (_("Late responses"), str(rating.late_responses)),
            ]
        ),
        _section(_("Balances of the last 12 months (kg)")),
        _table(
            [
                _("Month"),
                _("Waste code"),
                _("Generated quantity"),
                _("Shipped quantity"),
                _("Received quantity"),
                _("Disposed quantity"),
                _("Stock"),
            ],
            [
                [
                    r.month,
                    r.waste_code,
                    kg(r.generated),
                    kg(r.shipped),
                    kg(r.received),
                    kg(r.disposed),
                    kg(r.stock),
                ]
                for r in rows
            ],
            [18 * mm, 24 * mm] + [(WIDTH - 42 * mm) / 5] * 5,
        ),
        _section(_("Flags")),
        _table(
            [_("First seen"), _("Rule"), _("Severity"), _("Finding"), _("kg"), _("Case")],
            [
                [
                    china_time(f.first_seen_at),
                    _label(RULE_LABELS, f.rule),
                    _label(SEVERITY_LABELS, f.severity.value),
                    f.summary,
                    kg(f.quantity_kg),
                    _case_status(f) + (f" / {_finding(f)}" if f.case_finding else ""),
                ]
                for f in flags
            ],
            [24 * mm, 30 * mm, 16 * mm, WIDTH - 126 * mm, 20 * mm, 36 * mm],
        ),
    ]
    return _build(_("Enterprise dossier: %(name)s", name=org.name), story)
