"""Manifest PDF render time and size, on a fresh demo world in a temporary SQLite database.

    python bench/pdf_render.py [--runs 20] [--lines 10] [--out manifest.pdf]

Builds a completed manifest with ``--lines`` waste lines and a full history (created,
submitted, corrected, picked up, delivered, received with a partial rejection, disposed)
through the real services, then renders its PDF ``--runs`` times the way a request does
(session expired first, so the database reads are included). Prints one JSON line: mean and
median render time in ms, the first (cold) render, pages and size in KB.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import zip_longest
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

#: Categories the demo receiver's licence covers, with a disposal method it may use.
METHODS = {"HW08": "R2", "HW11": "R9", "HW49": "C3", "HW06": "R3", "HW09": "D10", "HW12": "D10"}


def build_manifest(session: Any, now: datetime, world: Any, lines: int) -> Any:
    """A completed manifest with ``lines`` lines and every kind of hand-off."""
    from sqlalchemy import select

    from hazwaste.catalog.models import WasteCode
    from hazwaste.manifests import lifecycle, services

    codes = list(
        session.scalars(
            select(WasteCode)
            .where(WasteCode.category.in_(list(METHODS)))
            .order_by(WasteCode.category, WasteCode.code)
        )
    )
    by_category: dict[str, list[Any]] = {}
    for code in codes:
        by_category.setdefault(code.category, []).append(code)
    # Round robin over the categories, so a long manifest mixes them as a real one would.
    rounds = zip_longest(*by_category.values())
    picked = [c for group in rounds for c in group if c is not None][:lines]
    # Within the demo truck's 18 t: the same total whatever the number of lines.
    declared = (Decimal(9000) / len(picked)).quantize(Decimal("0.001"))
    loaded = (declared * Decimal("0.997")).quantize(Decimal("0.001"))
    received = (loaded * Decimal("0.996")).quantize(Decimal("0.001"))
    rejected = (received / 8).quantize(Decimal("0.001"))
    planned = (now + timedelta(days=1)).date()
    data = {
        "carrier_id": world.orgs["carrier"].id,
        "receiver_id": world.orgs["receiver"].id,
        "vehicle_id": world.extra["vehicles"][0].id,
        "driver_id": world.extra["drivers"][0].id,
        "planned_date": planned,
        "emergency_measures": "运输途中发生泄漏：立即停车、设置警示标志，用吸附棉和防渗布围堵，"
        "禁止明火；拨打119和当地生态环境局应急电话，通知移出人。" * 3,
        "lines": [
            {
                "waste_code": code.code,
                "waste_name": code.description[:60],
                "physical_form": "solid",
                "hazards": code.hazards,
                "packaging": "200L铁桶",
                "container_count": 4,
                "declared_kg": declared,
                "declared_unit": "kg",
            }
            for code in picked
        ],
    }
    producer, driver = world.users["producer"], world.users["driver"]
    receiver = world.users["receiver"]
    m = services.create_draft(session, now - timedelta(hours=3), producer, data)
    lifecycle.submit(session, now - timedelta(hours=2), m, producer)
    lifecycle.correct(
        session,
        now - timedelta(hours=1),
        m,
        producer,
        {"reason": "包装数量更正", "lines": [{"line_id": m.lines[0].id, "container_count": 5}]},
    )
    position = {"latitude": 39.348, "longitude": 106.959, "accuracy_m": 12.0, "position_note": ""}
    lifecycle.pickup(
        session,
        now,
        m,
        driver,
        {
            "vehicle_id": m.vehicle_id,
            "note": "",
            **position,
            "lines": [{"line_id": ln.id, "loaded_kg": loaded} for ln in m.lines],
        },
    )
    lifecycle.deliver(session, now + timedelta(hours=4), m, driver, {"note": "", **position})
    lifecycle.receive(
        session,
        now + timedelta(hours=6),
        m,
        receiver,
        {
            "note": "",
            "latitude": None,
            "longitude": None,
            "accuracy_m": None,
            "position_note": "not_requested",
            "lines": [
                {
                    "line_id": ln.id,
                    "received_kg": received,
                    "decision": "partial" if ln.line_no == 1 else "accept",
                    "rejected_kg": rejected if ln.line_no == 1 else None,
                    "rejection_reason": "部分包装破损渗漏" if ln.line_no == 1 else "",
                }
                for ln in m.lines
            ],
        },
    )
    done = now + timedelta(days=3)
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
                    "method": METHODS["HW" + ln.waste_code[-2:]],
                    "disposed_kg": ln.accepted_kg,
                    "disposal_date": services.local_date(done),
                }
                for ln in m.lines
            ],
        },
    )
    return m


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--out", help="also write the PDF here")
    args = parser.parse_args()

    from flask_migrate import upgrade
    from pypdf import PdfReader

    from hazwaste import create_app
    from hazwaste.catalog.services import load_reference_data
    from hazwaste.demo.services import seed_demo
    from hazwaste.documents import services as documents
    from hazwaste.extensions import db
    from hazwaste.manifests.models import Manifest

    url = f"sqlite:///{tempfile.mkdtemp(prefix='hazwaste-pdf-')}/pdf.db"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "PUBLIC_BASE_URL": "https://hazwaste.example.cn",
            "SESSION_COOKIE_SECURE": False,
        }
    )
    now = datetime.now(UTC).replace(microsecond=0)
    with app.app_context():
        upgrade()
        load_reference_data(db.session)
        world = seed_demo(db.session, now - timedelta(days=1))
        manifest_id = build_manifest(db.session, now, world, args.lines).id
        db.session.commit()
    with app.test_request_context():
        manifest = db.session.get(Manifest, manifest_id)
        assert manifest is not None
        started = time.perf_counter()
        body = documents.manifest_pdf(db.session, manifest)  # includes font registration
        cold_ms = (time.perf_counter() - started) * 1000
        times = []
        for _ in range(args.runs):
            db.session.expire_all()
            started = time.perf_counter()
            manifest = db.session.get(Manifest, manifest_id)
            assert manifest is not None
            body = documents.manifest_pdf(db.session, manifest)
            times.append((time.perf_counter() - started) * 1000)
        lines, events = len(manifest.lines), len(manifest.events)
    if args.out:
        Path(args.out).write_bytes(body)
    print(
        json.dumps(
            {
                "lines": lines,
                "events": events,
                "runs": args.runs,
                "render_ms_mean": round(statistics.mean(times), 1),
                "render_ms_median": round(statistics.median(times), 1),
                "render_ms_first": round(cold_ms, 1),
                "pages": len(PdfReader(io.BytesIO(body)).pages),
                "pdf_kb": round(len(body) / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
