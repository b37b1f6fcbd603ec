"""Models and Alembic migrations agree, and the migrations go down and up again cleanly."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from hazwaste.extensions import db

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def pending_changes(connection) -> list:
    """What ``flask db migrate`` would write: the autogenerate diff of models vs database.

    Nothing is ignored. Types and server defaults are compared too (Alembic compares types
    by default; server defaults only when asked), so a changed length or default counts.
    """
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "render_as_batch": connection.dialect.name == "sqlite",
        },
    )
    return compare_metadata(context, db.metadata)


def test_models_and_migrations_agree(app):
    """The test database was built by the migrations (conftest); the models must match it."""
    with app.app_context(), db.engine.connect() as connection:
        diff = pending_changes(connection)
    assert diff == [], "models changed without a migration:\n" + "\n".join(map(str, diff))


def test_single_head():
    """Two migrations written in parallel on the same parent need a merge before release."""
    from alembic.config import Config

    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"several heads: {heads}"


def test_downgrade_to_base_and_upgrade_again(app, tmp_path):
    """On a scratch SQLite file: head → base leaves no table behind; base → head again
    rebuilds the same schema as the models."""
    from flask_migrate import downgrade, upgrade

    from hazwaste import create_app
    from tests.conftest import test_config

    scratch = create_app(test_config(f"sqlite:///{tmp_path / 'scratch.db'}"))
    with scratch.app_context():
        engine = db.engine
        upgrade()
        full = set(inspect(engine).get_table_names())
        assert set(db.metadata.tables) <= full
        downgrade(revision="base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert set(inspect(engine).get_table_names()) == full
        with engine.connect() as connection:
            assert pending_changes(connection) == []
        engine.dispose()


def test_monthly_totals_triggers_are_in_place(app):
    """The balance rules trust the monthly totals, which only the triggers keep. A later
    migration that rebuilds one of their tables (SQLite batch mode copies the table and
    drops its triggers) must create them again: this fails if it did not."""
    from sqlalchemy import text

    with app.app_context(), db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            found = connection.execute(
                text(
                    "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                    "WHERE t.tgname LIKE 'hw_totals_%' AND NOT t.tgisinternal"
                )
            ).scalars()
            assert sorted(found) == ["ledger_entries", "manifest_lines", "manifests"]
        else:
            found = connection.execute(
                text("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
            ).all()
            tables = sorted(t for t, name in found if name.startswith("hw_totals_"))
            assert tables == ["ledger_entries"] * 3 + ["manifest_lines"] * 3 + ["manifests"]
