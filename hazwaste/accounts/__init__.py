"""Accounts: organizations, regulator bodies, users, login, API tokens."""

from flask import Flask

from hazwaste.extensions import db, login_manager


def init_app(app: Flask) -> None:
    from flask import g, request, session
    from flask_babel import lazy_gettext
    from flask_login import current_user

    from hazwaste.accounts import sessions, views
    from hazwaste.accounts.models import User
    from hazwaste.accounts.services import configure_hasher
    from hazwaste.db import utcnow

    configure_hasher(app.config.get("PASSWORD_HASH_PARAMS"))

    login_manager.login_view = "accounts.login"
    login_manager.login_message = lazy_gettext("Please log in to see this page.")
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "basic"  # phones change IP on mobile networks

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        """The user of the request's cookie, only while its server-side session runs.

        Also used for a remember-me cookie (which this application never sets): such a
        cookie carries no session record, so it is refused like an ended session.
        """
        try:
            uid = int(user_id)
        except (TypeError, ValueError):
            return None
        now = utcnow()
        record = sessions.live_session(
            db.session,
            now,
            uid,
            session.get(sessions.SESSION_KEY),
            app.config["PERMANENT_SESSION_LIFETIME"],
        )
        if record is None:
            return None
        g.user_session_id = record.id
        g.user_session_touch = sessions.touch_due(record, now, app.config["SESSION_TOUCH_INTERVAL"])
        return record.user

    @app.before_request
    def refresh_login_session() -> None:
        """Check the cookie's session first thing, and record when it was last seen.

        The write happens here, before the view has done anything, so committing it commits
        nothing else; it happens at most once per ``SESSION_TOUCH_INTERVAL`` per session.
        """
        if request.endpoint == "static" or request.blueprint == "api":
            return
        if "_user_id" not in session:
            return
        if current_user.is_authenticated and g.pop("user_session_touch", False):
            sessions.touch(
                db.session, utcnow(), g.user_session_id, app.config["SESSION_TOUCH_INTERVAL"]
            )
            db.session.commit()

    app.register_blueprint(views.bp)
