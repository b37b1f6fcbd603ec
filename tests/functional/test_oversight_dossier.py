"""Dossier PDFs: the key facts are in the text layer; jurisdiction is enforced."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from hazwaste.cases.models import CaseNote, CaseNoteKind, FlagResponse
from hazwaste.reconciliation.models import Flag
from tests.conftest import login

CITY = "regulator@demo.test"
OTOG = "regulator-otog@demo.test"

pytestmark = pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs pdftotext")


@pytest.fixture()
def world(session, now):
    from hazwaste.demo.services import seed_demo

    w = seed_demo(session, now, history=True)
    session.commit()
    return w


def pdf_text(body: bytes, tmp_path: Path) -> str:
    path = tmp_path / "d.pdf"
    path.write_bytes(body)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_flag_dossier_has_evidence_timeline_notes_and_responses(
    client, session, world, now, tmp_path
):
    flag = session.scalars(
        select(Flag).where(Flag.manifest_id.is_not(None)).order_by(Flag.id)
    ).first()
    assert flag is not None
    from hazwaste.accounts.models import User

    regulator = session.scalar(select(User).where(User.email == CITY))
    producer_user = session.scalar(select(User).where(User.email == "producer@demo.test"))
    session.add(
        CaseNote(
            flag_id=flag.id,
            author_id=regulator.id,
            kind=CaseNoteKind.NOTE,
            body="现场核查：称重记录缺失",
            created_at=now,
        )
    )
    session.add(
        FlagResponse(
            flag_id=flag.id,
            organization_id=flag.producer_id or producer_user.organization_id,
            author_id=producer_user.id,
            body="装车时地磅故障，已提交维修记录",
            attachments="地磅维修单.pdf",
            created_at=now,
        )
    )
    session.commit()
    login(client, CITY)
    response = client.get(f"/oversight/dossiers/flag/{flag.id}.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    text = pdf_text(response.get_data(), tmp_path)
    assert f"#{flag.id}" in text
    assert flag.rule in text
    assert "现场核查：称重记录缺失" in text
    assert "装车时地磅故障" in text and "地磅维修单.pdf" in text
    from hazwaste.manifests.models import Manifest

    manifest = session.get(Manifest, flag.manifest_id)
    assert manifest.number in text


def test_enterprise_dossier_has_balances_and_flags(client, session, world, tmp_path):
    login(client, CITY)
    org = world.orgs["producer"]
    response = client.get(f"/oversight/dossiers/enterprise/{org.id}.pdf")
    assert response.status_code == 200
    text = pdf_text(response.get_data(), tmp_path)
    assert org.name in text and org.uscc in text
    assert "900-249-08" in text


def test_dossiers_outside_jurisdiction_are_404(client, session, world):
    login(client, OTOG)
    outside = world.orgs["producer2"]  # 东胜区 150602
    assert client.get(f"/oversight/dossiers/enterprise/{outside.id}.pdf").status_code == 404
    flag = session.scalars(
        select(Flag).where(
            Flag.producer_id == outside.id,
            Flag.carrier_id.is_(None) | (Flag.carrier_id == outside.id),
        )
    ).first()
    if flag is not None and flag.receiver_id in (None, outside.id):
        assert client.get(f"/oversight/dossiers/flag/{flag.id}.pdf").status_code == 404
    assert client.get("/oversight/dossiers/flag/999999.pdf").status_code == 404
