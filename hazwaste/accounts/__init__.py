"""Accounts: organizations, regulator bodies, users, login, API tokens."""

from flask import Flask

from hazwaste.extensions import db, login_manager


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext

    from hazwaste.accounts import views
    from hazwaste.accounts.models import User
    from hazwaste.accounts.services import configure_hasher

    configure_hasher(app.config.get("PASSWORD_HASH_PARAMS"))

    login_manager.login_view = "accounts.login"
    login_manager.login_message = lazy_gettext("Please log in to see this page.")
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "basic"  # phones change IP on mobile networks

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        user = db.session.get(User, int(user_id))
        return user if user is not None and user.active else None

    app.register_blueprint(views.bp)
