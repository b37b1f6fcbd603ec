"""HJ 1276-style hazardous-waste labels (危险废物标签) as PDF: one label or a sheet.

Sizes 100, 150 and 200 mm (square labels, as HJ 1276-2022 gives for containers of
increasing volume). Every field is in Chinese; the hazard characteristics are printed as
text in red-bordered boxes beside the warning triangle; the QR code carries the URL of the
container's page (``/c/<digital code>``), the code itself is printed under it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from hazwaste.documents.manifest_pdf import FONT, register_font
from hazwaste.documents.qr import qr_png
from hazwaste.ledger.models import Container

SIZES_MM = (100, 150, 200)
HAZARD_ZH = {"T": "毒性", "C": "腐蚀性", "I": "易燃性", "R": "反应性", "In": "感染性"}
FORM_ZH = {"solid": "固态", "liquid": "液态", "semi_solid": "半固态", "gas": "气态"}
PACK_ZH = {"drum": "桶", "bag": "袋", "tote": "吨桶", "tank": "罐", "box": "箱", "other": "其他"}
YELLOW = colors.HexColor("#ffd400")


def _fields(container: Container) -> list[tuple[str, str]]:
    producer = container.producer
    weight = format(Decimal(container.net_weight_kg).normalize(), "f")
    return [
        ("废物名称", container.waste_name),
        ("废物类别", f"HW{container.waste_code[-2:]}"),
        ("废物代码", container.waste_code),
        ("废物形态", FORM_ZH.get(container.physical_form.value, "")),
        ("主要成分", container.main_components or "—"),
        ("有害成分", container.harmful_components or "—"),
        ("注意事项", "防止泄漏、远离火源、专人管理"),
        ("产生/收集单位", producer.name),
        ("联系人和联系方式", producer.contact_phone or "—"),
        ("产生日期", container.generation_date.isoformat()),
        ("废物重量", f"{weight} kg（{PACK_ZH.get(container.packaging_type.value, '')}）"),
    ]


def _draw(canvas: Canvas, container: Container, url: str, x: float, y: float, size_mm: int) -> None:
    """One label with its lower-left corner at (x, y)."""
    side = size_mm * mm
    unit = side / 100  # every dimension scales with the label size
    canvas.setFillColor(YELLOW)
    canvas.setStrokeColor(colors.black)
    canvas.setLineWidth(1.2 * unit)
    canvas.rect(x, y, side, side, fill=1, stroke=1)
    canvas.setFillColor(colors.black)
    canvas.setFont(FONT, 7 * unit)
    canvas.drawCentredString(x + side / 2, y + side - 9 * unit, "危险废物")
    canvas.setLineWidth(0.4 * unit)
    canvas.line(x + 3 * unit, y + side - 11.5 * unit, x + side - 3 * unit, y + side - 11.5 * unit)
    # Fields on the left, QR and hazards on the right; text wraps by measured width.
    top = y + side - 15.5 * unit
    font_size = 3.0 * unit
    canvas.setFont(FONT, font_size)
    line_height = 4.2 * unit
    column = side - 32 * unit - 10 * unit
    row = 0
    for label, value in _fields(container):
        line = ""
        for char in f"{label}：{value}":
            if canvas.stringWidth(line + char, FONT, font_size) > column:
                canvas.drawString(x + 3 * unit, top - row * line_height, line)
                row += 1
                line = "　" + char
            else:
                line += char
        canvas.drawString(x + 3 * unit, top - row * line_height, line)
        row += 1
    qr_side = 32 * unit
    qr_x, qr_y = x + side - qr_side - 3 * unit, y + side - qr_side - 14 * unit
    canvas.setFillColor(colors.white)
    canvas.rect(qr_x - unit, qr_y - unit, qr_side + 2 * unit, qr_side + 2 * unit, fill=1, stroke=0)
    canvas.drawImage(
        ImageReader(io.BytesIO(qr_png(url, box_size=8, border=2))), qr_x, qr_y, qr_side, qr_side
    )
    canvas.setFillColor(colors.black)
    canvas.setFont(FONT, 2.6 * unit)
    canvas.drawCentredString(qr_x + qr_side / 2, qr_y - 4 * unit, "扫码查看全过程记录")
    # Hazard characteristics: triangle with "!" and one box per trait.
    tri_x, tri_y = qr_x, qr_y - 20 * unit
    canvas.setFillColor(colors.white)
    canvas.setStrokeColor(colors.red)
    canvas.setLineWidth(1 * unit)
    path = canvas.beginPath()
    path.moveTo(tri_x, tri_y)
    path.lineTo(tri_x + 14 * unit, tri_y)
    path.lineTo(tri_x + 7 * unit, tri_y + 12 * unit)
    path.close()
    canvas.drawPath(path, fill=1, stroke=1)
    canvas.setFillColor(colors.black)
    canvas.setFont(FONT, 8 * unit)
    canvas.drawCentredString(tri_x + 7 * unit, tri_y + 2 * unit, "!")
    canvas.setFont(FONT, 3.0 * unit)
    for index, hazard in enumerate(container.hazard_list[:4]):
        bx, by = tri_x + 17 * unit, tri_y + 12 * unit - (index + 1) * 6 * unit
        canvas.setStrokeColor(colors.red)
        canvas.rect(bx, by, 13 * unit, 5.2 * unit, fill=0, stroke=1)
        canvas.drawCentredString(bx + 6.5 * unit, by + 1.6 * unit, HAZARD_ZH.get(hazard, hazard))
    # The 37-character digital identification code along the bottom.
    canvas.setFont(FONT, 3.3 * unit)
    canvas.drawString(x + 3 * unit, y + 8 * unit, "数字识别码：")
    canvas.setFont("Courier-Bold", 3.4 * unit)
    canvas.drawString(x + 3 * unit, y + 3.5 * unit, container.code)


def render_labels(items: Sequence[tuple[Container, str]], size_mm: int) -> bytes:
    """Labels of ``size_mm`` for (container, URL) pairs: one per page if a single label is
    asked for, otherwise as many per A4 sheet as fit (4 of 100 mm, 1 of 150/200 mm)."""
    if size_mm not in SIZES_MM:
        raise ValueError(f"label size must be one of {SIZES_MM}")
    register_font()
    buffer = io.BytesIO()
    side = size_mm * mm
    if len(items) == 1:
        canvas = Canvas(buffer, pagesize=(side + 10 * mm, side + 10 * mm))
        canvas.setTitle(f"危险废物标签 {items[0][0].code}")
        _draw(canvas, items[0][0], items[0][1], 5 * mm, 5 * mm, size_mm)
        canvas.showPage()
        canvas.save()
        return buffer.getvalue()
    canvas = Canvas(buffer, pagesize=A4)
    canvas.setTitle("危险废物标签")
    margin = 3 * mm  # leaves room for two 100 mm labels across A4
    columns = max(1, int((A4[0] - margin) // (side + margin)))
    rows = max(1, int((A4[1] - margin) // (side + margin)))
    per_page = columns * rows
    for index, (container, url) in enumerate(items):
        slot = index % per_page
        if index and slot == 0:
            canvas.showPage()
        col, row = slot % columns, slot // columns
        x = margin + col * (side + margin)
        y = A4[1] - (row + 1) * (side + margin)
        _draw(canvas, container, url, x, y, size_mm)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
