"""gunicorn settings for production: ``gunicorn app:app`` (gunicorn reads this file from the
working directory; elsewhere ``gunicorn -c /path/to/gunicorn.conf.py app:app``).

Every setting can be changed through the environment, and command-line flags (``-w``, ``-b``)
override this file:

=======================  ===============================  =========================================
variable                 default                          meaning
=======================  ===============================  =========================================
``GUNICORN_BIND``        ``127.0.0.1:8000``               address(es) to listen on, comma-separated
                                                          (``unix:/run/hazwaste.sock`` for a socket)
``WEB_CONCURRENCY``      2 × cores + 1                    worker processes of this app server
``GUNICORN_THREADS``     ``1``                            threads per worker (above 1: gthread)
``GUNICORN_TIMEOUT``     ``60``                           seconds a worker may be silent (one
                                                          request) before it is killed and replaced
``GUNICORN_GRACEFUL_TIMEOUT``  ``30``                     seconds running requests get on restart
``GUNICORN_KEEPALIVE``   ``5``                            seconds a keep-alive connection waits
``GUNICORN_MAX_REQUESTS``  ``0`` (never)                  recycle a worker after this many requests
``GUNICORN_ACCESS_LOG``  off                              ``-`` for stdout, or a file path
``GUNICORN_LOG_LEVEL``   ``info``                         error log level (the error log is stderr)
=======================  ===============================  =========================================

The application is imported once in the master (``preload_app``): workers are forked from it
already loaded, so a (re)start answers within a second or two, and a broken configuration
(e.g. no ``HAZWASTE_PUBLIC_BASE_URL``) stops the master at once instead of looping workers.
Database connections are never shared across the fork (see :func:`post_fork`).

The app keeps no state in the process: every app server (machine) runs its own gunicorn with
its own workers against the same ``DATABASE_URL``; the login counters (``RATELIMIT_STORAGE_URI``)
and the job queue (``HAZWASTE_QUEUE_URL``) point at the same Redis.
"""

from __future__ import annotations

import os
from typing import Any


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may use (containers, taskset)
    except (AttributeError, OSError):
        return os.cpu_count() or 1


wsgi_app = "app:app"
bind = [b.strip() for b in os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",") if b]
# Sync workers, one request each: a hand-off is a short database transaction, so the usual
# 2 × cores + 1 keeps the CPUs busy while some workers wait on PostgreSQL.
workers = _int("WEB_CONCURRENCY", 2 * _cores() + 1)
threads = _int("GUNICORN_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"
preload_app = True
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
max_requests = _int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = max_requests // 10
# Request line and headers: gunicorn's limits; bodies are limited by the app (413).
limit_request_line = 8190
# The workers' heartbeat files: in memory, so a slow or full disk cannot stall them.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
proc_name = "hazwaste"


def post_fork(server: Any, worker: Any) -> None:
    """Give each worker its own database connections.

    With ``preload_app`` the application, and with it SQLAlchemy's connection pool, was built
    in the master; a connection opened there (none is, today) would be shared by every forked
    worker and their statements would interleave on one socket. ``dispose(close=False)``
    forgets the inherited connections without closing them for the master.
    """
    flask_app = getattr(server.app, "callable", None)
    if flask_app is None:  # not preloaded: each worker builds its own app and pool
        return
    from hazwaste.extensions import db

    with flask_app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)
