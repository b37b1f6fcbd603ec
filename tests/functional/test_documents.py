"""Manifest PDF and QR: the QR decodes (zxing-cpp) to the scan URL that opens the manifest,
the Chinese text is in the PDF's text layer, the font is embedded, access is checked."""

from __future__ import annotations

import io

import pypdfium2
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from hazwaste.manifests import lifecycle
from hazwaste.manifests.tokens import scan_url
from tests.conftest import api_token, login
from tests.manifest_factories import make_draft, make_submitted, pickup_data


def decode_qr(image: Image.Image) -> list[str]:
    return [
        r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode
    ]


def test_pdf_qr_decodes_to_the_scan_url_that_opens_the_manifest(app, client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "producer@demo.test")
    response = client.get(f"/manifests/{m.id}/manifest.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    page = pypdfium2.PdfDocument(response.data)[0]
    image = page.render(scale=200 / 72).to_pil()
    with app.test_request_context():
        expected = scan_url(m.id, m.number)
    assert decode_qr(image) == [expected]
    client.post("/logout")
    path = expected.split("localhost", 1)[1]
    verify = client.get(path).get_data(as_text=True)
    assert m.number in verify and "鄂尔多斯市恒源煤化工有限公司" in verify


def test_pdf_text_layer_has_the_chinese_fields_and_an_embedded_font(client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "producer@demo.test")
    data = client.get(f"/manifests/{m.id}/manifest.pdf").data
    reader = PdfReader(io.BytesIO(data))
    text = "".join(page.extract_text() for page in reader.pages)
    for expected in (
        "危险废物转移联单",
        m.number,
        "鄂尔多斯市恒源煤化工有限公司",
        "900-249-08",
        "突发环境事件防范措施",
    ):
        assert expected in text, expected
    # Every font that can carry Chinese glyphs (Type0/CID or TrueType) must be embedded;
    # reportlab's unembedded STSong-Light CID font would render blank without system fonts.
    cjk_fonts = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            if font["/Subtype"] not in ("/Type0", "/TrueType"):
                continue  # base-14 Type1 (Latin only), declared by reportlab by default
            descendants = font.get("/DescendantFonts")
            descriptor = (descendants[0].get_object() if descendants else font).get(
                "/FontDescriptor"
            )
            cjk_fonts.append(descriptor is not None and "/FontFile2" in descriptor.get_object())
    assert cjk_fonts and all(cjk_fonts)


def test_signature_blocks_fill_in_after_pickup(client, session, now, demo):
    m = make_submitted(session, now, demo)
    session.commit()
    login(client, "producer@demo.test")
    before = "".join(
        p.extract_text()
        for p in PdfReader(io.BytesIO(client.get(f"/manifests/{m.id}/manifest.pdf").data)).pages
    )
    # Only the producer has signed (electronically) before pickup.
    assert before.count("电子签名") == 1
    lifecycle.pickup(
        session, now, m, demo.users["driver"], pickup_data(m, demo.extra["vehicles"][0].id)
    )
    session.commit()
    after = "".join(
        p.extract_text()
        for p in PdfReader(io.BytesIO(client.get(f"/manifests/{m.id}/manifest.pdf").data)).pages
    )
    assert after.count(
        "电子签名"
    ) == 2 and "李建国（鄂尔多斯市安驰危险货物运输有限公司）" in after.replace("\n", "")


def test_qr_png_decodes_and_access_is_checked(app, client, session, now, demo):
    m = make_submitted(session, now, demo)
    draft = make_draft(session, now, demo)
    session.commit()
    login(client, "receiver@demo.test")
    png = client.get(f"/manifests/{m.id}/qr.png")
    assert png.status_code == 200
    with app.test_request_context():
        assert decode_qr(Image.open(io.BytesIO(png.data))) == [scan_url(m.id, m.number)]
    client.post("/logout")
    login(client, "producer2@demo.test")
    assert client.get(f"/manifests/{m.id}/manifest.pdf").status_code == 404
    client.post("/logout")
    login(client, "producer@demo.test")
    assert client.get(f"/manifests/{draft.id}/qr.png").status_code == 409
    client.post("/logout")
    assert client.get(f"/manifests/{m.id}/qr.png").status_code == 302
    headers = api_token(client, "regulator@demo.test")
    api = client.get(f"/api/v1/manifests/{m.id}/pdf", headers=headers)
    assert api.status_code == 200 and api.data.startswith(b"%PDF")
    assert client.get(f"/api/v1/manifests/{m.id}/pdf").status_code == 401
    other = api_token(client, "receiver2@demo.test")
    assert client.get(f"/api/v1/manifests/{m.id}/qr.png", headers=other).status_code == 404
