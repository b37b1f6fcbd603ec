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


def _legacy_chain(rows):
    """Entries hashed as the release before per-subject chains did (one global chain)."""
    import hashlib

    prev, out = "0" * 64, []
    for i, (otype, oid, payload) in enumerate(rows):
        at = f"2026-11-2{i}T08:00:00.000001+00:00"
        content = "\x1f".join([prev, at, "", "test.legacy", otype, oid, payload])
        digest = hashlib.sha256(content.encode()).hexdigest()
        out.append({"at": at, "t": otype, "o": oid, "p": payload, "ph": prev, "h": digest})
        prev = digest
    return out, prev


def _scratch_at_legacy(tmp_path, rows, tamper=False):
    from flask_migrate import upgrade
    from sqlalchemy import text

    from hazwaste import create_app
    from tests.conftest import test_config

    scratch = create_app(test_config(f"sqlite:///{tmp_path / 'legacy.db'}"))
    with scratch.app_context():
        upgrade(revision="d07866ec2123")
        entries, head = _legacy_chain(rows)
        with db.engine.begin() as conn:
            for e in entries:
                conn.execute(
                    text(
                        "INSERT INTO audit_entries (occurred_at, action, object_type, object_id,"
                        " payload, prev_hash, hash) VALUES (:at, 'test.legacy', :t, :o, :p,"
                        " :ph, :h)"
                    ),
                    {**e, "at": e["at"].replace("T", " ").replace("+00:00", "")},
                )
            conn.execute(
                text("INSERT INTO audit_head (id, last_entry_id, last_hash) VALUES (1, :n, :h)"),
                {"n": len(entries), "h": head},
            )
            if tamper:
                conn.execute(text("UPDATE audit_entries SET payload = '[1]' WHERE id = 2"))
    return scratch, head


def test_legacy_chain_is_rehashed_into_chains_per_subject(tmp_path):
    """A verified legacy chain becomes per-subject chains plus one entry anchoring its head;
    the first checkpoint then covers them all and verify is OK."""
    import json

    from flask_migrate import upgrade
    from sqlalchemy import select

    from hazwaste.audit import services as audit
    from hazwaste.audit.models import AuditEntry
    from hazwaste.db import utcnow

    rows = [("manifest", "1", '{"a":1}'), ("user", "7", "{}"), ("manifest", "1", '{"a":2}')]
    scratch, head = _scratch_at_legacy(tmp_path, rows)
    with scratch.app_context():
        upgrade()
        assert "audit_head" not in inspect(db.engine).get_table_names()
        entries = list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        assert [(e.object_id, e.chain_seq) for e in entries[:3]] == [("1", 1), ("7", 1), ("1", 2)]
        assert entries[2].prev_id == entries[0].id
        anchor = entries[3]
        assert anchor.action == "audit.log_migrated"
        assert json.loads(anchor.payload) == {"legacy_entries": 3, "legacy_head_hash": head}
        assert audit.verify(db.session).ok
        audit.checkpoint(db.session, utcnow())
        db.session.commit()
        result = audit.verify(db.session)
        assert result.ok and result.tree_size == 4
        db.session.remove()
        db.engine.dispose()


def test_tampered_legacy_chain_stops_the_upgrade(tmp_path, capfd):
    import pytest
    from flask_migrate import upgrade

    rows = [("manifest", "1", '{"a":1}'), ("user", "7", "{}"), ("manifest", "1", '{"a":2}')]
    scratch, _ = _scratch_at_legacy(tmp_path, rows, tamper=True)
    with scratch.app_context():
        # Flask-Migrate logs the migration's RuntimeError and exits 1.
        with pytest.raises(SystemExit):
            upgrade()
        assert "audit entry 2 breaks the legacy hash chain" in capfd.readouterr().err
        assert "audit_head" in inspect(db.engine).get_table_names(), "nothing was changed"
        db.engine.dispose()
