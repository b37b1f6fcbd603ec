"""Flask extensions, created unbound here and bound in :func:`init_extensions`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from hazwaste.db import Base, configure_sqlite

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    class _TypedSQLAlchemy(SQLAlchemy):
        # ``db.session`` is a scoped_session that proxies every Session method; services are
        # typed against Session, so tell the type checker what the proxy stands for.
        session: Session  # type: ignore[assignment]

    db = _TypedSQLAlchemy(model_class=Base)
else:
    db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def init_extensions(app: Flask) -> None:
    """Bind every extension to ``app``; locale selection is added by :mod:`hazwaste.i18n`."""
    import hazwaste.models  # noqa: F401  (complete metadata for Alembic and create_all)

    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            configure_sqlite(engine)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
