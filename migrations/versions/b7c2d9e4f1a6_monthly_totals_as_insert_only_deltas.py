"""monthly totals as insert-only deltas folded by compaction

The triggers of 5e1f0c3a9b7d upserted one shared totals row per producer × code × month (and
receiver × code × month) inside every hand-off: hand-offs of the same producer, code and
month waited on that row until COMMIT, and opposite-order updates could deadlock. They now
INSERT one delta row per change into producer_month_deltas / receiver_month_deltas (no
unique key, nothing to wait on); compaction (hazwaste.reconciliation.totals.compact, the
job workers every 30 s, ``flask totals compact``) folds the deltas into the totals tables.
A stock count is a level, not a flow: its delta only marks the month's count as changed,
and compaction (or a reader, until then) takes the month's last count from the ledger.

The existing totals stay as they are (they are exact). The SQL is written out in this file
so that the migration keeps meaning what it meant when written.

Revision ID: b7c2d9e4f1a6
Revises: e3b1c7a9d2f4
Create Date: 2026-12-02 17:30:00.000000

"""

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

import hazwaste.db

# revision identifiers, used by Alembic.
revision = "b7c2d9e4f1a6"
down_revision = "e3b1c7a9d2f4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "producer_month_deltas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("producer_id", sa.Integer(), nullable=False),
        sa.Column("waste_code", sa.String(length=10), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("month_end", sa.Date(), nullable=False),
        sa.Column("generated_kg", hazwaste.db.Quantity(), nullable=False),
        sa.Column("self_used_kg", hazwaste.db.Quantity(), nullable=False),
        sa.Column("shipped_kg", hazwaste.db.Quantity(), nullable=False),
        sa.Column("count_changed", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_producer_month_deltas")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_producer_month_deltas_key",
        "producer_month_deltas",
        ["producer_id", "waste_code", "month"],
        unique=False,
    )
    op.create_table(
        "receiver_month_deltas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("receiver_id", sa.Integer(), nullable=False),
        sa.Column("waste_code", sa.String(length=10), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("month_end", sa.Date(), nullable=False),
        sa.Column("method_code", sa.String(length=8), nullable=False),
        sa.Column("accepted_kg", hazwaste.db.Quantity(), nullable=False),
        sa.Column("disposed_kg", hazwaste.db.Quantity(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receiver_month_deltas")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_receiver_month_deltas_key",
        "receiver_month_deltas",
        ["receiver_id", "waste_code", "month"],
        unique=False,
    )
    dialect = op.get_bind().dialect.name
    _drop_triggers(dialect)
    for statement in _pg_triggers() if dialect == "postgresql" else _sqlite_triggers():
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    _drop_triggers(dialect)
    previous = _previous_revision()
    # The upserting triggers again, over totals recomputed from the source rows (the deltas
    # not yet folded go with their tables).
    op.execute("DELETE FROM monthly_producer_totals")
    op.execute("DELETE FROM monthly_receiver_totals")
    statements = previous._pg_triggers() if dialect == "postgresql" else previous._sqlite_triggers()
    for statement in statements + previous._backfill(dialect):
        op.execute(statement)
    op.drop_index("ix_receiver_month_deltas_key", table_name="receiver_month_deltas")
    op.drop_table("receiver_month_deltas")
    op.drop_index("ix_producer_month_deltas_key", table_name="producer_month_deltas")
    op.drop_table("producer_month_deltas")


def _previous_revision():
    path = Path(__file__).with_name("5e1f0c3a9b7d_monthly_totals_maintained_by_triggers.py")
    spec = importlib.util.spec_from_file_location("_hw_totals_5e1f0c3a9b7d", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _drop_triggers(dialect):
    if dialect == "postgresql":
        for table, function in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {function} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


# --- SQL building blocks: {L} is the changed row (NEW or OLD), {s} its sign (+1 or -1). ---


def _month_of_time(dialect, column):
    """First day of the China-time month of a UTC timestamp (no daylight saving: UTC+8)."""
    if dialect == "postgresql":
        return f"(date_trunc('month', {column} AT TIME ZONE 'Asia/Shanghai'))::date"
    return f"strftime('%Y-%m-01', {column}, '+8 hours')"


def _month_of_date(dialect, column):
    if dialect == "postgresql":
        return f"(date_trunc('month', {column}))::date"
    return f"strftime('%Y-%m-01', {column})"


def _last_day(dialect, column):
    if dialect == "postgresql":
        return f"(({column}) + INTERVAL '1 month' - INTERVAL '1 day')::date"
    return f"date({column}, '+1 month', '-1 day')"


def _month(dialect, month):
    """The month's first and last day, as the two key columns of a totals row."""
    return f"{month}, {_last_day(dialect, month)}"


PRODUCER_DELTA = (
    "INSERT INTO producer_month_deltas (producer_id, waste_code, month, month_end, "
    "generated_kg, self_used_kg, shipped_kg, count_changed) {select}"
)
RECEIVER_DELTA = (
    "INSERT INTO receiver_month_deltas "
    "(receiver_id, waste_code, month, month_end, method_code, accepted_kg, disposed_kg) "
    "SELECT receiver_id, waste_code, month, {month_end}, method_code, SUM(a), SUM(d) "
    "FROM ({union}) c GROUP BY receiver_id, waste_code, month, method_code"
)


def _line_statements(dialect, L, s):
    """A manifest line's contributions (its manifest looked up by id): (producer, receiver)."""
    month_pickup = _month_of_time(dialect, "m.picked_up_at")
    month_receipt = _month_of_time(dialect, "m.received_at")
    month_disposal = _month_of_date(dialect, f"{L}.disposal_date")
    shipped = (
        f"SELECT m.producer_id, {L}.waste_code, {_month(dialect, month_pickup)}, 0, 0, "
        f"{s} * {L}.loaded_kg, 0 "
        f"FROM manifests m WHERE m.id = {L}.manifest_id AND m.picked_up_at IS NOT NULL "
        f"AND {L}.loaded_kg IS NOT NULL"
    )
    union = (
        f"SELECT m.receiver_id AS receiver_id, {L}.waste_code AS waste_code, "
        f"{month_receipt} AS month, '' AS method_code, {s} * {L}.accepted_kg AS a, 0 AS d "
        f"FROM manifests m WHERE m.id = {L}.manifest_id AND m.receiver_id IS NOT NULL "
        f"AND m.received_at IS NOT NULL AND {L}.accepted_kg IS NOT NULL "
        f"UNION ALL SELECT m.receiver_id, {L}.waste_code, {month_disposal}, "
        f"{L}.disposal_method, 0, {s} * {L}.disposed_kg "
        f"FROM manifests m WHERE m.id = {L}.manifest_id AND m.receiver_id IS NOT NULL "
        f"AND {L}.disposal_date IS NOT NULL AND {L}.disposal_method IS NOT NULL "
        f"AND {L}.disposed_kg IS NOT NULL"
    )
    return (
        PRODUCER_DELTA.format(select=shipped),
        RECEIVER_DELTA.format(union=union, month_end=_last_day(dialect, "month")),
    )


def _manifest_statements(dialect, M, s):
    """A manifest's contributions through all of its lines (pickup/receipt time or party
    changed): (producer, receiver)."""
    month_pickup = _month_of_time(dialect, f"{M}.picked_up_at")
    month_receipt = _month_of_time(dialect, f"{M}.received_at")
    month_disposal = _month_of_date(dialect, "l.disposal_date")
    shipped = (
        f"SELECT {M}.producer_id, l.waste_code, {_month(dialect, month_pickup)}, 0, 0, "
        f"SUM({s} * l.loaded_kg), 0 "
        f"FROM manifest_lines l WHERE l.manifest_id = {M}.id AND {M}.picked_up_at IS NOT NULL "
        f"AND l.loaded_kg IS NOT NULL GROUP BY l.waste_code"
    )
    union = (
        f"SELECT {M}.receiver_id AS receiver_id, l.waste_code AS waste_code, "
        f"{month_receipt} AS month, '' AS method_code, {s} * l.accepted_kg AS a, 0 AS d "
        f"FROM manifest_lines l WHERE l.manifest_id = {M}.id AND {M}.receiver_id IS NOT NULL "
        f"AND {M}.received_at IS NOT NULL AND l.accepted_kg IS NOT NULL "
        f"UNION ALL SELECT {M}.receiver_id, l.waste_code, {month_disposal}, "
        f"l.disposal_method, 0, {s} * l.disposed_kg "
        f"FROM manifest_lines l WHERE l.manifest_id = {M}.id AND {M}.receiver_id IS NOT NULL "
        f"AND l.disposal_date IS NOT NULL AND l.disposal_method IS NOT NULL "
        f"AND l.disposed_kg IS NOT NULL"
    )
    return (
        PRODUCER_DELTA.format(select=shipped),
        RECEIVER_DELTA.format(union=union, month_end=_last_day(dialect, "month")),
    )


def _ledger_statements(dialect, E, s):
    """A ledger entry's contribution: generated / self-used flows, or (a stock count) the
    mark that the month's last count must be read again. One statement (no receiver side)."""
    month = _month_of_date(dialect, f"{E}.occurred_on")
    flows = (
        f"SELECT {E}.producer_id, {E}.waste_code, {_month(dialect, month)}, "
        f"CASE WHEN {E}.kind = 'generated' THEN {s} * {E}.quantity_kg ELSE 0 END, "
        f"CASE WHEN {E}.kind = 'self_used' THEN {s} * {E}.quantity_kg ELSE 0 END, 0, "
        f"CASE WHEN {E}.kind = 'stock_count' THEN 1 ELSE 0 END "
        f"WHERE {E}.kind IN ('generated', 'self_used', 'stock_count')"
    )
    return (PRODUCER_DELTA.format(select=flows),)


# Which columns each side of a row's contribution depends on: an update that changes none
# of them writes no delta for that side (a receipt does not touch the producer's months).
LINE_PRODUCER = "manifest_id, waste_code, loaded_kg"
LINE_RECEIVER = "manifest_id, waste_code, accepted_kg, disposed_kg, disposal_method, disposal_date"
MANIFEST_PRODUCER = "producer_id, picked_up_at"
MANIFEST_RECEIVER = "receiver_id, received_at"
LEDGER_COLUMNS = "producer_id, waste_code, kind, quantity_kg, occurred_on"
SIDES = {
    "manifest_lines": (LINE_PRODUCER, LINE_RECEIVER),
    "manifests": (MANIFEST_PRODUCER, MANIFEST_RECEIVER),
    "ledger_entries": (LEDGER_COLUMNS,),
}
BUILDERS = {
    "manifest_lines": _line_statements,
    "manifests": _manifest_statements,
    "ledger_entries": _ledger_statements,
}
SQLITE_TRIGGERS = [
    f"hw_totals_{table}_{op_}"
    for table in ("manifest_lines", "manifests", "ledger_entries")
    for op_ in ("insert", "update", "delete")
    if not (table == "manifests" and op_ != "update")
]
PG_TRIGGERS = [
    ("manifest_lines", "hw_totals_manifest_lines"),
    ("manifests", "hw_totals_manifests"),
    ("ledger_entries", "hw_totals_ledger_entries"),
]


def _columns(table):
    seen = []
    for side in SIDES[table]:
        seen += [c for c in side.split(", ") if c not in seen]
    return seen


def _changed(columns, distinct):
    op_ = "IS DISTINCT FROM" if distinct else "IS NOT"
    return " OR ".join(f"OLD.{c} {op_} NEW.{c}" for c in columns)


def _guarded(statement, condition):
    """``statement`` (an INSERT … SELECT) only when ``condition`` holds (SQLite has no IF
    in triggers: the SELECT is wrapped and filtered)."""
    head, select = statement.split(" SELECT ", 1)
    return f"{head} SELECT * FROM (SELECT {select}) g WHERE {condition}"


def _sqlite_triggers():
    def body(statements):
        return "BEGIN " + "; ".join(statements) + "; END"

    out = []
    for table in ("manifest_lines", "ledger_entries"):
        build = BUILDERS[table]
        out.append(
            f"CREATE TRIGGER hw_totals_{table}_insert AFTER INSERT ON {table} "
            + body(build("sqlite", "NEW", 1))
        )
        out.append(
            f"CREATE TRIGGER hw_totals_{table}_delete AFTER DELETE ON {table} "
            + body(build("sqlite", "OLD", -1))
        )
    for table in ("manifest_lines", "manifests", "ledger_entries"):
        build = BUILDERS[table]
        columns = _columns(table)
        statements = []
        for old, new, side in zip(
            build("sqlite", "OLD", -1), build("sqlite", "NEW", 1), SIDES[table], strict=True
        ):
            condition = _changed(side.split(", "), distinct=False)
            statements += [_guarded(old, condition), _guarded(new, condition)]
        out.append(
            f"CREATE TRIGGER hw_totals_{table}_update AFTER UPDATE OF {', '.join(columns)} "
            f"ON {table} WHEN {_changed(columns, distinct=False)} " + body(statements)
        )
    return out


def _pg_triggers():
    out = []
    for table, name in PG_TRIGGERS:
        build = BUILDERS[table]
        updates = " ".join(
            f"IF {_changed(side.split(', '), distinct=True)} THEN {old}; {new}; END IF;"
            for old, new, side in zip(
                build("postgresql", "OLD", -1),
                build("postgresql", "NEW", 1),
                SIDES[table],
                strict=True,
            )
        )
        deletes = " ".join(f"{s};" for s in build("postgresql", "OLD", -1))
        inserts = " ".join(f"{s};" for s in build("postgresql", "NEW", 1))
        out.append(
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN "
            f"IF TG_OP = 'UPDATE' THEN {updates} "
            f"ELSIF TG_OP = 'DELETE' THEN {deletes} "
            f"ELSE {inserts} END IF; "
            "RETURN NULL; END $$"
        )
        columns = _columns(table)
        events = "UPDATE OF " + ", ".join(columns)
        if table != "manifests":
            events = f"INSERT OR DELETE OR {events}"
        out.append(
            f"CREATE TRIGGER {name} AFTER {events} ON {table} FOR EACH ROW "
            f"EXECUTE FUNCTION {name}()"
        )
    return out
