"""Manifest PDF and QR over HTTP: the QR in the printed PDF decodes (zxing-cpp) to the scan URL
that opens the manifest, the Chinese text is in the text layer with an embedded font, the
signature blocks fill in as the manifest advances, and only those who may see the manifest
get the documents (web and API)."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pypdfium2
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from hazwaste.manifests import lifecycle
from hazwaste.manifests.tokens import scan_url
from tests.conftest import api_token, login
from tests.factories import PASSWORD, regulator
from tests.manifest_factories import make_draft, make_submitted, pickup_data, receipt_data

PRODUCER_NAME = "鄂尔多斯市恒源煤化工有限公司"
CARRIER_NAME = "鄂尔多斯市安驰危险货物运输有限公司"
DRIVER_NAME = "李建国"  # driver@demo.test


def decode_qr(image: Image.Image) -> list[str]:
    return [
        r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode
    ]


def pdf_text(data: bytes) -> str:
    """The text layer of every page in drawing order, line breaks removed: a table is drawn
    cell by cell, so a wrapped cell reads as one string."""
    reader = PdfReader(io.BytesIO(data))
    return "".join(page.extract_text() for page in reader.pages).replace("\n", "")


def section(data: bytes, start: str, end: str) -> str:
    """Text between two section headings (tables are drawn cell by cell, in order)."""
    text = pdf_text(data)
    begin = text.index(start)
    return text[begin : text.index(end, begin)]


def get_pdf(client: Any, manifest_id: int) -> bytes:
    response = client.get(f"/manifests/{manifest_id}/manifest.pdf")
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/pdf"
    return bytes(response.data)


def test_pdf_qr_decodes_to_the_scan_url_that_opens_the_manifest(app, client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "producer@demo.test")
    response = client.get(f"/manifests/{m.id}/manifest.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'inline; filename="manifest-{m.number}.pdf"'
    )
    page = pypdfium2.PdfDocument(response.data)[0]
    image = page.render(scale=200 / 72).to_pil()  # ~200 dpi, as a scanner or phone sees it
    with app.test_request_context():
        expected = scan_url(m.id, m.number)
    assert decode_qr(image) == [expected]
    # The URL is also printed under the code, for a phone that cannot scan.
    assert expected in pdf_text(response.data)
    client.post("/logout")
    assert expected.startswith("http://localhost/m/")
    verify = client.get(expected.removeprefix("http://localhost"))
    assert verify.status_code == 200
    page_text = verify.get_data(as_text=True)
    assert m.number in page_text and PRODUCER_NAME in page_text


def test_pdf_text_layer_has_the_chinese_fields_and_an_embedded_font(client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "producer@demo.test")
    data = get_pdf(client, m.id)
    reader = PdfReader(io.BytesIO(data))
    text = "".join(page.extract_text() for page in reader.pages)
    for expected in (
        "危险废物转移联单",
        "联单编号",
        m.number,
        "移出人",
        PRODUCER_NAME,
        demo.orgs["producer"].uscc,
        "承运人",
        CARRIER_NAME,
        "接受人",
        "900-249-08",
        "废矿物油",
        "HW08",
        "液态",
        "毒性",
        "200L铁桶",
        "1800.5",
        "突发环境事件防范措施",
        "泄漏时用吸附棉围堵",
        "计划转移日期",
        m.planned_date.isoformat(),
        "第 1 页 / 共 1 页",
    ):
        assert expected in text, expected
    # Every font that can carry Chinese glyphs (Type0/CID or TrueType) is embedded as
    # TrueType outlines (FontFile2); reportlab's unembedded STSong-Light would render blank.
    embedded = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            assert "STSong" not in str(font.get("/BaseFont")), font
            if font["/Subtype"] not in ("/Type0", "/TrueType"):
                continue  # base-14 Type1 (Latin only), declared by reportlab by default
            descendants = font.get("/DescendantFonts")
            descriptor = (descendants[0].get_object() if descendants else font).get(
                "/FontDescriptor"
            )
            embedded.append(descriptor is not None and "/FontFile2" in descriptor.get_object())
    assert embedded and all(embedded)


def test_signature_blocks_fill_in_as_the_manifest_advances(client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "producer@demo.test")
    before = section(get_pdf(client, m.id), "交接确认", "流转记录")
    assert "张伟（电子签名）" in before  # the producer signed by submitting
    assert DRIVER_NAME not in before and CARRIER_NAME not in before
    assert before.count("签名：" + "_" * 16) == 3  # carrier, receiver, disposal still blank

    lifecycle.pickup(
        session,
        now + timedelta(hours=1),
        m,
        demo.users["driver"],
        pickup_data(m, demo.extra["vehicles"][0].id),
    )
    session.commit()
    after = section(get_pdf(client, m.id), "交接确认", "流转记录")
    assert f"签名：{DRIVER_NAME}（电子签名）" in after and f"单位：{CARRIER_NAME}" in after
    assert "2026-11-20 11:00" in after  # 03:00 UTC is 11:00 China time
    assert after.count("签名：" + "_" * 16) == 2

    lifecycle.deliver(session, now + timedelta(hours=4), m, demo.users["driver"], {"note": ""})
    lifecycle.receive(session, now + timedelta(hours=5), m, demo.users["receiver"], receipt_data(m))
    session.commit()
    received = get_pdf(client, m.id)
    signatures = section(received, "交接确认", "流转记录")
    assert "运抵 2026-11-20 14:00" in signatures
    assert "陈静（电子签名）" in signatures  # receiver@demo.test
    assert signatures.count("签名：" + "_" * 16) == 1
    history = pdf_text(received)[pdf_text(received).index("流转记录") :]
    for event in ("创建草稿", "提交联单", "装车提货", "运抵接收单位", "接收"):
        assert event in history, event
    assert "39.34800, 106.95900" in history  # the pickup position
    assert "未定位（电脑）" in history  # the receipt had no position


def test_disposed_manifest_shows_receipt_and_disposal(client, session, now, demo):
    m = make_submitted(session, now, demo)
    driver, receiver = demo.users["driver"], demo.users["receiver"]
    lifecycle.pickup(session, now, m, driver, pickup_data(m, demo.extra["vehicles"][0].id))
    lifecycle.deliver(session, now + timedelta(hours=4), m, driver, {"note": ""})
    lifecycle.receive(
        session,
        now + timedelta(hours=5),
        m,
        receiver,
        receipt_data(m, decisions={2: "partial"}, factor=Decimal("0.99")),
    )
    done = now + timedelta(days=1)
    lifecycle.dispose(
        session,
        done,
        m,
        receiver,
        {
            "note": "",
            "lines": [
                {
                    "line_id": ln.id,
                    "method": "R2" if ln.line_no == 1 else "D10",
                    "disposed_kg": ln.accepted_kg,
                    "disposal_date": done.date(),
                }
                for ln in m.lines
            ],
        },
    )
    session.commit()
    login(client, "receiver@demo.test")
    text = pdf_text(get_pdf(client, m.id))
    for expected in (
        "已完成",
        "接收与利用处置",
        "-18.005（-1.00%）",  # received − loaded on line 1, computed
        "部分拒收",
        "含水率超标",
        "R2",
        "D10",
        done.date().isoformat(),
        "陈静（电子签名）",
        "利用处置",
    ):
        assert expected in text, expected
    assert "签名：" + "_" * 16 not in text  # every block signed


def test_access_to_documents(app, client, session, now, demo):
    m = make_submitted(session, now, demo)
    draft = make_draft(session, now, demo)
    admin = demo.users["admin"]
    _, outsider = regulator(session, now, admin, region_code="110000")  # Beijing
    _, local = regulator(session, now, admin, region_code="150600")  # Ordos
    session.commit()
    pdf, qr = f"/manifests/{m.id}/manifest.pdf", f"/manifests/{m.id}/qr.png"
    api_pdf, api_qr = f"/api/v1/manifests/{m.id}/pdf", f"/api/v1/manifests/{m.id}/qr.png"

    # Anonymous: the login page (web), 401 (API).
    for url in (pdf, qr):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    for url in (api_pdf, api_qr):
        assert client.get(url).status_code == 401

    # Parties and the regulator of the area.
    for email in ("producer@demo.test", "carrier@demo.test", "driver@demo.test"):
        login(client, email)
        assert client.get(pdf).status_code == 200, email
        assert client.get(qr).status_code == 200, email
        client.post("/logout")
    login(client, local.email, PASSWORD)
    assert client.get(pdf).status_code == 200
    client.post("/logout")
    headers = api_token(client, "regulator@demo.test")
    response = client.get(api_pdf, headers=headers)
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert response.headers["Content-Disposition"].endswith(f'filename="manifest-{m.number}.pdf"')
    by_number = client.get(f"/api/v1/manifests/{m.number}/pdf", headers=headers)
    assert by_number.status_code == 200 and by_number.data.startswith(b"%PDF")

    # A non-party enterprise and a regulator elsewhere learn nothing: 404.
    login(client, "producer2@demo.test")
    assert client.get(pdf).status_code == 404
    assert client.get(qr).status_code == 404
    client.post("/logout")
    login(client, outsider.email, PASSWORD)
    assert client.get(pdf).status_code == 404
    client.post("/logout")
    for email in ("receiver2@demo.test",):
        other = api_token(client, email)
        assert client.get(api_pdf, headers=other).status_code == 404
        assert client.get(api_qr, headers=other).status_code == 404
    outsider_api = api_token(client, outsider.email, PASSWORD)
    assert client.get(api_pdf, headers=outsider_api).status_code == 404
    assert client.get(f"/api/v1/manifests/{m.number}/pdf", headers=outsider_api).status_code == 404
    assert client.get("/api/v1/manifests/999999/pdf", headers=headers).status_code == 404

    # A draft has no number and no QR code: 409 with the status.
    login(client, "producer@demo.test")
    for url in (f"/manifests/{draft.id}/manifest.pdf", f"/manifests/{draft.id}/qr.png"):
        response = client.get(url)
        assert response.status_code == 409
        assert response.mimetype == "text/html"
    client.post("/logout")
    own = api_token(client, "producer@demo.test")
    for url in (f"/api/v1/manifests/{draft.id}/pdf", f"/api/v1/manifests/{draft.id}/qr.png"):
        response = client.get(url, headers=own)
        assert response.status_code == 409
        error = response.get_json()["error"]
        assert error["code"] == "conflict" and error["status"] == "draft"
    # …and the other producer cannot even learn that the draft exists.
    assert client.get(f"/api/v1/manifests/{draft.id}/pdf", headers=other).status_code == 404


def test_qr_png_decodes_to_the_scan_url(app, client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    headers = api_token(client, "receiver@demo.test")
    for url in (f"/manifests/{m.id}/qr.png", f"/api/v1/manifests/{m.id}/qr.png"):
        if url.startswith("/manifests"):
            login(client, "receiver@demo.test")
        response = client.get(url, headers=headers)
        assert response.status_code == 200 and response.mimetype == "image/png"
        with app.test_request_context():
            assert decode_qr(Image.open(io.BytesIO(response.data))) == [scan_url(m.id, m.number)]


def test_cancelled_and_corrected_manifests_print(client, session, now, demo):
    corrected = make_submitted(session, now, demo)
    lifecycle.correct(
        session,
        now + timedelta(minutes=5),
        corrected,
        demo.users["producer"],
        {
            "reason": "桶数<更正>&复核",
            "lines": [{"line_id": corrected.lines[0].id, "container_count": 11}],
        },
    )
    cancelled = make_submitted(session, now, demo)
    lifecycle.cancel(session, now, cancelled, demo.users["producer"], "车辆故障，改期转移")
    session.commit()
    login(client, "producer@demo.test")
    text = pdf_text(get_pdf(client, corrected.id))
    assert "更正" in text and "桶数<更正>&复核" in text and "第1行件数：10 → 11" in text
    text = pdf_text(get_pdf(client, cancelled.id))
    assert "已作废" in text and "车辆故障，改期转移" in text


def test_openapi_documents_the_binary_endpoints(client, session):
    spec = client.get("/api/v1/openapi.json").get_json()
    pdf = spec["paths"]["/api/v1/manifests/{number_or_id}/pdf"]["get"]
    qr = spec["paths"]["/api/v1/manifests/{number_or_id}/qr.png"]["get"]
    assert "application/pdf" in pdf["responses"]["200"]["content"]
    assert "image/png" in qr["responses"]["200"]["content"]
    assert {"404", "409"} <= set(pdf["responses"])
