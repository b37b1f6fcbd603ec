"""Holiday schedules: the official 国务院办公厅 schedule of each year as data (file, upload,
API), the source of :mod:`hazwaste.workdays`; loading a year recomputes what was computed
from the estimate."""

from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l


def init_app(app: Flask) -> None:
    from hazwaste.db import utcnow
    from hazwaste.extensions import db
    from hazwaste.holidays import api, services, views  # noqa: F401  (API routes)
    from hazwaste.holidays.cli import holidays_cli
    from hazwaste.holidays.schemas import RecomputeJobSchema
    from hazwaste.jobs import outbox

    app.register_blueprint(views.bp)

    @app.context_processor
    def next_year() -> dict[str, Any]:
        def missing() -> int | None:
            return services.missing_next_year(db.session, utcnow())

        return {"holiday_year_missing": missing}

    app.cli.add_command(holidays_cli)
    outbox.register(
        services.RECOMPUTE,
        services.recompute_job,
        schema=RecomputeJobSchema,
        summary=lambda payload: str(payload.get("year", "")),
        label=_l("Dates computed again after a holiday schedule was loaded"),
    )
