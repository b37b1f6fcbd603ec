"""The queue that carries outbox job ids to workers: Huey.

``HAZWASTE_QUEUE_URL`` chooses Huey's storage:

- unset or ``sqlite:///PATH`` — SQLite (``instance/queue.db`` by default): embedded, no server,
  for development and a single machine;
- ``redis://HOST:PORT/DB`` — Redis: production, several app servers and several workers on
  several machines share one queue;
- ``off`` — no queue: nothing is pushed and ``flask jobs run-pending`` (cron) runs the outbox.

The queue only carries ids; the outbox table is the truth (see :mod:`hazwaste.jobs.outbox`).
Huey's own retries are not used: the outbox counts attempts, backs off and dead-letters.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab

from hazwaste.db import utcnow
from hazwaste.jobs import outbox

HUEY_EXTENSION = "hazwaste.jobs.huey"
HUEY_NAME = "hazwaste"
#: Longest wait between two polls of an idle queue (Huey backs off up to this). Redis blocks on
#: the list instead of polling; SQLite is polled, so this bounds a job's start latency.
POLL_MAX_DELAY = 1.0
SCHEMES = ("redis://", "rediss://", "unix://", "sqlite:///", "memory://")


def make_huey(url: str, instance_path: str, name: str = HUEY_NAME) -> Huey | None:
    """The Huey instance for ``url`` (``None`` for ``off``); ``ValueError`` for an unknown
    scheme, so a mistyped URL stops the app at start instead of losing pushes."""
    url = (url or "").strip()
    if url.lower() in {"off", "none"}:
        return None
    if url.startswith(SCHEMES[:3]):
        return RedisHuey(name, url=url, results=False)
    if url == "memory://":
        return MemoryHuey(name, results=False)
    if not url or url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :] if url else str(Path(instance_path) / "queue.db")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(name, filename=path, results=False)
    raise ValueError(f"HAZWASTE_QUEUE_URL: unsupported queue URL {url!r}")


class Queue:
    """Huey bound to the app: its tasks, the pusher the outbox calls after commit.

    The Huey instance is built on first use, so creating the app opens no queue connection.
    """

    def __init__(self, app: Flask, url: str, name: str = HUEY_NAME):
        self.app, self.url, self.name = app, url, name
        self._huey: Huey | None = None
        self._tasks: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def huey(self) -> Huey:
        with self._lock:
            if self._huey is None:
                huey = make_huey(self.url, self.app.instance_path, self.name)
                if huey is None:
                    raise RuntimeError("the queue is off (HAZWASTE_QUEUE_URL=off)")
                self._register(huey)
                self._huey = huey
            return self._huey

    def task(self, name: str) -> Any:
        self.huey  # noqa: B018  (builds it and its tasks)
        return self._tasks[name]

    def _register(self, huey: Huey) -> None:
        app = self.app
        interval = int(app.config["JOB_SWEEP_INTERVAL"].total_seconds())

        @huey.task(name="outbox.run_job")
        def run_job(job_id: int) -> str:
            from hazwaste.extensions import db

            with app.app_context():
                try:
                    return outbox.run_job(db.session, utcnow(), job_id)
                finally:
                    db.session.remove()  # type: ignore[attr-defined]

        @huey.task(name="outbox.sweep")
        def sweep() -> int:
            from hazwaste.extensions import db

            with app.app_context():
                try:
                    ids = outbox.sweep(db.session, utcnow())
                    db.session.commit()  # pushes the swept ids (after_commit)
                    return len(ids)
                finally:
                    db.session.remove()  # type: ignore[attr-defined]

        @huey.task(name="outbox.periodic")
        def run_periodic(name: str) -> None:
            from hazwaste.extensions import db

            entry = outbox.periodic().get(name)
            if entry is None:
                return
            with app.app_context():
                try:
                    entry[0](db.session, utcnow())
                finally:
                    db.session.remove()  # type: ignore[attr-defined]

        # Huey's periodic tasks have minute resolution: each minute, schedule a sweep every
        # JOB_SWEEP_INTERVAL seconds, and each registered periodic function at its interval.
        # With several consumers each schedules its own; sweeps are cheap and share the work
        # (SKIP LOCKED, swept_at), and periodic functions are safe to run side by side.
        @huey.periodic_task(crontab(), name="outbox.schedule_sweeps")
        def schedule_sweeps() -> None:
            for delay in range(0, 60, max(1, interval)):
                sweep.schedule(delay=delay)
            minute = int(time.time() // 60)
            for name, (_fn, every) in outbox.periodic().items():
                step = max(1, int(every.total_seconds()))
                if step >= 60:
                    # Longer intervals: in the minutes that are a multiple of the interval.
                    if minute % (step // 60) == 0:
                        run_periodic.schedule(args=(name,), delay=0)
                    continue
                for delay in range(0, 60, step):
                    run_periodic.schedule(args=(name,), delay=delay)

        self._tasks = {
            "run_job": run_job,
            "sweep": sweep,
            "run_periodic": run_periodic,
            "schedule_sweeps": schedule_sweeps,
        }

    def push(self, job_ids: list[int], eta: datetime | None = None) -> None:
        task = self.task("run_job")
        for job_id in job_ids:
            if eta is None:
                task(job_id)
            else:
                task.schedule(args=(job_id,), eta=eta)

    def consumer(self, workers: int) -> Any:
        """A Huey consumer running jobs in ``workers`` threads, with the periodic sweeper."""
        return self.huey.create_consumer(
            workers=workers, worker_type="thread", periodic=True, max_delay=POLL_MAX_DELAY
        )


def init_app(app: Flask) -> Queue | None:
    url = app.config["QUEUE_URL"]
    if (url or "").strip().lower() in {"off", "none"}:
        app.extensions.pop(outbox.PUSHER_EXTENSION, None)
        return None
    if url.strip() and not url.strip().startswith(SCHEMES):
        raise ValueError(f"HAZWASTE_QUEUE_URL: unsupported queue URL {url!r}")
    queue = Queue(app, url)
    app.extensions[HUEY_EXTENSION] = queue
    app.extensions[outbox.PUSHER_EXTENSION] = queue
    return queue


def get_queue(app: Flask) -> Queue | None:
    return app.extensions.get(HUEY_EXTENSION)
