"""The manifest PDF (危险废物转移联单), A4, with the embedded CJK font and the QR code.

Labels are the official Chinese wording (an official form is Chinese whatever the user's
language), so they are fixed text here, not translations. Signature blocks fill in with the
name, organization and China time once the step has happened.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from hazwaste.documents.qr import qr_png
from hazwaste.manifests.models import EventKind, Manifest

FONT = "WQYMicroHei"
FONT_FILE = Path(__file__).resolve().parent.parent / "fonts" / "wqy-microhei.ttc"
CHINA = ZoneInfo("Asia/Shanghai")

STATUS_ZH = {
    "draft": "草稿",
    "submitted": "已提交",
    "in_transit": "运输中",
    "delivered": "已运抵",
    "received": "已接收",
    "completed": "已完成",
    "cancelled": "已作废",
    "rejected": "已拒收",
}
FORM_ZH = {"solid": "固态", "liquid": "液态", "semi_solid": "半固态", "gas": "气态"}
EVENT_ZH = {
    "created": "创建草稿",
    "edited": "编辑草稿",
    "submitted": "提交联单",
    "picked_up": "装车提货",
    "delivered": "运抵接收单位",
    "received": "接收",
    "rejected": "拒收",
    "disposed": "利用/处置",
    "cancelled": "作废",
    "corrected": "更正",
}
DECISION_ZH = {"accept": "接收", "partial": "部分拒收", "reject": "拒收"}


@cache
def register_font() -> str:
    """Register the bundled TrueType CJK font once; reportlab embeds the glyphs used."""
    pdfmetrics.registerFont(TTFont(FONT, str(FONT_FILE), subfontIndex=0))
    return FONT


def _styles() -> dict[str, ParagraphStyle]:
    font = register_font()
    base = ParagraphStyle("base", fontName=font, fontSize=8.5, leading=11)
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontSize=16, leading=20, alignment=1),
        "sub": ParagraphStyle("sub", parent=base, fontSize=8, textColor=colors.grey, alignment=1),
        "h": ParagraphStyle(
            "h", parent=base, fontSize=10.5, leading=14, spaceBefore=6, spaceAfter=3
        ),
        "small": ParagraphStyle("small", parent=base, fontSize=7, leading=9),
    }


def _kg(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def _time(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def _grid(rows: list[list[Any]], widths: list[float], header: bool = False) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("FONT", (0, 0), (-1, -1), FONT, 8.5),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f5")))
    table.setStyle(TableStyle(style))
    return table


def render_manifest_pdf(manifest: Manifest, scan_url: str, licence_numbers: list[str]) -> bytes:
    """The whole manifest as PDF bytes. ``scan_url`` goes into the QR code and under it."""
    s = _styles()
    p = lambda text: Paragraph(str(text), s["base"])  # noqa: E731 - local shorthand
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=12 * mm,
        bottomMargin=14 * mm,
        title=f"危险废物转移联单 {manifest.number}",
        author="hazwaste",
    )
    width = A4[0] - 28 * mm
    events = list(manifest.events)
    by_kind = {e.kind: e for e in events}

    qr = Image(io.BytesIO(qr_png(scan_url, box_size=6)), width=34 * mm, height=34 * mm)
    head = Table(
        [
            [
                [
                    Paragraph("危险废物转移联单", s["title"]),
                    Paragraph("Hazardous waste transfer manifest", s["sub"]),
                    Spacer(1, 4),
                    p(f"联单编号 Manifest No.: <b>{manifest.number}</b>"),
                    p(
                        "状态 Status: "
                        + STATUS_ZH.get(manifest.status.value, manifest.status.value)
                    ),
                    p(
                        f"计划转移日期: {manifest.planned_date.isoformat()}"
                        + (
                            f"　接收期限: {manifest.receipt_due_date.isoformat()}"
                            if manifest.receipt_due_date
                            else ""
                        )
                    ),
                    p(f"废物名录版本: {manifest.catalog_edition}"),
                ],
                [qr, Paragraph(scan_url, s["small"])],
            ]
        ],
        colWidths=[width - 40 * mm, 40 * mm],
    )
    head.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story: list[Any] = [head, Spacer(1, 4)]

    def party(title: str, org: Any, extra: str = "") -> list[Any]:
        return [
            p(f"<b>{title}</b>"),
            p(
                f"{org.name}<br/>统一社会信用代码: {org.uscc}<br/>"
                f"地址: {org.address}<br/>联系电话: {org.contact_phone}" + extra
            ),
        ]

    vehicle = manifest.pickup_vehicle or manifest.vehicle
    driver = (
        manifest.pickup_driver.name
        if manifest.pickup_driver
        else (manifest.driver.user.name if manifest.driver else "")
    )
    story.append(
        _grid(
            [
                party("移出人（产生单位）", manifest.producer),
                party(
                    "承运人",
                    manifest.carrier,
                    f"<br/>车牌号: {vehicle.plate if vehicle else ''}　驾驶员: {driver}",
                ),
                party(
                    "接受人（接收单位）",
                    manifest.receiver,
                    f"<br/>经营许可证编号: {'、'.join(licence_numbers)}",
                ),
            ],
            [32 * mm, width - 32 * mm],
        )
    )

    story.append(Paragraph("危险废物明细 Waste lines（单位 kg）", s["h"]))
    rows = [
        [
            p(h)
            for h in (
                "序号",
                "废物代码",
                "名称",
                "形态",
                "危险特性",
                "包装方式/数量",
                "申报量",
                "装车量",
                "接收量",
                "差异",
                "接收决定",
                "利用/处置",
            )
        ]
    ]
    for ln in manifest.lines:
        gap = ln.discrepancy_kg
        rows.append(
            [
                p(ln.line_no),
                p(ln.waste_code),
                p(f"{ln.waste_name}（HW{ln.waste_code[-2:]}）"),
                p(FORM_ZH.get(ln.physical_form.value, "")),
                p(ln.hazards),
                p(f"{ln.packaging} × {ln.container_count}"),
                p(_kg(ln.declared_kg)),
                p(_kg(ln.loaded_kg)),
                p(_kg(ln.received_kg)),
                p("" if gap is None else f"{_kg(gap)} ({ln.discrepancy_pct}%)"),
                p(
                    DECISION_ZH.get(ln.decision.value, "")
                    + (f"<br/>{ln.rejection_reason}" if ln.rejection_reason else "")
                    if ln.decision
                    else ""
                ),
                p(
                    f"{ln.disposal_method or ''} {_kg(ln.disposed_kg)}"
                    + (f"<br/>{ln.disposal_date.isoformat()}" if ln.disposal_date else "")
                ),
            ]
        )
    story.append(
        _grid(
            rows,
            [
                7 * mm,
                20 * mm,
                25 * mm,
                10 * mm,
                12 * mm,
                19 * mm,
                14 * mm,
                14 * mm,
                14 * mm,
                17 * mm,
                12 * mm,
                width - 164 * mm,
            ],
            header=True,
        )
    )

    story.append(Paragraph("突发环境事件防范措施 Emergency measures", s["h"]))
    story.append(_grid([[p(manifest.emergency_measures or "—")]], [width]))

    story.append(Paragraph("交接签字 Signatures", s["h"]))

    def signature(title: str, kind: EventKind) -> list[Any]:
        event = by_kind.get(kind)
        if event is None:
            return [p(f"<b>{title}</b>"), p("签字：________________　时间：________________")]
        org = event.actor_org.name if event.actor_org else ""
        return [
            p(f"<b>{title}</b>"),
            p(f"{event.actor.name}（{org}）　{_time(event.occurred_at)}　电子签名"),
        ]

    story.append(
        _grid(
            [
                signature("移出人", EventKind.SUBMITTED),
                signature("承运人（提货）", EventKind.PICKED_UP),
                signature("承运人（运抵）", EventKind.DELIVERED),
                signature(
                    "接受人（接收）",
                    EventKind.RECEIVED if EventKind.RECEIVED in by_kind else EventKind.REJECTED,
                ),
                signature("接受人（利用/处置）", EventKind.DISPOSED),
            ],
            [36 * mm, width - 36 * mm],
        )
    )

    story.append(Paragraph("流转记录 Event history", s["h"]))
    history = [[p(h) for h in ("时间", "事件", "操作人", "单位", "位置", "重量 kg", "说明")]]
    for e in events:
        where = (
            f"{e.latitude:.5f}, {e.longitude:.5f}"
            if e.latitude is not None
            else {
                "denied": "用户拒绝定位",
                "unavailable": "无定位",
                "timeout": "定位超时",
                "not_requested": "未定位（电脑）",
                "unsupported": "设备不支持定位",
            }.get(e.position_note, "")
        )
        note = e.note
        if e.kind is EventKind.CORRECTED:
            note = f"{note} {json.loads(e.payload).get('changes', '')}"
        history.append(
            [
                p(_time(e.occurred_at)),
                p(EVENT_ZH.get(e.kind.value, e.kind.value)),
                p(e.actor.name),
                p(e.actor_org.name if e.actor_org else ""),
                p(where),
                p(_kg(e.total_kg)),
                p(note),
            ]
        )
    story.append(
        _grid(
            history,
            [26 * mm, 20 * mm, 18 * mm, 40 * mm, 28 * mm, 18 * mm, width - 150 * mm],
            header=True,
        )
    )

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.drawString(14 * mm, 8 * mm, f"联单编号 {manifest.number} · hazwaste")
        canvas.drawRightString(A4[0] - 14 * mm, 8 * mm, f"第 {document.page} 页")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
