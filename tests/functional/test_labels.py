"""HJ 1276 labels: every size renders, the QR decodes to the container's page, sheets."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pypdfium2
import pytest
import zxingcpp
from pypdf import PdfReader

from hazwaste.ledger import services as ledger
from tests.conftest import login


def containers(session, now, demo, n=1):
    row = {
        "waste_code": "900-249-08",
        "waste_name": "废矿物油",
        "physical_form": "liquid",
        "hazards": ["T", "I"],
        "main_components": "矿物油",
        "harmful_components": "苯系物",
        "packaging_type": "drum",
        "net_weight_kg": Decimal("180.5"),
        "generation_date": date(2026, 11, 2),
        "source_process": "检修",
    }
    made = ledger.register_containers(session, now, demo.users["producer"], [row] * n, now.date())
    session.commit()
    return made


@pytest.mark.parametrize("size", [100, 150, 200])
def test_label_qr_decodes_to_the_container_page(client, session, now, demo, size):
    (container,) = containers(session, now, demo)
    login(client, "producer@demo.test")
    response = client.get(f"/containers/{container.id}/label.pdf?size={size}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    page = pypdfium2.PdfDocument(response.data)[0]
    width_mm = page.get_width() / 72 * 25.4
    assert abs(width_mm - (size + 10)) < 1
    image = page.render(scale=300 / 72).to_pil()
    decoded = [r.text for r in zxingcpp.read_barcodes(image)]
    assert decoded == [f"http://localhost/c/{container.code}"]
    text = PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
    for expected in (
        "危险废物",
        "废物名称",
        "废矿物油",
        "HW08",
        "主要成分",
        "有害成分",
        "毒性",
        "易燃性",
        "鄂尔多斯市恒源煤化工有限公司",
        container.code,
    ):
        assert expected in text.replace("\n", "").replace("\u3000", ""), expected
    # The decoded URL opens the container's page (a scan of the label).
    assert client.get(f"/c/{container.code}").status_code == 302


def test_sheet_of_labels_and_access(client, session, now, demo):
    made = containers(session, now, demo, 9)
    login(client, "producer@demo.test")
    sheet = client.get("/containers/labels.pdf?size=100")
    assert sheet.status_code == 200
    assert len(PdfReader(io.BytesIO(sheet.data)).pages) == 3  # four 100 mm labels per A4
    assert client.get("/containers/labels.pdf?size=120").status_code == 422
    client.post("/logout")
    login(client, "producer2@demo.test")
    assert client.get(f"/containers/{made[0].id}/label.pdf").status_code == 404
