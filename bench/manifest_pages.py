"""Manifest PDF render time and the driver's scan-page weight, on a fresh demo database.

    python bench/manifest_pages.py [--runs 20]

Prints one JSON line: median/mean PDF render time (ms) and size (KB) for a completed demo
manifest, and the bytes of the driver's pickup page (HTML + scan.js, the only assets).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    from flask_migrate import upgrade

    from hazwaste import create_app
    from hazwaste.catalog.services import load_reference_data
    from hazwaste.db import utcnow
    from hazwaste.demo.services import seed_demo
    from hazwaste.documents.views import pdf_response
    from hazwaste.extensions import db
    from hazwaste.manifests.models import Manifest, ManifestStatus
    from hazwaste.manifests.tokens import make_token

    url = f"sqlite:///{tempfile.mkdtemp(prefix='hazwaste-pages-')}/pages.db"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "WTF_CSRF_ENABLED": False,
            "PUBLIC_BASE_URL": "https://hazwaste.example.cn",
            "SESSION_COOKIE_SECURE": False,
        }
    )
    with app.app_context():
        upgrade()
        load_reference_data(db.session)
        seed_demo(db.session, utcnow(), history=True)
        db.session.commit()
    client = app.test_client()
    client.post("/login", data={"email": "driver@demo.test", "password": "demo-pass-2026"})
    with app.test_request_context():
        done = (
            db.session.query(Manifest).filter(Manifest.status == ManifestStatus.COMPLETED).first()
        )
        waiting = (
            db.session.query(Manifest).filter(Manifest.status == ManifestStatus.SUBMITTED).first()
        )
        assert done is not None and waiting is not None
        pdf_response(done)  # font registration and imports out of the timing
        times, size = [], 0
        for _ in range(args.runs):
            started = time.perf_counter()
            size = len(pdf_response(done).get_data())
            times.append((time.perf_counter() - started) * 1000)
        path = f"/m/{make_token(waiting.id, waiting.number or '')}"
    html = client.get(path).data
    assert b"lines-0-loaded_qty" in html, "the driver's pickup form is not on the page"
    script = client.get("/static/js/scan.js").data
    print(
        json.dumps(
            {
                "pdf_lines": len(done.lines),
                "pdf_events": len(done.events),
                "pdf_render_ms_median": round(statistics.median(times), 1),
                "pdf_render_ms_mean": round(statistics.mean(times), 1),
                "pdf_kb": round(size / 1024, 1),
                "driver_page_html_bytes": len(html),
                "driver_page_js_bytes": len(script),
                "driver_page_total_kb": round((len(html) + len(script)) / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
