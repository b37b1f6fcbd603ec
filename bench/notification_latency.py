"""From a hand-off's commit to the people and systems it concerns: inbox and webhook latency.

    python bench/notification_latency.py [--database-url URL | --sqlite] [--runs N]
                                         [--queue-url URL] [--pause S]

Without ``--database-url`` it starts a throw-away PostgreSQL cluster when the binaries are
installed (else, or with ``--sqlite``, a SQLite file in a temporary directory). Then:

1. ``flask db upgrade`` and ``load-reference``; the world of ``bench/_serving.build_world``
   (N submitted manifests, their producers, carriers, drivers and receivers, one API token
   per driver);
2. one webhook endpoint per producer for ``manifest.picked_up``, pointing to a receiver in
   this process on loopback (``HAZWASTE_WEBHOOKS_ALLOW_PRIVATE=1``) that checks each
   delivery's HMAC signature as the published snippet does and notes when it arrived;
3. gunicorn (2 workers) and one ``flask jobs worker``, the production shape; the queue is
   ``--queue-url``, else a throw-away Redis when installed, else a SQLite file;
4. N pickups through the API, one at a time with ``--pause`` seconds between (an idle
   system: this is the latency a person waits, not a throughput test). For each: the
   pickup's answer marks the commit (the hand-off answers after it commits); a poller reads
   the ``notifications`` table every 5 ms until the producer's staff have their inbox rows;
   the receiver notes the webhook's arrival.

Printed: the pickup's own response time, and commit → inbox row and commit → webhook
received (p50, p95, max), as JSON on stdout; progress on stderr. The chain measured is the
whole after-commit path: outbox row → push → worker → ``events.dispatch`` → the
subscribers' jobs (``notifications.fanout``, ``webhooks.deliver``) → their commits / the
signed POST.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _serving as sv

POLL = 0.005
TOLERANCE_S = 300  # the signature's timestamp window, as in the published snippet


class Receiver(ThreadingHTTPServer):
    """A webhook receiver: verifies the signature and notes (monotonic) arrival per event."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", sv.free_port()), _Handler)
        self.secrets: list[str] = []
        self.arrived: dict[int, float] = {}  # manifest id → first arrival
        self.bad = 0
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        seen = time.monotonic()
        ok = _verified(self.server.secrets, self.headers.get("Hazwaste-Signature", ""), body)
        with self.server.lock:
            if not ok:
                self.server.bad += 1
            else:
                event = json.loads(body)
                self.server.arrived.setdefault(int(event["object"]["id"]), seen)
        self.send_response(204 if ok else 400)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _verified(secrets: list[str], header: str, body: bytes) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if abs(time.time() - int(parts.get("t", "0"))) > TOLERANCE_S:
        return False
    signed = parts.get("t", "").encode() + b"." + body
    return any(
        hmac.compare_digest(hmac.new(s.encode(), signed, hashlib.sha256).hexdigest(), parts["v1"])
        for s in secrets
        if "v1" in parts
    )


def register_endpoints(database_url: str, url: str) -> list[str]:
    """One endpoint per producer organization (made by its admin); their secrets."""
    from sqlalchemy import select

    from hazwaste.accounts.models import Organization, User, UserRole
    from hazwaste.db import utcnow
    from hazwaste.extensions import db
    from hazwaste.webhooks import services as webhooks

    app = sv._app(database_url)
    secrets = []
    with app.app_context():
        admins = db.session.scalars(
            select(User)
            .join(Organization, User.organization_id == Organization.id)
            .where(Organization.is_producer, User.role == UserRole.ADMIN)
        ).all()
        for admin in admins:
            endpoint = webhooks.create_endpoint(
                db.session, utcnow(), admin, url, ["manifest.picked_up"]
            )
            secrets.append(endpoint.secret)
        db.session.commit()
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    return secrets


def inbox_rows(engine: Any, manifest_id: int) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM notifications WHERE event_type = 'manifest.picked_up'"
                    " AND subject_kind = 'manifest' AND subject_id = :id"
                ),
                {"id": manifest_id},
            ).scalar_one()
        )


def drain(engine: Any, limit: float = 120) -> None:
    """Wait until the outbox holds no job due now (the worker has caught up)."""
    from sqlalchemy import text

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            pending = conn.execute(
                text(
                    "SELECT count(*) FROM outbox_jobs WHERE status = 'pending'"
                    " AND next_attempt_at <= :now"
                ),
                {
                    "now": datetime.now(UTC).replace(tzinfo=None)
                    if engine.dialect.name == "sqlite"
                    else datetime.now(UTC)
                },
            ).scalar_one()
        if not pending:
            time.sleep(0.5)  # and whatever the last ones started
            return
        time.sleep(0.1)
    sys.exit(f"the job worker did not catch up in {limit} s")


def job_stages(engine: Any, since: datetime) -> dict[str, Any]:
    """Per job kind, from its outbox row's creation to its done mark (where the time goes)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT kind, created_at, done_at, attempts, swept_at FROM outbox_jobs"
                " WHERE created_at >= :since AND done_at IS NOT NULL"
            ),
            {"since": since.replace(tzinfo=None) if engine.dialect.name == "sqlite" else since},
        ).all()
    by_kind: dict[str, list[float]] = {}
    retried: dict[str, int] = {}
    swept: dict[str, int] = {}
    for kind, created, done, attempts, swept_at in rows:
        created, done = _aware(created), _aware(done)
        by_kind.setdefault(kind, []).append((done - created).total_seconds())
        retried[kind] = retried.get(kind, 0) + (1 if attempts else 0)
        # Pushed again by the sweeper: the first push did not start it.
        swept[kind] = swept.get(kind, 0) + (1 if swept_at is not None else 0)
    return {
        k: {**summary(v), "retried": retried[k], "swept": swept[k]}
        for k, v in sorted(by_kind.items())
    }


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def summary(values: list[float]) -> dict[str, float | None]:
    def ms(v: float | None) -> float | None:
        return None if v is None else round(v * 1000, 1)

    return {
        "p50_ms": ms(sv.percentile(values, 50)),
        "p95_ms": ms(sv.percentile(values, 95)),
        "max_ms": ms(max(values) if values else None),
        "n": len(values),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="an empty database (default: throw-away)")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file, not PostgreSQL")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--pause", type=float, default=0.3)
    parser.add_argument("--queue-url", help="HAZWASTE_QUEUE_URL (default: Redis, else SQLite)")
    parser.add_argument("--timeout", type=float, default=30, help="give up on one run after")
    args = parser.parse_args()

    os.environ["HAZWASTE_WEBHOOKS_ALLOW_PRIVATE"] = "1"
    tmp = Path(tempfile.mkdtemp(prefix="hazwaste-notify-"))
    cluster: sv.Cluster | None = None
    redis: sv.Redis | None = None
    server: sv.Server | None = None
    worker: sv.JobWorker | None = None
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        if args.database_url:
            url, backend = args.database_url, "given"
        elif args.sqlite or not sv.Cluster.available():
            url, backend = f"sqlite:///{tmp / 'bench.db'}", "sqlite"
        else:
            cluster = sv.Cluster()
            cluster.__enter__()
            url, backend = cluster.url, "postgresql"
        port = sv.free_port()
        queue, redis = sv.queue_url(args.queue_url, tmp)
        env = sv.server_env(
            url, port, HAZWASTE_QUEUE_URL=queue, HAZWASTE_WEBHOOKS_ALLOW_PRIVATE="1"
        )
        sv.migrate(env)
        world = sv.build_world(url, args.runs, drivers=2, receiver_users=2, producers=2)
        receiver.secrets = register_endpoints(url, f"http://127.0.0.1:{receiver.server_port}/")
        sv.log(f"world: {world.counts}; database {backend}; queue {queue.split(':')[0]}")

        server = sv.Server(env, port, 2, tmp / "gunicorn.log")
        server.start()
        server.wait_ready()
        worker = sv.JobWorker(env, tmp / "jobs.log")
        worker.start()
        from sqlalchemy import create_engine

        engine = create_engine(url)
        drain(engine)  # the world's own jobs (its submissions' notifications) go first
        answered, inbox, hooks, lost = [], [], [], []
        load_started = datetime.now(UTC)
        for i, job in enumerate(world.jobs):
            path, body, token = sv.step_request(job, "pickup")
            started = time.monotonic()
            status, _ = sv.request(port, "POST", path, body, token=token, key=str(uuid.uuid4()))
            committed = time.monotonic()
            if status != 200:
                sys.exit(f"pickup {job.number}: HTTP {status}; see {tmp / 'gunicorn.log'}")
            answered.append(committed - started)
            got_inbox = got_hook = None
            while time.monotonic() - committed < args.timeout:
                if got_inbox is None and inbox_rows(engine, job.manifest_id):
                    got_inbox = time.monotonic()
                with receiver.lock:
                    got_hook = receiver.arrived.get(job.manifest_id)
                if got_inbox is not None and got_hook is not None:
                    break
                time.sleep(POLL)
            if got_inbox is None or got_hook is None:
                lost.append(job.number)
            else:
                inbox.append(got_inbox - committed)
                hooks.append(got_hook - committed)
            if i % 10 == 9:
                sv.log(f"{i + 1}/{len(world.jobs)} pickups")
            time.sleep(args.pause)
        stages = job_stages(engine, load_started)
        engine.dispose()
        result = {
            "database": backend,
            "queue": queue.split(":")[0],
            "runs": len(world.jobs),
            "pickup_response": summary(answered),
            "commit_to_inbox_row": summary(inbox),
            "commit_to_webhook_received": summary(hooks),
            "job_created_to_done_by_kind": stages,
            "not_arrived_within_timeout": lost,
            "bad_signatures": receiver.bad,
            "poll_interval_ms": POLL * 1000,
        }
        print(json.dumps(result, indent=2, ensure_ascii=False))
    finally:
        if worker:
            worker.stop()
        if server:
            server.stop()
        receiver.shutdown()
        if redis:
            redis.stop()
        if cluster:
            cluster.__exit__(None, None, None)


if __name__ == "__main__":
    main()
