"""The dead-letter list: jobs that failed every attempt, for the platform administrator."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from hazwaste.accounts.permissions import platform_admin_required
from hazwaste.db import utcnow
from hazwaste.extensions import db
from hazwaste.jobs import outbox
from hazwaste.pagination import paginate

bp = Blueprint("jobs", __name__)


@bp.get("/admin/jobs")
@platform_admin_required
def dead_letters() -> Any:
    page = paginate(
        db.session,
        outbox.dead_jobs_query(),
        request.args.get("page", 1, type=int) or 1,
        int(current_app.config["PAGE_SIZE"]),
    )
    return render_template(
        "jobs/dead_letters.html", page=page, summary=outbox.summary, kind_label=outbox.label
    )


@bp.post("/admin/jobs/<int:job_id>/retry")
@platform_admin_required
def retry(job_id: int) -> Any:
    try:
        outbox.retry(db.session, utcnow(), job_id)
    except outbox.NotRetryable:
        db.session.rollback()
        flash(_("This job is no longer on the dead-letter list."), "error")
    else:
        db.session.commit()
        flash(_("The job was queued again."))
    return redirect(url_for("jobs.dead_letters"))
