"""CSV import of containers: a 10,000-row file through ``imports.import_containers``.

    python bench/container_import.py [--rows 10000] [--database-url URL] [--reset] [--profile]

Builds a fresh database (a new SQLite file by default; ``--database-url`` points at
PostgreSQL, which must be empty unless ``--reset`` drops its schema), loads the reference
and demo data, generates a CSV of ``--rows`` containers of several waste codes and days (as
Excel would save it: GB18030 is tried after UTF-8, so the file is UTF-8 with a BOM here), and
times one import as the page runs it: parse, validate every row, register all-or-nothing,
commit. ``--profile`` prints the top of a cProfile report to stderr. The last line printed is
one JSON object:

    {"database", "rows", "bytes", "seconds", "rows_per_second", "containers", "ledger_entries"}
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 China time
# (code, name, physical form, hazards, packaging)
WASTES = [
    ("900-249-08", "废矿物油", "liquid", "T,I", "drum"),
    ("900-041-49", "废包装桶", "solid", "T,In", "bag"),
    ("252-002-11", "焦油渣", "semi_solid", "T", "tote"),
    ("900-404-06", "废有机溶剂", "liquid", "T,I,R", "drum"),
    ("772-003-18", "焚烧飞灰", "solid", "T", "bag"),
]


def make_csv(rows: int, seed: int = 7) -> bytes:
    """``rows`` valid container rows over the five wastes and the 60 days before NOW."""
    from hazwaste.ledger.schemas import CSV_COLUMNS

    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    first = NOW.date() - timedelta(days=60)
    for _ in range(rows):
        code, name, form, hazards, packaging = rng.choice(WASTES)
        day = first + timedelta(days=rng.randrange(60))
        weight = f"{rng.randrange(5000, 250000) / 1000:.3f}".rstrip("0").rstrip(".")
        writer.writerow(
            [
                code,
                name,
                form,
                hazards,
                "矿物油",
                "石油烃",
                packaging,
                weight,
                day.isoformat(),
                "设备检修",
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--reset",
        action="store_true",
        help="drop the PostgreSQL schema first (the database is wiped)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the import (stderr)")
    args = parser.parse_args()

    from flask_migrate import upgrade
    from sqlalchemy import func, select, text

    from hazwaste import create_app
    from hazwaste.accounts.models import Organization, User
    from hazwaste.catalog.services import load_reference_data
    from hazwaste.demo.services import seed_demo
    from hazwaste.extensions import db
    from hazwaste.ledger import imports
    from hazwaste.ledger.models import Container, LedgerEntry

    url = args.database_url
    if not url:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='hazwaste-bench-')}/bench.db"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "TESTING": False,
            "PUBLIC_BASE_URL": "https://hazwaste.example.cn",
            "PASSWORD_HASH_PARAMS": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1},
        }
    )
    with app.app_context(), app.test_request_context():
        engine = db.engine
        database = engine.dialect.name
        if database == "postgresql" and args.reset:
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        if db.session.scalar(select(func.count()).select_from(Organization)):
            sys.exit("the database is not empty: use a fresh one or --reset (PostgreSQL)")
        load_reference_data(db.session)
        seed_demo(db.session, NOW)
        db.session.commit()
        user = db.session.scalar(select(User).where(User.email == "producer@demo.test"))
        assert user is not None
        raw = make_csv(args.rows)
        today: date = NOW.date()

        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        started = time.perf_counter()
        created = imports.import_containers(db.session, NOW, user, raw, today)
        db.session.commit()
        seconds = time.perf_counter() - started
        if profiler is not None:
            import pstats

            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
        containers = db.session.scalar(select(func.count()).select_from(Container))
        entries = db.session.scalar(select(func.count()).select_from(LedgerEntry))
        assert len(created) == containers == args.rows
        db.session.remove()
        engine.dispose()
    print(
        json.dumps(
            {
                "database": database,
                "rows": args.rows,
                "bytes": len(raw),
                "seconds": round(seconds, 3),
                "rows_per_second": round(args.rows / seconds, 1),
                "containers": containers,
                "ledger_entries": entries,
            }
        )
    )


if __name__ == "__main__":
    main()
