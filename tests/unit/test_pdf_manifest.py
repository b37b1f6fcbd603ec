"""The manifest PDF renderer without a database: formatting rules, signatures, and a worst-case
manifest (50 lines, every text at or beyond its limit, markup characters) that must come out
as numbered pages with nothing outside the printable area and the QR still readable."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pypdfium2
import pytest
import zxingcpp
from pypdf import PdfReader

from hazwaste.accounts.models import Organization, User
from hazwaste.documents.manifest_pdf import (
    LABELS,
    MARGIN,
    PAGE_WIDTH,
    PrintContext,
    china_time,
    kg,
    render_manifest_pdf,
    signatures,
    text,
)
from hazwaste.manifests.models import (
    EventKind,
    LineDecision,
    Manifest,
    ManifestEvent,
    ManifestLine,
    ManifestStatus,
    PhysicalForm,
)

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
URL = "https://hazwaste.example.cn/m/WzEsIjIwMjYxNTA2MDAwMDAxIl0.AQzPEFOQI_l3jIfOe_5WQWNza4"


def org(name: str, uscc: str) -> Organization:
    return Organization(
        name=name,
        uscc=uscc,
        address="内蒙古自治区鄂尔多斯市鄂托克旗棋盘井工业园区纬三路8号",
        contact_phone="0477-8000000",
        region_code="150624",
    )


def event(
    kind: EventKind, at: datetime, actor: User, note: str = "", **kw: object
) -> ManifestEvent:
    fields: dict[str, object] = {
        "latitude": None,
        "longitude": None,
        "accuracy_m": None,
        "position_note": "not_requested",
        "payload": "{}",
        "total_kg": None,
    }
    fields.update(kw)
    return ManifestEvent(
        kind=kind, occurred_at=at, actor=actor, actor_org=actor.organization, note=note, **fields
    )


def build(
    *,
    lines: int = 2,
    status: ManifestStatus = ManifestStatus.SUBMITTED,
    long_texts: bool = False,
) -> Manifest:
    producer = org("鄂尔多斯市恒源煤化工有限公司", "91150624MA0N8C3K7H")
    carrier = org("鄂尔多斯市安驰危险货物运输有限公司", "91150602MA0Q4TR51W")
    receiver = org("鄂尔多斯市绿源环保科技有限公司", "91150621MA0PWX2D49")
    clerk = User(name="张伟", organization=producer)
    driver = User(name="李建国", organization=carrier)
    checker = User(name="陈静", organization=receiver)
    name = "废矿物油" + ("与含矿物油废物<script>&amp;" * 12 + "X" * 60 if long_texts else "")
    manifest = Manifest(
        number="20261506000001",
        status=status,
        planned_date=date(2026, 11, 21),
        receipt_due_date=None,
        catalog_edition="2021",
        emergency_measures=(
            ("泄漏时立即停车，用吸附棉围堵，报告119。<b>不要</b>用水冲洗 & 通知移出人。\n" * 60)
            + "END-OF-MEASURES"
            if long_texts
            else "泄漏时用吸附棉围堵，报告119。"
        ),
        producer=producer,
        carrier=carrier,
        receiver=receiver,
        created_by=clerk,
    )
    for n in range(1, lines + 1):
        manifest.lines.append(
            ManifestLine(
                line_no=n,
                waste_code=f"900-{n:03d}-08",
                waste_name=name[:200],
                physical_form=PhysicalForm.SEMI_SOLID,
                hazards="T,I,C,R",
                packaging=("200L铁桶" * 20)[:100] if long_texts else "200L铁桶",
                container_count=n,
                declared_kg=Decimal("1800.5"),
                loaded_kg=Decimal("1800.500") if status is not ManifestStatus.SUBMITTED else None,
                received_kg=Decimal("1782.495") if long_texts else None,
                accepted_kg=Decimal("1000") if long_texts else None,
                rejected_kg=Decimal("782.495") if long_texts else None,
                decision=LineDecision.PARTIAL if long_texts else None,
                rejection_reason=("含水率超标<&>" * 200)[:1000] if long_texts else "",
                disposed_kg=None,
                disposal_method=None,
                disposal_date=None,
            )
        )
    manifest.events.append(event(EventKind.CREATED, T0 - timedelta(hours=1), clerk))
    manifest.events.append(
        event(EventKind.SUBMITTED, T0, clerk, total_kg=manifest.declared_total_kg)
    )
    if status is not ManifestStatus.SUBMITTED:
        manifest.events.append(
            event(
                EventKind.PICKED_UP,
                T0 + timedelta(hours=2),
                driver,
                latitude=39.348,
                longitude=106.959,
                accuracy_m=12.0,
                position_note="",
                total_kg=Decimal("1800.5") * lines,
            )
        )
    if long_texts:
        for i in range(8):
            manifest.events.append(
                event(EventKind.CORRECTED, T0 + timedelta(minutes=i), clerk, "更正说明" * 250)
            )
        # Longer than any form accepts, and taller than a page in its narrow column: the
        # row must split across pages instead of failing the whole document.
        manifest.events.append(event(EventKind.CORRECTED, T0, checker, "超长说明" * 1500))
    return manifest


def context() -> PrintContext:
    return PrintContext(
        scan_url=URL,
        licence_numbers=["蒙危险废经第150621001号"],
        carrier_permit_numbers=["蒙交运管许可鄂字150602000871号"],
        driver_name="李建国",
        driver_qualification="150603120817",
        vehicle_plate="蒙K5B120",
    )


def test_quantities_are_exact_decimals_with_at_most_three_places():
    assert kg(Decimal("1800.5")) == "1800.5"
    assert kg(Decimal("1800.500")) == "1800.5"
    assert kg(Decimal("1000")) == "1000"  # not 1E+3
    assert kg(Decimal("0.001")) == "0.001"
    assert kg(Decimal("-18.005")) == "-18.005"
    assert kg(Decimal("0")) == "0"
    assert kg(None) == ""
    with pytest.raises(TypeError):
        kg(1800.5)  # type: ignore[arg-type]


def test_user_text_is_escaped_for_paragraph_markup():
    assert text("<b>A & B</b>") == "&lt;b&gt;A &amp; B&lt;/b&gt;"
    assert text("第一行\r\n第二行\n第三行") == "第一行<br/>第二行<br/>第三行"


def test_times_are_china_time():
    assert china_time(T0) == "2026-11-20 10:00"
    assert china_time(None) == ""


def test_signature_blocks_blank_until_each_step():
    submitted = signatures(build())
    assert [s.title for s in submitted] == ["移出人", "承运人", "接受人", "利用处置"]
    assert submitted[0].signed and submitted[0].name == "张伟"
    assert submitted[0].organization == "鄂尔多斯市恒源煤化工有限公司"
    assert submitted[0].time == "2026-11-20 10:00"
    assert not any(s.signed for s in submitted[1:])
    picked = signatures(build(status=ManifestStatus.IN_TRANSIT))
    assert picked[1].name == "李建国" and picked[1].time == "2026-11-20 12:00"
    assert picked[1].organization == "鄂尔多斯市安驰危险货物运输有限公司"
    assert not picked[2].signed and not picked[3].signed


def test_every_code_has_a_label():
    for status in ManifestStatus:
        assert f"status.{status.value}" in LABELS
    for kind in EventKind:
        assert f"event.{kind.value}" in LABELS
    for form in PhysicalForm:
        assert f"form.{form.value}" in LABELS
    for decision in LineDecision:
        assert f"decision.{decision.value}" in LABELS


def test_worst_case_manifest_pages_are_numbered_and_nothing_leaves_the_page():
    data = render_manifest_pdf(build(lines=50, long_texts=True), context())
    reader = PdfReader(io.BytesIO(data))
    pages = len(reader.pages)
    assert pages > 3
    texts = [page.extract_text() for page in reader.pages]
    for number, page_text in enumerate(texts, start=1):
        assert f"第 {number} 页 / 共 {pages} 页" in page_text
    # Without the footers, so that a text split across pages reads as one.
    flat = "".join(
        "".join(
            line for line in t.split("\n") if " · 联单编号 " not in line and "页 / 共" not in line
        )
        for t in texts
    )
    for n in range(1, 51):
        assert f"900-{n:03d}-08" in flat
    assert "END-OF-MEASURES" in flat  # the long emergency text is complete
    assert "<b>不要</b>用水冲洗 & 通知移出人" in flat  # markup printed, not interpreted
    assert "含水率超标<&>" in flat
    # The row taller than a page is split, not cut: all of it is there once the history
    # header repeated on each continuation page is taken out.
    # (pypdf may read a wrapped line's end as a space).
    history = flat.replace("时间事件操作人单位位置重量（kg）说明", "").replace(" ", "")
    assert history.count("超长说明") == 1500

    document = pypdfium2.PdfDocument(data)
    for index, page in enumerate(document):
        textpage = page.get_textpage()
        for char in range(textpage.count_chars()):
            left, bottom, right, top = textpage.get_charbox(char)
            if right - left == 0:
                continue  # line breaks and spaces pdfium synthesises
            assert left >= MARGIN - 1 and right <= PAGE_WIDTH - MARGIN + 1, (index, char)
            assert bottom >= 0 and top <= page.get_height(), (index, char)
    first = document[0].render(scale=200 / 72).to_pil()
    assert [r.text for r in zxingcpp.read_barcodes(first)] == [URL]
