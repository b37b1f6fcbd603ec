"""The Alembic migrations build exactly the schema the models describe, and go down and up."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hazwaste.extensions import db


def test_no_pending_autogenerate_diff(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_downgrade_to_base_and_upgrade_again(tmp_path):
    from flask_migrate import downgrade, upgrade

    from hazwaste import create_app
    from tests.conftest import test_config

    scratch = create_app(test_config(f"sqlite:///{tmp_path / 'scratch.db'}"))
    with scratch.app_context():
        upgrade()
        downgrade(revision="base")
        upgrade()
        from sqlalchemy import inspect

        tables = set(inspect(db.engine).get_table_names())
        assert {"manifests", "flags", "containers", "licences"} <= tables
