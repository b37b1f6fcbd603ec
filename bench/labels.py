"""Render time of an A4 sheet of 100 HJ 1276 labels (100 mm), on a fresh demo database.

    python bench/labels.py [--labels 100] [--size 100]

Prints one JSON line: labels, pages, seconds, PDF size in KB.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=int, default=100)
    parser.add_argument("--size", type=int, default=100, choices=(100, 150, 200))
    args = parser.parse_args()

    from flask_migrate import upgrade

    from hazwaste import create_app
    from hazwaste.catalog.services import load_reference_data
    from hazwaste.db import utcnow
    from hazwaste.demo.services import seed_demo
    from hazwaste.documents.labels import render_labels
    from hazwaste.extensions import db
    from hazwaste.ledger import services as ledger

    url = f"sqlite:///{tempfile.mkdtemp(prefix='hazwaste-labels-')}/labels.db"
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "PUBLIC_BASE_URL": "https://hazwaste.example.cn"}
    )
    with app.app_context():
        upgrade()
        load_reference_data(db.session)
        world = seed_demo(db.session, utcnow())
        row = {
            "waste_code": "900-249-08",
            "waste_name": "废矿物油（设备检修）",
            "physical_form": "liquid",
            "hazards": ["T", "I"],
            "main_components": "矿物油",
            "harmful_components": "苯系物",
            "packaging_type": "drum",
            "net_weight_kg": Decimal("180.5"),
            "generation_date": date(2026, 11, 2),
            "source_process": "检修",
        }
        containers = ledger.register_containers(
            db.session, utcnow(), world.users["producer"], [row] * args.labels, utcnow().date()
        )
        items = [(c, f"https://hazwaste.example.cn/c/{c.code}") for c in containers]
        render_labels(items[:1], args.size)  # font registration out of the timing
        started = time.perf_counter()
        body = render_labels(items, args.size)
        seconds = time.perf_counter() - started
    import io

    from pypdf import PdfReader

    pages = len(PdfReader(io.BytesIO(body)).pages)
    print(
        json.dumps(
            {
                "labels": args.labels,
                "size_mm": args.size,
                "pages": pages,
                "seconds": round(seconds, 2),
                "pdf_kb": round(len(body) / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
