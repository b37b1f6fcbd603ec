"""The manifest PDF (危险废物转移联单): A4, embedded CJK font, QR code, signatures, history.

The form is an official Chinese document whatever the reader's language, so every fixed
text is the official Chinese wording kept in one mapping, :data:`LABELS` (headings carry a
small English gloss). Nothing here touches the database: :func:`render_manifest_pdf` reads
the manifest's loaded attributes plus a :class:`PrintContext` the caller assembles
(see :mod:`hazwaste.documents.services`).

Chinese glyphs come from the bundled WenQuanYi Micro Hei TrueType font, registered once per
process and embedded (subset) in every PDF; reportlab's ``STSong-Light`` CID font is never
used because it is not embedded and renders blank on machines without Chinese fonts.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache, partial
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    Image,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from hazwaste.documents.qr import qr_png
from hazwaste.manifests.models import EventKind, Manifest, ManifestEvent, ManifestStatus

FONT = "WQYMicroHei"
FONT_FILE = Path(__file__).resolve().parent.parent / "fonts" / "wqy-microhei.ttc"
CHINA = ZoneInfo("Asia/Shanghai")

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 14 * mm
WIDTH = PAGE_WIDTH - 2 * MARGIN  # 182 mm of content
TOP, BOTTOM = 12 * mm, 16 * mm  # the footer lives in the bottom margin
FRAME_HEIGHT = PAGE_HEIGHT - TOP - BOTTOM
GRID = colors.HexColor("#7a7f87")
SHADE = colors.HexColor("#eef1f5")
MUTED = colors.HexColor("#5b6270")
ALERT = colors.HexColor("#b3261e")
BLANK = "_" * 16  # the line a signer would write on, before the step has happened
LONG_TEXT = 60  # characters above which a note gets full-width rows under its table row
CHUNK = 400  # characters per full-width row (about six lines)

#: Every fixed text of the form. Keys ending in ``_en`` are the small English glosses.
LABELS: dict[str, str] = {
    "title": "危险废物转移联单",
    "title_en": "Hazardous waste transfer manifest",
    "number": "联单编号",
    "status": "联单状态",
    "planned_date": "计划转移日期",
    "receipt_due": "接收期限",
    "receipt_due_pending": "运抵后5个工作日内",
    "catalog": "废物名录版本",
    "scan": "扫码查验",
    "times_note": "本联单时间均为北京时间",
    "parties": "交接单位",
    "parties_en": "Parties",
    "producer": "移出人",
    "producer_sub": "（产生单位）",
    "carrier": "承运人",
    "carrier_sub": "（运输单位）",
    "receiver": "接受人",
    "receiver_sub": "（接收单位）",
    "org_name": "单位名称",
    "uscc": "统一社会信用代码",
    "address": "地址",
    "phone": "联系电话",
    "contact": "经办人",
    "carrier_permit": "道路危险货物运输许可证号",
    "plate": "车牌号",
    "driver": "驾驶员",
    "qualification": "从业资格证号",
    "licence": "危险废物经营许可证编号",
    "lines": "危险废物信息",
    "lines_en": "Waste",
    "line_no": "序号",
    "waste_code": "废物代码",
    "waste_name": "废物名称",
    "category": "废物类别",
    "form": "物理形态",
    "hazards": "危险特性",
    "packaging": "包装方式",
    "containers": "件",
    "quantity": "数量（kg）",
    "declared": "申报量",
    "loaded": "装车量",
    "received": "接收量",
    "accepted": "接受量",
    "rejected": "拒收量",
    "total": "合计",
    "receipt": "接收与利用处置",
    "receipt_en": "Receipt and disposal",
    "discrepancy": "接收差异（接收量−装车量）",
    "decision": "接收意见",
    "rejection_reason": "拒收原因",
    "disposal_method": "利用处置方式",
    "disposed": "利用处置量（kg）",
    "disposal_date": "利用处置日期",
    "emergency": "突发环境事件防范措施",
    "emergency_en": "Emergency measures",
    "signatures": "交接确认",
    "signatures_en": "Signatures",
    "sign_producer": "移出人",
    "sign_carrier": "承运人",
    "sign_receiver": "接受人",
    "sign_disposal": "利用处置",
    "sign_name": "签名",
    "sign_org": "单位",
    "sign_time": "时间",
    "sign_arrival": "运抵",
    "electronic": "（电子签名）",
    "history": "流转记录",
    "history_en": "Event history",
    "h_time": "时间",
    "h_event": "事件",
    "h_actor": "操作人",
    "h_org": "单位",
    "h_position": "位置",
    "h_quantity": "重量（kg）",
    "h_note": "说明",
    "page": "第 {page} 页 / 共 {pages} 页",
    "none": "—",
    # statuses
    "status.draft": "草稿",
    "status.submitted": "已提交",
    "status.in_transit": "运输中",
    "status.delivered": "已运抵",
    "status.received": "已接收",
    "status.completed": "已完成",
    "status.cancelled": "已作废",
    "status.rejected": "已拒收",
    # physical forms
    "form.solid": "固态",
    "form.liquid": "液态",
    "form.semi_solid": "半固态",
    "form.gas": "气态",
    # hazard characteristics
    "hazard.T": "毒性",
    "hazard.C": "腐蚀性",
    "hazard.I": "易燃性",
    "hazard.R": "反应性",
    "hazard.In": "感染性",
    # line decisions
    "decision.accept": "接收",
    "decision.partial": "部分拒收",
    "decision.reject": "拒收",
    # events
    "event.created": "创建草稿",
    "event.edited": "编辑草稿",
    "event.submitted": "提交联单",
    "event.picked_up": "装车提货",
    "event.delivered": "运抵接收单位",
    "event.received": "接收",
    "event.rejected": "拒收",
    "event.disposed": "利用处置",
    "event.cancelled": "作废",
    "event.corrected": "更正",
    # why an event has no position
    "position.denied": "用户拒绝定位",
    "position.unavailable": "无定位",
    "position.timeout": "定位超时",
    "position.not_requested": "未定位（电脑）",
    "position.unsupported": "设备不支持定位",
    # corrected fields (lifecycle.CORRECTABLE_FIELDS / CORRECTABLE_LINE_FIELDS)
    "field.planned_date": "计划转移日期",
    "field.vehicle_id": "车辆",
    "field.driver_id": "驾驶员",
    "field.emergency_measures": "突发环境事件防范措施",
    "field.waste_name": "废物名称",
    "field.packaging": "包装方式",
    "field.container_count": "件数",
    "field.declared_kg": "申报量（kg）",
    "corrected": "已更正",
    "correction_line": "第{line}行",
}


def label(key: str) -> str:
    """The fixed Chinese text for ``key`` (a missing key is a programming error: KeyError)."""
    return LABELS[key]


def coded(prefix: str, value: str | None) -> str:
    """The Chinese label of a stored code, or the code itself when the mapping lacks it."""
    if not value:
        return ""
    return LABELS.get(f"{prefix}.{value}", value)


@dataclass(frozen=True)
class PrintContext:
    """What the form shows that is not an attribute of the manifest itself.

    ``scan_url`` is the signed URL in the QR code; the numbers are the receiver's licences
    covering the lines and the carrier's transport permits, both on the planned date.
    """

    scan_url: str
    licence_numbers: Sequence[str] = ()
    carrier_permit_numbers: Sequence[str] = ()
    driver_name: str = ""
    driver_qualification: str = ""
    vehicle_plate: str = ""
    method_names: dict[str, str] = field(default_factory=dict)


# -- font and formatting --------------------------------------------------------------------


@cache
def register_font() -> str:
    """Register the bundled TrueType CJK font once per process; reportlab embeds a subset of
    the glyphs each PDF uses (``FontFile2``)."""
    pdfmetrics.registerFont(TTFont(FONT, str(FONT_FILE), subfontIndex=0))
    return FONT


@cache
def _styles() -> dict[str, ParagraphStyle]:
    font = register_font()
    # CJK word wrap breaks between any two characters: Chinese has no spaces, and a long
    # Latin token (a URL, a licence number) must not run out of its cell either.
    base = ParagraphStyle("base", fontName=font, fontSize=8, leading=10.5, wordWrap="CJK")
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7, leading=9),
        "tiny": ParagraphStyle("tiny", parent=base, fontSize=6, leading=7.5, textColor=MUTED),
        "num": ParagraphStyle("num", parent=base, alignment=TA_RIGHT),
        "head": ParagraphStyle("head", parent=base, fontSize=7.5, leading=9.5),
        "head_c": ParagraphStyle("head_c", parent=base, fontSize=7.5, leading=9.5, alignment=1),
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=22, alignment=TA_CENTER),
        "subtitle": ParagraphStyle(
            "subtitle", parent=base, fontSize=8, leading=10, alignment=TA_CENTER, textColor=MUTED
        ),
        "number": ParagraphStyle("number", parent=base, fontSize=11, leading=13),
        "section": ParagraphStyle(
            "section", parent=base, fontSize=10.5, leading=13, spaceBefore=7, spaceAfter=3
        ),
        "center": ParagraphStyle("center", parent=base, fontSize=6.5, leading=8, alignment=1),
    }


def text(value: object) -> str:
    """User data as Paragraph markup: escaped (``<`` or ``&`` in a note must not break the
    document) with line breaks kept."""
    return escape(str(value)).replace("\r\n", "\n").replace("\n", "<br/>")


def kg(value: Decimal | None) -> str:
    """A quantity in kg: exact, at most three decimals (grams), no exponent, no float."""
    if value is None:
        return ""
    if not isinstance(value, Decimal):
        raise TypeError(f"quantities are Decimal, not {type(value).__name__}")
    return format(value.quantize(Decimal("0.001")).normalize(), "f")


def signed_kg(value: Decimal) -> str:
    """A weight difference: ``+12.5``, ``-8``, ``0``."""
    return ("+" if value > 0 else "") + kg(value)


def signed(value: Decimal) -> str:
    """A percentage as computed (two places): ``+0.50``, ``-1.00``, ``0.00``."""
    return ("+" if value > 0 else "") + format(value, "f")


def china_time(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def hazards_text(codes: Iterable[str]) -> str:
    return "、".join(f"{coded('hazard', c)}({c})" for c in codes)


def _heading(key: str) -> list[Flowable]:
    """A section heading, moved to the next page with its section when fewer than ~3 rows
    would follow it on this one (a heading alone at the foot of a page)."""
    gloss = LABELS.get(f"{key}_en")
    extra = f'　<font size="7" color="#5b6270">{gloss}</font>' if gloss else ""
    return [CondPageBreak(25 * mm), Paragraph(label(key) + extra, _styles()["section"])]


class _Table(Table):
    """A table that splits inside a row only when that row cannot fit on any page.

    reportlab's ``splitInRow`` would otherwise also cut an ordinary row in two to fill the
    bottom of a page; without it, a row taller than a page (a 4000-character text) would
    stop the whole document with a LayoutError.
    """

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        self._calc(availWidth, availHeight)
        heights = self._rowHeights
        head = self.repeatRows if isinstance(self.repeatRows, int) else len(self.repeatRows)
        first = heights[head] if len(heights) > head else 0
        self.splitInRow = 1 if first > FRAME_HEIGHT - sum(heights[:head]) else 0
        return super().split(availWidth, availHeight)


def _grid(
    rows: list[list[Any]],
    widths: Sequence[float],
    *,
    header_rows: int = 0,
    extra: Sequence[tuple[Any, ...]] = (),
    split_rows: bool = False,
) -> Table:
    """A ruled table; header rows repeat on each page. Rows split across pages when they
    are taller than a page, or always with ``split_rows`` (running text)."""
    table = (Table if split_rows else _Table)(
        rows, colWidths=list(widths), repeatRows=header_rows, splitInRow=1
    )
    style: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.4, GRID),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2.5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    if header_rows:
        style.append(("BACKGROUND", (0, 0), (-1, header_rows - 1), SHADE))
    table.setStyle(TableStyle([*style, *extra]))
    return table


# -- sections -------------------------------------------------------------------------------


def _header(manifest: Manifest, ctx: PrintContext) -> Table:
    s = _styles()
    status = coded("status", manifest.status.value)
    if manifest.status in (ManifestStatus.CANCELLED, ManifestStatus.REJECTED):
        status = f'<font color="#b3261e">{status}</font>'
    due = (
        manifest.receipt_due_date.isoformat()
        if manifest.receipt_due_date
        else label("receipt_due_pending")
    )
    facts = Table(
        [
            [Paragraph(label("number"), s["base"]), Paragraph(manifest.number or "", s["number"])],
            [Paragraph(label("status"), s["base"]), Paragraph(status, s["base"])],
            [
                Paragraph(label("planned_date"), s["base"]),
                Paragraph(manifest.planned_date.isoformat(), s["base"]),
            ],
            [Paragraph(label("receipt_due"), s["base"]), Paragraph(due, s["base"])],
            [
                Paragraph(label("catalog"), s["base"]),
                Paragraph(text(manifest.catalog_edition), s["base"]),
            ],
        ],
        colWidths=[26 * mm, 62 * mm],
        style=TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, -1), 0.3, GRID),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 2),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        ),
    )
    title = [
        Paragraph(label("title"), s["title"]),
        Paragraph(label("title_en"), s["subtitle"]),
        Spacer(1, 5),
        facts,
        Spacer(1, 2),
        Paragraph(label("times_note"), s["tiny"]),
    ]
    qr_side = 36 * mm
    qr = [
        Image(io.BytesIO(qr_png(ctx.scan_url, box_size=8)), width=qr_side, height=qr_side),
        Paragraph(label("scan"), s["center"]),
        Paragraph(text(ctx.scan_url), s["tiny"]),
    ]
    head = Table(
        [[title, qr]],
        colWidths=[WIDTH - 44 * mm, 44 * mm],
        style=TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (1, 0), (1, 0), "CENTER"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        ),
    )
    return head


def _parties(manifest: Manifest, ctx: PrintContext) -> Table:
    s = _styles()

    def p(value: str, style: str = "base") -> Paragraph:
        return Paragraph(value, s[style])

    def party_title(key: str) -> Paragraph:
        return p(f"{label(key)}<br/>{label(key + '_sub')}", "head")

    def org_rows(key: str, org: Any) -> list[list[Any]]:
        return [
            [party_title(key), p(label("org_name"), "head"), p(text(org.name)), "", ""],
            [
                "",
                p(label("uscc"), "head"),
                p(text(org.uscc)),
                p(label("phone"), "head"),
                p(text(org.contact_phone or label("none"))),
            ],
            ["", p(label("address"), "head"), p(text(org.address)), "", ""],
        ]

    permits = "、".join(ctx.carrier_permit_numbers) or label("none")
    licences = "、".join(ctx.licence_numbers) or label("none")
    driver = ctx.driver_name or label("none")
    rows = [
        *org_rows("producer", manifest.producer),
        ["", p(label("contact"), "head"), p(text(manifest.created_by.name)), "", ""],
        *org_rows("carrier", manifest.carrier),
        ["", p(label("carrier_permit"), "head"), p(text(permits)), "", ""],
        [
            "",
            p(label("plate"), "head"),
            p(text(ctx.vehicle_plate or label("none"))),
            p(label("driver"), "head"),
            p(text(driver)),
        ],
        [
            "",
            p(label("qualification"), "head"),
            p(text(ctx.driver_qualification or label("none"))),
            "",
            "",
        ],
        *org_rows("receiver", manifest.receiver),
        ["", p(label("licence"), "head"), p(text(licences)), "", ""],
    ]
    spans: list[tuple[Any, ...]] = []
    for start, end in ((0, 3), (4, 9), (10, 13)):
        spans.append(("SPAN", (0, start), (0, end)))
        spans.append(("BACKGROUND", (0, start), (0, end), SHADE))
    for row_index in (0, 2, 3, 4, 6, 7, 9, 10, 12, 13):
        spans.append(("SPAN", (2, row_index), (4, row_index)))
    return _grid(rows, [20 * mm, 34 * mm, 64 * mm, 20 * mm, 44 * mm], extra=spans)


LINE_WIDTHS = [6 * mm, 17 * mm, 25 * mm, 10 * mm, 11.5 * mm, 16 * mm, 18.5 * mm] + [15.6 * mm] * 5
QUANTITY_KEYS = ("declared", "loaded", "received", "accepted", "rejected")


def _lines(manifest: Manifest) -> Table:
    s = _styles()
    head = [
        Paragraph(label(k), s["head"])
        for k in ("line_no", "waste_code", "waste_name", "category", "form", "hazards")
    ]
    rows: list[list[Any]] = [
        [*head, Paragraph(label("packaging"), s["head"]), Paragraph(label("quantity"), s["head_c"])]
        + [""] * 4,
        [""] * 7 + [Paragraph(label(k), s["head_c"]) for k in QUANTITY_KEYS],
    ]
    totals: dict[str, Decimal | None] = dict.fromkeys(QUANTITY_KEYS)
    for ln in manifest.lines:
        amounts = {
            "declared": ln.declared_kg,
            "loaded": ln.loaded_kg,
            "received": ln.received_kg,
            "accepted": ln.accepted_kg,
            "rejected": ln.rejected_kg,
        }
        for key, amount in amounts.items():
            if amount is not None:
                totals[key] = (totals[key] or Decimal(0)) + amount
        rows.append(
            [
                Paragraph(str(ln.line_no), s["base"]),
                Paragraph(text(ln.waste_code), s["base"]),
                Paragraph(text(ln.waste_name), s["base"]),
                Paragraph("HW" + text(ln.waste_code[-2:]), s["base"]),
                Paragraph(coded("form", ln.physical_form.value), s["base"]),
                Paragraph(text(hazards_text(ln.hazard_list)), s["small"]),
                Paragraph(
                    f"{text(ln.packaging)}<br/>{ln.container_count} {label('containers')}",
                    s["base"],
                ),
                *[Paragraph(kg(amounts[k]), s["num"]) for k in QUANTITY_KEYS],
            ]
        )
    rows.append(
        [Paragraph(label("total"), s["head"])]
        + [""] * 6
        + [Paragraph(kg(totals[k]), s["num"]) for k in QUANTITY_KEYS]
    )
    extra = [
        ("SPAN", (7, 0), (11, 0)),
        *[("SPAN", (col, 0), (col, 1)) for col in range(7)],
        ("SPAN", (0, -1), (6, -1)),
        ("BACKGROUND", (0, -1), (-1, -1), SHADE),
    ]
    return _grid(rows, LINE_WIDTHS, header_rows=2, extra=extra)


def _receipt(manifest: Manifest, ctx: PrintContext) -> Table:
    s = _styles()
    rows: list[list[Any]] = [
        [
            Paragraph(label(k), s["head"])
            for k in (
                "line_no",
                "discrepancy",
                "decision",
                "rejection_reason",
                "disposal_method",
                "disposed",
                "disposal_date",
            )
        ]
    ]
    spans: list[tuple[Any, ...]] = []
    for ln in manifest.lines:
        gap = ln.discrepancy_kg
        pct = ln.discrepancy_pct
        gap_text = ""
        if gap is not None:
            gap_text = signed_kg(gap) + (f"（{signed(pct)}%）" if pct is not None else "")
        method = ""
        if ln.disposal_method:
            name = ctx.method_names.get(ln.disposal_method, "")
            method = text(ln.disposal_method) + (f" {text(name)}" if name else "")
        reason = ln.rejection_reason
        long_reason = len(reason) > LONG_TEXT
        rows.append(
            [
                Paragraph(str(ln.line_no), s["base"]),
                Paragraph(gap_text, s["num"]),
                Paragraph(coded("decision", ln.decision.value if ln.decision else None), s["base"]),
                Paragraph("" if long_reason else text(reason), s["small"]),
                Paragraph(method, s["small"]),
                Paragraph(kg(ln.disposed_kg), s["num"]),
                Paragraph(ln.disposal_date.isoformat() if ln.disposal_date else "", s["base"]),
            ]
        )
        if long_reason:
            _long_text_rows(rows, spans, label("rejection_reason"), reason, 7)
    widths = [7 * mm, 30 * mm, 16 * mm, 47 * mm, 40 * mm, 20 * mm, 22 * mm]
    return _grid(rows, widths, header_rows=1, extra=spans)


def _emergency(manifest: Manifest) -> Table:
    body = text(manifest.emergency_measures.strip()) or label("none")
    return _grid([[Paragraph(body, _styles()["base"])]], [WIDTH], split_rows=True)


SIGNATURE_STEPS = (
    ("sign_producer", (EventKind.SUBMITTED,)),
    ("sign_carrier", (EventKind.PICKED_UP,)),
    ("sign_receiver", (EventKind.RECEIVED, EventKind.REJECTED)),
    ("sign_disposal", (EventKind.DISPOSED,)),
)


@dataclass(frozen=True)
class Signature:
    """One signature block: who signed the step, for which organization, when (or blanks)."""

    title: str
    name: str = ""
    organization: str = ""
    time: str = ""
    remark: str = ""

    @property
    def signed(self) -> bool:
        return bool(self.name)


def signatures(manifest: Manifest) -> list[Signature]:
    """The four blocks — 移出人, 承运人, 接受人, 利用处置 — from the first event of each step
    (a later correction is a separate event and does not re-sign)."""
    first: dict[EventKind, ManifestEvent] = {}
    for each in manifest.events:
        first.setdefault(each.kind, each)
    blocks = []
    for key, kinds in SIGNATURE_STEPS:
        event = next((first[k] for k in kinds if k in first), None)
        remark = ""
        if key == "sign_carrier" and EventKind.DELIVERED in first:
            delivered = first[EventKind.DELIVERED]
            remark = f"{label('sign_arrival')} {china_time(delivered.occurred_at)}"
        if event is not None and event.kind is EventKind.REJECTED:
            remark = coded("event", EventKind.REJECTED.value)
        if event is None:
            blocks.append(Signature(label(key), remark=remark))
            continue
        blocks.append(
            Signature(
                label(key),
                event.actor.name,
                event.actor_org.name if event.actor_org else "",
                china_time(event.occurred_at),
                remark,
            )
        )
    return blocks


def _signatures(manifest: Manifest) -> Table:
    s = _styles()
    blocks = signatures(manifest)

    def line(key: str, value: str, suffix: str = "") -> Paragraph:
        shown = text(value) + suffix if value else BLANK
        return Paragraph(f'<font color="#5b6270">{label(key)}：</font>{shown}', s["base"])

    rows = [
        [Paragraph(b.title, s["head"]) for b in blocks],
        [line("sign_name", b.name, label("electronic")) for b in blocks],
        [line("sign_org", b.organization) for b in blocks],
        [line("sign_time", b.time) for b in blocks],
        [Paragraph(text(b.remark), s["small"]) for b in blocks],
    ]
    # One box per party, like the paper form's signature fields: no rules between lines.
    style: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("BACKGROUND", (0, 0), (-1, 0), SHADE),
        ("LINEBELOW", (0, 0), (-1, 0), 0.4, GRID),
        *[("BOX", (col, 0), (col, -1), 0.4, GRID) for col in range(len(blocks))],
    ]
    return Table(rows, colWidths=[WIDTH / len(blocks)] * len(blocks), style=TableStyle(style))


def _event_note(event: ManifestEvent) -> str:
    """The event's note as plain text; for a correction, each changed field old → new."""
    if event.kind is not EventKind.CORRECTED:
        return event.note
    try:
        changes = json.loads(event.payload).get("changes", {})
    except (ValueError, AttributeError):
        changes = {}
    parts = [event.note] if event.note else []
    for key, values in changes.items() if isinstance(changes, dict) else ():
        # line fields are keyed "line <no> <field>" by lifecycle.correct
        is_line = key.startswith("line ") and key.count(" ") == 2
        line_no, name = key.split(" ", 2)[1:] if is_line else ("", key)
        where = LABELS["correction_line"].format(line=line_no) if line_no else ""
        field_label = where + coded("field", name)
        if name == "emergency_measures" or not isinstance(values, list) or len(values) != 2:
            parts.append(f"{field_label}{label('corrected')}")  # the new text is printed above
        else:
            parts.append(f"{field_label}：{values[0]} → {values[1]}")
    return "\n".join(parts)


def chunks(plain: str, size: int = CHUNK) -> list[str]:
    """``plain`` in pieces of at most ``size`` characters, cut at line breaks where possible.

    A long note becomes several table rows, each short enough to move whole to the next
    page: reportlab cannot split a row whose cell spans columns.
    """
    pieces: list[str] = []
    current = ""
    for line in plain.splitlines() or [""]:
        while len(line) > size:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:size])
            line = line[size:]
        if current and len(current) + 1 + len(line) > size:
            pieces.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current or not pieces:
        pieces.append(current)
    return pieces


def _long_text_rows(
    rows: list[list[Any]], style: list[tuple[Any, ...]], title: str, plain: str, columns: int
) -> None:
    """Append ``plain`` under the current row as full-width rows (a narrow column would make
    it a tower of a few characters per line), with no rules between its pieces."""
    for index, piece in enumerate(chunks(plain)):
        prefix = f'<font color="#5b6270">{title}：</font>' if index == 0 else ""
        rows.append([Paragraph(prefix + text(piece), _styles()["small"])] + [""] * (columns - 1))
        row = len(rows) - 1
        style.append(("SPAN", (0, row), (-1, row)))
        if index:
            style.append(("LINEABOVE", (0, row), (-1, row), 0.6, colors.white))


def _history(manifest: Manifest) -> Table:
    s = _styles()
    rows: list[list[Any]] = [
        [
            Paragraph(label(k), s["head"])
            for k in ("h_time", "h_event", "h_actor", "h_org", "h_position", "h_quantity", "h_note")
        ]
    ]
    spans: list[tuple[Any, ...]] = []
    for e in manifest.events:
        if e.latitude is not None and e.longitude is not None:
            where = f"{e.latitude:.5f}, {e.longitude:.5f}"
            if e.accuracy_m is not None:
                where += f"（±{e.accuracy_m:.0f} m）"
        else:
            where = coded("position", e.position_note)
        note = _event_note(e)
        long_note = len(note) > LONG_TEXT
        rows.append(
            [
                Paragraph(china_time(e.occurred_at), s["small"]),
                Paragraph(coded("event", e.kind.value), s["base"]),
                Paragraph(text(e.actor.name), s["base"]),
                Paragraph(text(e.actor_org.name if e.actor_org else ""), s["small"]),
                Paragraph(text(where), s["small"]),
                Paragraph(kg(e.total_kg), s["num"]),
                Paragraph("" if long_note else text(note), s["small"]),
            ]
        )
        if long_note:
            _long_text_rows(rows, spans, label("h_note"), note, 7)
    widths = [23 * mm, 20 * mm, 16 * mm, 44 * mm, 27 * mm, 17 * mm, WIDTH - 147 * mm]
    return _grid(rows, widths, header_rows=1, extra=spans)


# -- page furniture -------------------------------------------------------------------------


class _NumberedCanvas(Canvas):
    """Draws the footer after the last page, when the page count ("共 M 页") is known."""

    def __init__(self, *args: Any, footer: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self._draw_footer(total)
            super().showPage()
        super().save()

    def _draw_footer(self, total: int) -> None:
        self.saveState()
        self.setFont(FONT, 7.5)
        self.setFillColor(MUTED)
        self.setStrokeColor(GRID)
        self.setLineWidth(0.3)
        self.line(MARGIN, 11 * mm, PAGE_WIDTH - MARGIN, 11 * mm)
        self.drawString(MARGIN, 7.5 * mm, self._footer)
        self.drawRightString(
            PAGE_WIDTH - MARGIN,
            7.5 * mm,
            LABELS["page"].format(page=self._pageNumber, pages=total),
        )
        self.restoreState()


def render_manifest_pdf(manifest: Manifest, ctx: PrintContext) -> bytes:
    """The whole manifest as PDF bytes (A4, any number of pages).

    Needs a manifest with a number (a draft has no QR code: the caller refuses it first).
    Reads only loaded attributes and relationships; never writes.
    """
    register_font()
    buffer = io.BytesIO()
    number = manifest.number or ""
    doc = BaseDocTemplate(
        buffer,
        pagesize=A4,
        title=f"{label('title')} {number}",
        subject=number,
        author="hazwaste",
        creator="hazwaste",
    )
    # A frame without the default 6 pt padding, so the tables' WIDTH is exactly the frame's.
    frame = Frame(
        MARGIN,
        BOTTOM,
        WIDTH,
        FRAME_HEIGHT,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )
    doc.addPageTemplates([PageTemplate(id="manifest", frames=[frame])])
    story: list[Flowable] = [
        _header(manifest, ctx),
        *_heading("parties"),
        _parties(manifest, ctx),
        *_heading("lines"),
        _lines(manifest),
    ]
    if any(ln.received_kg is not None or ln.decision is not None for ln in manifest.lines):
        story += [*_heading("receipt"), _receipt(manifest, ctx)]
    story += [
        *_heading("emergency"),
        _emergency(manifest),
        KeepTogether([*_heading("signatures"), _signatures(manifest)]),
        *_heading("history"),
        _history(manifest),
    ]
    footer = f"{label('title')} · {label('number')} {number}"
    doc.build(story, canvasmaker=partial(_NumberedCanvas, footer=footer))
    return buffer.getvalue()
