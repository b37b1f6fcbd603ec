"""After-commit jobs: a transactional outbox (:mod:`.outbox`) drained by Huey workers
(:mod:`.queue`), with a dead-letter page for the platform administrator and ``flask jobs``.

Low-level like :mod:`hazwaste.db`: domains import it to enqueue work and register handlers;
it imports no domain.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    from hazwaste.jobs import queue, views
    from hazwaste.jobs.cli import jobs_cli

    queue.init_app(app)
    app.register_blueprint(views.bp)
    app.cli.add_command(jobs_cli)
