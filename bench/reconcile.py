"""Reconciliation at national scale: synthetic data with known anomalies, one full run.

    python bench/reconcile.py --manifests 100000 [--database-url URL] [--seed 7] [--reset]

Builds a fresh database (a new SQLite file by default; ``--database-url`` points at
PostgreSQL, which must be empty unless ``--reset`` drops its schema), loads the reference
data, generates producers, carriers, receivers, licences, containers, manifests with lines
and hand-off events, ledger entries and management plans across regions — a clean body of
data that must raise no flag, plus a known number of injected anomalies for every rule — with
bulk inserts (COPY on PostgreSQL). It then times a baseline scan (one SUM over the events
table), runs a full reconciliation, compares flags with the injected anomalies and prints, as
its last line, one JSON object:

    {"database", "manifests", "events", "load_seconds", "baseline_scan_seconds",
     "reconcile_seconds", "peak_rss_mb", "rules": {CODE: {"injected", "found",
     "false_positives"}}}
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

AS_OF = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 12:00 China time
YEAR = 2026
CHUNK = 20000
PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$YmVuY2htYXJr$bench-not-a-login"
# Waste codes of the clean data: (code, physical form, hazards, disposal method).
CODES = [
    ("900-249-08", "liquid", "T,I", "R2"),
    ("900-041-49", "solid", "T,In", "C3"),
    ("252-002-11", "semi_solid", "T", "R9"),
    ("900-404-06", "liquid", "T,I,R", "R2"),
    ("336-064-17", "semi_solid", "T,C", "D10"),
    ("772-003-18", "solid", "T", "D10"),
    ("900-000-12", "liquid", "T", "D10"),
    ("261-151-50", "solid", "T", "R4"),
]
FOREIGN_CODE = ("900-023-29", "solid", "T", "D10")  # HW29 mercury: outside every licence
METHODS = sorted({c[3] for c in CODES})
DT_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


class Loader:
    """Bulk-writes rows: COPY on PostgreSQL, executemany on SQLite (raw driver values)."""

    def __init__(self, engine: Any):
        self.engine = engine
        self.pg = engine.dialect.name == "postgresql"
        self.raw = engine.raw_connection()
        self.rows: dict[str, int] = defaultdict(int)

    def write(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        self.rows[table] += len(rows)
        cursor = self.raw.cursor()
        if self.pg:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            # The app sets pysqlite to autocommit (see hazwaste.db.configure_sqlite): open
            # one transaction per batch, or every row would be its own fsync'ed commit.
            if not self.raw.driver_connection.in_transaction:
                cursor.execute("BEGIN")
            marks = ", ".join("?" for _ in columns)
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                [tuple(self._sqlite(v) for v in row) for row in rows],
            )
        cursor.close()

    @staticmethod
    def _sqlite(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).strftime(DT_FORMAT)
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, bool):
            return int(value)
        return value

    def commit(self) -> None:
        if self.pg:
            self.raw.commit()
        elif self.raw.driver_connection.in_transaction:
            self.raw.driver_connection.execute("COMMIT")

    def close(self) -> None:
        self.commit()
        self.raw.close()


def china_day(moment: datetime) -> date:
    return (moment + timedelta(hours=8)).date()


def month_end(year: int, month: int) -> date:
    return date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)


def uscc(index: int, region: str) -> str:
    from stdnum.cn import uscc as stdnum_uscc

    body = f"91{region}{index:09d}"
    return body + stdnum_uscc.calc_check_digit(body)


class World:
    """Organizations and the bookkeeping of what was injected."""

    def __init__(self, manifests: int, rng: random.Random, prefectures: list[str]):
        self.rng = rng
        self.n_producers = max(60, manifests // 50)
        self.n_carriers = max(10, self.n_producers // 20)
        self.n_receivers = max(20, self.n_producers // 10)
        self.k = max(5, manifests // 20000)  # injected anomalies per rule
        self.orgs: list[tuple[int, str, float, float]] = []  # id, region, lat, lon
        self.producers: list[int] = []
        self.carriers: list[int] = []
        self.receivers: list[int] = []
        self.prefectures = prefectures
        self.expected: dict[str, set[tuple[Any, ...]]] = defaultdict(set)
        self.codes_of: dict[int, list[tuple[str, str, str, str]]] = {}

    def org_rows(self, now: datetime) -> Iterable[tuple[Any, ...]]:
        next_id = 1
        for kind, count in (
            ("producer", self.n_producers),
            ("carrier", self.n_carriers),
            ("receiver", self.n_receivers),
        ):
            for i in range(count):
                region = self.rng.choice(self.prefectures)
                county = region[:4] + f"{self.rng.randint(1, 2):02d}" if False else region
                lat = 22 + self.rng.random() * 22
                lon = 88 + self.rng.random() * 34
                self.orgs.append((next_id, county, lat, lon))
                getattr(self, kind + "s").append(next_id)
                yield (
                    next_id,
                    uscc(next_id, county),
                    f"{kind}-{i}",
                    "bench",
                    county,
                    lat,
                    lon,
                    "",
                    kind == "producer",
                    kind == "carrier",
                    kind == "receiver",
                    "approved",
                    "",
                    now,
                    None,
                    None,
                )
                next_id += 1
        for producer in self.producers:
            self.codes_of[producer] = self.rng.sample(CODES, 2)


ORG_COLS = (
    "id",
    "uscc",
    "name",
    "address",
    "region_code",
    "latitude",
    "longitude",
    "contact_phone",
    "is_producer",
    "is_carrier",
    "is_receiver",
    "status",
    "status_note",
    "created_at",
    "reviewed_at",
    "reviewed_by_id",
)
USER_COLS = (
    "id",
    "email",
    "name",
    "phone",
    "password_hash",
    "role",
    "organization_id",
    "regulator_body_id",
    "is_platform_admin",
    "active",
    "created_at",
    "password_changed_at",
    "last_login_at",
)
MANIFEST_COLS = (
    "id",
    "number",
    "status",
    "producer_id",
    "carrier_id",
    "receiver_id",
    "vehicle_id",
    "driver_id",
    "planned_date",
    "emergency_measures",
    "catalog_edition",
    "version",
    "created_by_id",
    "created_at",
    "updated_at",
    "submitted_at",
    "picked_up_at",
    "pickup_vehicle_id",
    "pickup_driver_user_id",
    "delivered_at",
    "receipt_due_date",
    "receipt_due_exact",
    "received_at",
    "completed_at",
    "cancelled_at",
    "cancel_reason",
)
LINE_COLS = (
    "id",
    "manifest_id",
    "line_no",
    "waste_code",
    "waste_name",
    "physical_form",
    "hazards",
    "packaging",
    "container_count",
    "declared_kg",
    "declared_unit",
    "loaded_kg",
    "received_kg",
    "accepted_kg",
    "rejected_kg",
    "decision",
    "rejection_reason",
    "disposed_kg",
    "disposal_method",
    "disposal_date",
)
EVENT_COLS = (
    "id",
    "manifest_id",
    "kind",
    "occurred_at",
    "recorded_at",
    "actor_user_id",
    "actor_org_id",
    "latitude",
    "longitude",
    "accuracy_m",
    "position_note",
    "vehicle_id",
    "note",
    "payload",
    "corrects_event_id",
    "total_kg",
    "site_distance_m",
)
LEDGER_COLS = (
    "id",
    "producer_id",
    "waste_code",
    "kind",
    "quantity_kg",
    "occurred_on",
    "container_id",
    "manifest_id",
    "method_code",
    "note",
    "created_by_id",
    "created_at",
)


def generate(loader: Loader, world: World, manifests: int) -> dict[str, int]:
    from hazwaste.manifests.geo import distance_m

    rng = world.rng
    now = AS_OF
    loader.write("organizations", ORG_COLS, world.org_rows(now))
    org_by_id = {o[0]: o for o in world.orgs}
    loader.write(
        "users",
        USER_COLS,
        (
            (
                oid,
                f"u{oid}@bench.test",
                f"user {oid}",
                "",
                PASSWORD_HASH,
                "admin",
                oid,
                None,
                False,
                True,
                now,
                now,
                None,
            )
            for oid, *_ in world.orgs
        ),
    )
    # Licences: every receiver covers the clean codes' categories and methods, with ample
    # capacity; OVER_CAPACITY receivers get a capacity they certainly exceed.
    over_capacity = set(world.rng.sample(world.receivers, world.k))
    categories = sorted({"HW" + c[0][-2:] for c in CODES})
    loader.write(
        "licences",
        (
            "id",
            "organization_id",
            "number",
            "valid_from",
            "valid_to",
            "annual_capacity_kg",
            "revoked_at",
            "note",
            "created_at",
        ),
        (
            (
                i + 1,
                rid,
                f"L-{rid}",
                date(2024, 1, 1),
                date(2028, 12, 31),
                1_000_000 if rid in over_capacity else 10**12,
                None,
                "",
                now,
            )
            for i, rid in enumerate(world.receivers)
        ),
    )
    loader.write(
        "licence_scopes",
        ("id", "licence_id", "category", "waste_code"),
        (
            (i * len(categories) + j + 1, i + 1, cat, None)
            for i in range(len(world.receivers))
            for j, cat in enumerate(categories)
        ),
    )
    loader.write(
        "licence_methods",
        ("licence_id", "method_code"),
        ((i + 1, m) for i in range(len(world.receivers)) for m in METHODS),
    )
    for rid in over_capacity:
        world.expected["OVER_CAPACITY"].add((rid, str(YEAR)))

    # Which manifests carry which injected anomaly (by position in the stream).
    specials = [
        "TRANSIT_OVERDUE",
        "RECEIPT_OVERDUE",
        "NEVER_PICKED_UP",
        "WEIGHT_GAP",
        "LOCATION_MISMATCH",
        "LICENCE_MISMATCH",
        "RECEIVER_BALANCE",
    ]
    slots = rng.sample(range(manifests), world.k * len(specials))
    injected_at = {slot: specials[i // world.k] for i, slot in enumerate(slots)}
    balance_receivers = iter(rng.sample(world.receivers, world.k))

    shipped: dict[tuple[int, str, int], int] = defaultdict(int)  # producer, code, month → g
    line_id = event_id = 0
    start = datetime(YEAR, 1, 3, tzinfo=UTC)
    span = (datetime(YEAR, 11, 12, tzinfo=UTC) - start).total_seconds()
    for first in range(0, manifests, CHUNK):
        m_rows, l_rows, e_rows = [], [], []
        for mid in range(first + 1, min(first + CHUNK, manifests) + 1):
            special = injected_at.get(mid - 1)
            producer = rng.choice(world.producers)
            carrier = rng.choice(world.carriers)
            receiver = (
                next(balance_receivers)
                if special == "RECEIVER_BALANCE"
                else rng.choice(world.receivers)
            )
            _, p_region, p_lat, p_lon = org_by_id[producer]
            _, _, r_lat, r_lon = org_by_id[receiver]
            status = "completed"
            roll = rng.random()
            pickup = start + timedelta(seconds=rng.random() * span)
            if special is None and roll < 0.04:
                status = ("received", "delivered", "in_transit", "submitted")[int(roll * 100)]
                pickup = AS_OF - timedelta(hours=rng.uniform(2, 20))
            if special == "TRANSIT_OVERDUE":
                status, pickup = "in_transit", AS_OF - timedelta(days=5)
            elif special == "RECEIPT_OVERDUE":
                status, pickup = "delivered", AS_OF - timedelta(days=20)
            elif special == "NEVER_PICKED_UP":
                status, pickup = "submitted", AS_OF - timedelta(days=40)
            elif special == "LICENCE_MISMATCH":
                status, pickup = "received", AS_OF - timedelta(days=3)
            submitted = pickup - timedelta(hours=rng.uniform(5, 60))
            if status == "submitted" and special is None:
                submitted = AS_OF - timedelta(days=rng.uniform(1, 10))
            delivered = pickup + timedelta(hours=rng.uniform(2, 30))
            received = delivered + timedelta(hours=rng.uniform(1, 30))
            disposed_day = china_day(received) + timedelta(days=rng.randint(1, 10))
            if disposed_day > china_day(AS_OF):
                disposed_day = china_day(AS_OF)
            reached = {
                "submitted": 0,
                "in_transit": 1,
                "delivered": 2,
                "received": 3,
                "completed": 4,
            }[status]
            codes = world.codes_of[producer][: 1 if special else rng.randint(1, 2)]
            if special == "LICENCE_MISMATCH":
                codes = [FOREIGN_CODE]
            total_loaded = 0
            for line_no, (code, form, hazards, method) in enumerate(codes, start=1):
                line_id += 1
                declared = rng.randint(200, 4000) * 1000
                loaded = int(declared * rng.uniform(0.98, 1.02)) if reached >= 1 else None
                received_g = None
                if reached >= 3:
                    factor = 0.85 if special == "WEIGHT_GAP" else rng.uniform(0.997, 1.003)
                    received_g = int(loaded * factor)
                disposed_g = received_g if reached >= 4 else None
                if special == "RECEIVER_BALANCE":
                    disposed_g = received_g + 20_000_000  # more than any stock held
                l_rows.append(
                    (
                        line_id,
                        mid,
                        line_no,
                        code,
                        "bench waste",
                        form,
                        hazards,
                        "drum",
                        rng.randint(1, 40),
                        declared,
                        "kg",
                        loaded,
                        received_g,
                        received_g,
                        0 if received_g is not None else None,
                        "accept" if received_g is not None else None,
                        "",
                        disposed_g,
                        method if disposed_g is not None else None,
                        disposed_day if disposed_g is not None else None,
                    )
                )
                if loaded is not None:
                    total_loaded += loaded
                    month = china_day(pickup).month
                    shipped[(producer, code, month)] += loaded
                if special == "WEIGHT_GAP":
                    world.expected["WEIGHT_GAP"].add((line_id, ""))
                if special == "LICENCE_MISMATCH":
                    world.expected["LICENCE_MISMATCH"].add((line_id, "receipt"))
                if special == "RECEIVER_BALANCE":
                    world.expected["RECEIVER_BALANCE"].add((receiver, code))
            number = (
                f"{YEAR}{p_region[:4]}{mid:06d}"[:14]
                if mid < 10**6
                else f"{YEAR}{p_region[:2]}{mid:08d}"
            )
            due = china_day(delivered) + timedelta(days=7) if reached >= 2 else None
            m_rows.append(
                (
                    mid,
                    number,
                    status,
                    producer,
                    carrier,
                    receiver,
                    None,
                    None,
                    china_day(pickup),
                    "bench",
                    "2021",
                    1,
                    producer,
                    submitted,
                    now,
                    submitted,
                    pickup if reached >= 1 else None,
                    None,
                    carrier if reached >= 1 else None,
                    delivered if reached >= 2 else None,
                    due,
                    True,
                    received if reached >= 3 else None,
                    received + timedelta(days=1) if reached >= 4 else None,
                    None,
                    "",
                )
            )
            if special in ("TRANSIT_OVERDUE", "RECEIPT_OVERDUE", "NEVER_PICKED_UP"):
                world.expected[special].add((mid, ""))
            # Events: created, submitted, picked_up, delivered, received, disposed.
            off = 0.1 if special == "LOCATION_MISMATCH" else 0.004
            steps = [
                ("created", submitted - timedelta(hours=1), producer, None, None),
                ("submitted", submitted, producer, None, None),
            ]
            if reached >= 1:
                steps.append(
                    (
                        "picked_up",
                        pickup,
                        carrier,
                        p_lat + rng.uniform(-off, off)
                        if special != "LOCATION_MISMATCH"
                        else p_lat + off,
                        p_lon,
                    )
                )
            if reached >= 2:
                steps.append(
                    ("delivered", delivered, carrier, r_lat + rng.uniform(-0.004, 0.004), r_lon)
                )
            if reached >= 3:
                steps.append(("received", received, receiver, None, None))
            if reached >= 4:
                steps.append(("disposed", received + timedelta(days=1), receiver, None, None))
            for kind, at, actor, lat, lon in steps:
                event_id += 1
                payload = json.dumps(
                    {
                        "number": number,
                        "lines": len(codes),
                        "note": "",
                        "total_kg": total_loaded / 1000,
                    },
                    separators=(",", ":"),
                )
                e_rows.append(
                    (
                        event_id,
                        mid,
                        kind,
                        at,
                        at,
                        actor,
                        actor,
                        lat,
                        lon,
                        12.0 if lat is not None else None,
                        ""
                        if lat is not None or kind in ("created", "submitted")
                        else "not_requested",
                        None,
                        "",
                        payload,
                        None,
                        total_loaded if kind != "created" else None,
                        # Recorded with the event, as hazwaste.manifests.geo does.
                        None
                        if lat is None
                        else distance_m(
                            lat,
                            lon,
                            *((p_lat, p_lon) if kind == "picked_up" else (r_lat, r_lon)),
                        ),
                    )
                )
                if kind == "picked_up" and special == "LOCATION_MISMATCH":
                    world.expected["LOCATION_MISMATCH"].add((event_id, ""))
        loader.write("manifests", MANIFEST_COLS, m_rows)
        loader.write("manifest_lines", LINE_COLS, l_rows)
        loader.write("manifest_events", EVENT_COLS, e_rows)
        loader.commit()
    return ledger_and_plans(loader, world, shipped)


def ledger_and_plans(
    loader: Loader, world: World, shipped: dict[tuple[int, str, int], int]
) -> dict[str, int]:
    """Monthly ledger: generated = shipped (stock stays at the counted zero), counts at
    every month end, plus injected unexplained generation; plans above the actuals."""
    rng = world.rng
    now = AS_OF
    pairs = sorted({(p, c) for p, c, _ in shipped})
    injected = set(rng.sample([(p, c, m) for p, c, m in shipped if m <= 10], world.k))
    rows: list[tuple[Any, ...]] = []
    entry_id = 0
    generated_year: dict[tuple[int, str], int] = defaultdict(int)
    for producer, code in pairs:
        entry_id += 1
        rows.append(
            (
                entry_id,
                producer,
                code,
                "stock_count",
                0,
                date(YEAR - 1, 12, 31),
                None,
                None,
                None,
                "",
                producer,
                now,
            )
        )
        for month in range(1, 12):
            grams_ = shipped.get((producer, code, month), 0)
            extra = 2_000_000 if (producer, code, month) in injected else 0
            if grams_ or extra:
                entry_id += 1
                day = min(month_end(YEAR, month), china_day(AS_OF))
                rows.append(
                    (
                        entry_id,
                        producer,
                        code,
                        "generated",
                        grams_ + extra,
                        month_end(YEAR, month) if month <= 10 else day,
                        None,
                        None,
                        None,
                        "",
                        producer,
                        now,
                    )
                )
                generated_year[(producer, code)] += grams_ + extra
            if month <= 10:
                entry_id += 1
                rows.append(
                    (
                        entry_id,
                        producer,
                        code,
                        "stock_count",
                        0,
                        month_end(YEAR, month),
                        None,
                        None,
                        None,
                        "",
                        producer,
                        now,
                    )
                )
        if len(rows) >= CHUNK:
            loader.write("ledger_entries", LEDGER_COLS, rows)
            rows = []
    loader.write("ledger_entries", LEDGER_COLS, rows)
    for producer, code, month in injected:
        world.expected["PRODUCER_BALANCE"].add((producer, f"{YEAR}-{month:02d}:{code}"))
    # Plans: twice the actuals; OVER_PLAN pairs get a transfer plan of half the shipments.
    over_plan = set(rng.sample(pairs, world.k))
    shipped_year: dict[tuple[int, str], int] = defaultdict(int)
    for (producer, code, _month), grams_ in shipped.items():
        shipped_year[(producer, code)] += grams_
    plan_rows = []
    for i, pair in enumerate(pairs):
        generation = 2 * max(generated_year[pair], shipped_year[pair]) + 1000
        transfer = shipped_year[pair] // 2 if pair in over_plan else generation
        plan_rows.append(
            (i + 1, pair[0], YEAR, pair[1], generation, transfer, None, "", pair[0], now, now)
        )
        if pair in over_plan:
            world.expected["OVER_PLAN"].add((pair[0], f"{YEAR}:transfer:{pair[1]}"))
    loader.write(
        "management_plans",
        (
            "id",
            "producer_id",
            "year",
            "waste_code",
            "planned_generation_kg",
            "planned_transfer_kg",
            "intended_receiver_id",
            "note",
            "created_by_id",
            "created_at",
            "updated_at",
        ),
        plan_rows,
    )
    # Containers: fresh ones in every tenth producer's store, plus injected old ones.
    c_rows: list[tuple[Any, ...]] = []
    old = set(rng.sample(world.producers, world.k))
    for cid, producer in enumerate(world.producers[::10] + sorted(old), start=1):
        code, form, hazards, _ = world.codes_of[producer][0]
        generated_on = (
            date(YEAR - 1, 10, 1)
            if producer in old and cid > len(world.producers[::10])
            else china_day(AS_OF) - timedelta(days=rng.randint(1, 60))
        )
        c_rows.append(
            (
                cid,
                producer,
                f"C{cid:036d}",
                cid % 999 + 1,
                code,
                "bench",
                form,
                hazards,
                "",
                "",
                "drum",
                180_000,
                generated_on,
                "",
                "stored",
                None,
                producer,
                now,
                now,
            )
        )
        if generated_on.year < YEAR:
            world.expected["STORAGE_OVERDUE"].add((cid, ""))
    loader.write(
        "containers",
        (
            "id",
            "producer_id",
            "code",
            "sequence",
            "waste_code",
            "waste_name",
            "physical_form",
            "hazards",
            "main_components",
            "harmful_components",
            "packaging_type",
            "net_weight_kg",
            "generation_date",
            "source_process",
            "status",
            "manifest_id",
            "created_by_id",
            "created_at",
            "updated_at",
        ),
        c_rows,
    )
    loader.commit()
    return dict(loader.rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--manifests", type=int, default=100000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--reset",
        action="store_true",
        help="drop the PostgreSQL schema first (the database is wiped)",
    )
    args = parser.parse_args()

    from flask_migrate import upgrade
    from sqlalchemy import func, select, text

    from hazwaste import create_app
    from hazwaste.catalog.models import Region
    from hazwaste.catalog.services import load_reference_data
    from hazwaste.extensions import db
    from hazwaste.reconciliation import services as recon
    from hazwaste.reconciliation.models import Flag
    from hazwaste.reconciliation.rules import REGISTRY
    from hazwaste.reconciliation.totals import compact as compact_totals

    url = args.database_url
    tmp = None
    if not url:
        tmp = tempfile.mkdtemp(prefix="hazwaste-bench-")
        url = f"sqlite:///{tmp}/bench.db"
    url = (
        url.replace("postgresql://", "postgresql+psycopg://", 1)
        if url.startswith("postgresql://")
        else url
    )
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "TESTING": False,
            "PUBLIC_BASE_URL": "https://hazwaste.example.cn",
        }
    )
    rng = random.Random(args.seed)
    with app.app_context():
        engine = db.engine
        database = engine.dialect.name
        if database == "postgresql" and args.reset:
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        if db.session.scalar(select(func.count()).select_from(Region)):
            sys.exit("the database is not empty: use a fresh one or --reset (PostgreSQL)")
        started = time.perf_counter()
        load_reference_data(db.session)
        db.session.commit()
        prefectures = list(
            db.session.scalars(select(Region.code).where(Region.level == "prefecture"))
        )
        db.session.commit()  # release the session's (write-locking on SQLite) transaction
        world = World(args.manifests, rng, prefectures)
        loader = Loader(engine)
        counts = generate(loader, world, args.manifests)
        loader.close()
        with engine.begin() as conn:
            if database == "postgresql":
                for table in (
                    "organizations",
                    "users",
                    "licences",
                    "licence_scopes",
                    "manifests",
                    "manifest_lines",
                    "manifest_events",
                    "ledger_entries",
                    "management_plans",
                    "containers",
                ):
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT max(id) FROM {table}))"
                        )
                    )
        # What the job workers do every 30 s in production: fold the triggers' deltas into the
        # monthly totals (timed apart; a run still folds whatever is left when it starts).
        t0 = time.perf_counter()
        compact_totals(db.session)
        db.session.commit()
        compact_seconds = time.perf_counter() - t0
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE" if database == "postgresql" else "ANALYZE"))
        load_seconds = time.perf_counter() - started

        t0 = time.perf_counter()
        with engine.connect() as conn:
            conn.execute(text("SELECT count(*), sum(total_kg) FROM manifest_events")).one()
        baseline = time.perf_counter() - t0

        t0 = time.perf_counter()
        record = recon.start(db.session, AS_OF, AS_OF)
        db.session.commit()
        # As `flask reconcile` runs it: rules side by side on RECONCILIATION_WORKERS connections.
        recon.execute(db.session, record, AS_OF, workers=app.config["RECONCILIATION_WORKERS"])
        db.session.commit()
        reconcile_seconds = time.perf_counter() - t0

        rules: dict[str, dict[str, int]] = {}
        for code in sorted(REGISTRY):
            found = {
                (f.subject_id, f.period)
                for f in db.session.execute(
                    select(Flag.subject_id, Flag.period).where(
                        Flag.rule == code, Flag.status == "open"
                    )
                )
            }
            expected = world.expected.get(code, set())
            rules[code] = {
                "injected": len(expected),
                "found": len(found & expected),
                "false_positives": len(found - expected),
            }
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "database": database,
                "manifests": args.manifests,
                "events": counts.get("manifest_events", 0),
                "load_seconds": round(load_seconds, 2),
                "compact_seconds": round(compact_seconds, 2),
                "baseline_scan_seconds": round(baseline, 3),
                "reconcile_seconds": round(reconcile_seconds, 2),
                "peak_rss_mb": round(peak, 1),
                "rules": rules,
            }
        )
    )


if __name__ == "__main__":
    main()
