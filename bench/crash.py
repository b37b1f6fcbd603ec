"""Crash test: kill -9 the app servers (and job workers) again and again during hand-offs.

    python bench/crash.py [--database-url URL] [--reset] [--kills 20] [--manifests 200]
                          [--workers 2] [--concurrency 8] [--max-seconds 150] [--seed 13]
                          [--queue-url URL]

Without ``--database-url`` it starts a throw-away PostgreSQL cluster (see
``bench/handoffs.py``). It migrates the database, builds the world (``bench/_serving.py``:
submitted manifests, a token per driver and receiver user), starts gunicorn with the
repository's ``gunicorn.conf.py`` and, when the app has ``flask jobs worker``, one job worker
(``HAZWASTE_QUEUE_URL``: ``--queue-url``, default a throw-away ``redis-server`` on loopback
when it is installed, else a SQLite file in the temporary directory); without that command
the job part is skipped and the summary says so. Then:

- C client threads play manifests (pickup, delivery, receipt, in order) as a real client:
  each request has its own Idempotency-Key and is sent again with the same key until a
  definite answer comes (a 2xx, or a 4xx other than "same key still running"); connection
  errors, timeouts and 5xx are retried after a short pause;
- meanwhile a killer sends SIGKILL to the gunicorn master and all its workers (and to the job
  worker) at the same instant, ``--kills`` times at random moments (0.2–1.5 s after the
  previous restart answered), restarting them each time and timing the restart to the first
  answer of ``/healthz``.

At the end, with the server and worker stopped (the worker first left to drain the outbox),
it checks:

- every hand-off the client saw acknowledged (2xx) has its event in the database;
- no manifest has two events of one kind (pickup, delivery, receipt);
- a 409 (state conflict) never reached the client: with retries under the same key, a
  hand-off whose first answer was lost is replayed, not refused;
- ``flask audit verify`` exits 0 (and ``flask totals verify`` when the command exists);
- when the outbox exists (table ``outbox_jobs``): no job left pending or dead, and exactly one
  done reconciliation job per recorded receipt.

The last line printed is one JSON object (``ok`` is true when every check passed).
Bounded: the load stops after ``--max-seconds``; every process started here is stopped.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _serving as sv


class Stop(Exception):
    pass


def _terminate(signum: int, frame: Any) -> None:
    raise Stop(f"signal {signum}")


class Client:
    """Hand-offs with retries under one Idempotency-Key each, until a definite answer."""

    def __init__(self, port: int, jobs: list[sv.Job], concurrency: int):
        self.port, self.concurrency = port, concurrency
        self.jobs = collections.deque(jobs)
        self.lock = threading.Lock()
        self.acked: list[tuple[int, str]] = []
        self.refused: list[str] = []  # definite non-2xx answers
        self.conflicts = 0
        self.requests = 0
        self.retries = 0
        self.replays = 0
        self.transient: collections.Counter[str] = collections.Counter()
        self.in_flight_at_end = 0
        self.deadline = 0.0

    def _send(self, path: str, body: Any, token: str) -> tuple[int, bytes] | None:
        """Until a definite answer (None when the deadline passes first)."""
        key = str(uuid.uuid4())
        first = True
        while time.monotonic() < self.deadline:
            with self.lock:
                self.requests += 1
                self.retries += not first
            first = False
            try:
                status, answer, headers = sv.request_full(
                    self.port, "POST", path, body, token=token, key=key, timeout=15
                )
            # Refused, reset, cut short, timed out: the server is down or was killed.
            except (OSError, http.client.HTTPException) as exc:
                with self.lock:
                    self.transient[type(exc).__name__] += 1
                time.sleep(0.05)
                continue
            if status >= 500 or (status == 409 and b'"status"' not in answer):
                # 5xx, or "a request with this key is still running": ask again.
                with self.lock:
                    self.transient[str(status)] += 1
                time.sleep(0.1)
                continue
            if headers.get("Idempotent-Replayed") == "true":
                with self.lock:
                    self.replays += 1
            return status, answer
        return None

    def _run(self) -> None:
        while time.monotonic() < self.deadline:
            with self.lock:
                if not self.jobs:
                    return
                job = self.jobs.popleft()
            for step in sv.STEPS:
                path, body, token = sv.step_request(job, step)
                answer = self._send(path, body, token)
                if answer is None:
                    with self.lock:
                        self.in_flight_at_end += 1
                    return
                status, text = answer
                with self.lock:
                    if 200 <= status < 300:
                        self.acked.append((job.manifest_id, step))
                        continue
                    self.conflicts += status == 409
                    self.refused.append(f"{job.manifest_id} {step} {status} {text[:200]!r}")
                break

    def start(self, max_seconds: float) -> list[threading.Thread]:
        self.deadline = time.monotonic() + max_seconds
        threads = [threading.Thread(target=self._run, daemon=True) for _ in range(self.concurrency)]
        for thread in threads:
            thread.start()
        return threads


def check_database(url: str, client: Client) -> dict[str, Any]:
    acked_by_kind = collections.defaultdict(set)
    for manifest_id, step in client.acked:
        acked_by_kind[sv.EVENT_OF_STEP[step]].add(manifest_id)
    with sv.pg_connect(sv.libpq_url(url)) as conn:
        rows = conn.execute(
            "SELECT manifest_id, kind::text, count(*) FROM manifest_events"
            " WHERE kind::text IN ('picked_up', 'delivered', 'received', 'rejected')"
            " GROUP BY manifest_id, kind"
        ).fetchall()
        present = collections.defaultdict(set)
        doubled = []
        for manifest_id, kind, n in rows:
            kind = "received" if kind == "rejected" else kind
            present[kind].add(manifest_id)
            if n > 1:
                doubled.append({"manifest_id": manifest_id, "kind": kind, "events": n})
        lost = {kind: sorted(ids - present[kind]) for kind, ids in acked_by_kind.items()}
        unacked_present = sum(len(present[k] - acked_by_kind[k]) for k in present)
        outbox: dict[str, Any] = {"exists": False}
        if conn.execute("SELECT to_regclass('outbox_jobs')").fetchone()[0]:
            by_status = dict(
                conn.execute(
                    "SELECT status::text, count(*) FROM outbox_jobs GROUP BY status"
                ).fetchall()
            )
            per_receipt = dict(
                conn.execute(
                    "SELECT (payload::json->>'manifest_id')::int, count(*) FROM outbox_jobs"
                    " WHERE kind LIKE 'reconcile%%' AND payload::json->>'manifest_id' IS NOT NULL"
                    " GROUP BY 1"
                ).fetchall()
            )
            done_per_receipt = dict(
                conn.execute(
                    "SELECT (payload::json->>'manifest_id')::int, count(*) FROM outbox_jobs"
                    " WHERE kind LIKE 'reconcile%%' AND status::text = 'done'"
                    " AND payload::json->>'manifest_id' IS NOT NULL GROUP BY 1"
                ).fetchall()
            )
            receipts = present["received"]
            # What keeps a job from being done, for the report.
            stuck = conn.execute(
                "SELECT id, status::text, attempts,"
                " round(extract(epoch FROM next_attempt_at - now())::numeric, 1),"
                " left(last_error, 200) FROM outbox_jobs WHERE status::text <> 'done'"
                " ORDER BY id LIMIT 5"
            ).fetchall()
            outbox = {
                "not_done_samples": [
                    {"id": i, "status": st, "attempts": a, "due_in_s": float(d), "error": e}
                    for i, st, a, d, e in stuck
                ],
                "exists": True,
                "by_status": by_status,
                "receipts": len(receipts),
                "receipts_without_done_job": sorted(
                    m for m in receipts if done_per_receipt.get(m, 0) != 1
                )[:20],
                "receipts_with_several_jobs": sorted(
                    m for m in receipts if per_receipt.get(m, 0) > 1
                )[:20],
                "jobs_without_receipt": sorted(set(per_receipt) - receipts)[:20],
            }
    return {
        "acknowledged": {k: len(v) for k, v in acked_by_kind.items()},
        "acknowledged_lost": {k: v[:20] for k, v in lost.items() if v},
        "acknowledged_lost_count": sum(len(v) for v in lost.values()),
        "doubled_events": doubled[:20],
        "doubled_count": len(doubled),
        "present_not_acknowledged": unacked_present,
        "outbox": outbox,
    }


def drain_outbox(url: str, limit: float) -> tuple[dict[str, int], float]:
    """Wait (the worker runs) until no job is pending; the counts and seconds waited."""
    start = time.monotonic()
    with sv.pg_connect(sv.libpq_url(url)) as conn:
        if not conn.execute("SELECT to_regclass('outbox_jobs')").fetchone()[0]:
            return {}, 0.0
        while True:
            counts = dict(
                conn.execute(
                    "SELECT status::text, count(*) FROM outbox_jobs GROUP BY status"
                ).fetchall()
            )
            if not counts.get("pending") or time.monotonic() - start > limit:
                return counts, round(time.monotonic() - start, 1)
            time.sleep(0.5)


def pending_due_in(url: str) -> float | None:
    """Seconds until the earliest pending outbox job is due (None: nothing pending)."""
    with sv.pg_connect(sv.libpq_url(url)) as conn:
        if not conn.execute("SELECT to_regclass('outbox_jobs')").fetchone()[0]:
            return None
        due = conn.execute(
            "SELECT extract(epoch FROM min(next_attempt_at) - now()) FROM outbox_jobs"
            " WHERE status::text = 'pending'"
        ).fetchone()[0]
    return None if due is None else float(due)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="an empty PostgreSQL database")
    parser.add_argument("--reset", action="store_true", help="drop the given database's schema")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--manifests", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-seconds", type=float, default=150)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--drain-seconds", type=float, default=30, help="how long the job worker drains the outbox"
    )
    parser.add_argument(
        "--queue-url", help="HAZWASTE_QUEUE_URL (default: a throw-away redis-server, else SQLite)"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    rng = random.Random(args.seed)
    load_avg = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="hazwaste-crash-"))
    cluster: sv.Cluster | None = None
    server: sv.Server | None = None
    worker: sv.JobWorker | None = None
    redis: sv.Redis | None = None
    try:
        if args.database_url:
            url = args.database_url
            from handoffs import check_empty, reset_schema

            if args.reset:
                reset_schema(url)
            check_empty(url)
        else:
            if not sv.Cluster.available():
                sys.exit(f"no PostgreSQL binaries in {sv.PG_BIN}; give --database-url")
            cluster = sv.Cluster()
            cluster.__enter__()
            url = cluster.url
            sv.log(f"throw-away PostgreSQL on 127.0.0.1:{cluster.port}")
        port = sv.free_port()
        queue, redis = sv.queue_url(args.queue_url, tmp)
        env = sv.server_env(url, port, HAZWASTE_QUEUE_URL=queue)
        sv.migrate(env)
        has_jobs = sv.has_command(env, "jobs", "worker")
        has_totals = sv.has_command(env, "totals", "verify")
        world = sv.build_world(url, args.manifests, max(8, 2 * args.concurrency), 8)
        sv.log(f"world: {world.counts} in {world.seconds:.1f} s; job worker: {has_jobs}")

        server = sv.Server(env, port, args.workers, tmp / "gunicorn.log")
        worker = sv.JobWorker(env, tmp / "worker.log") if has_jobs else None
        server.start()
        if worker:
            worker.start()
        server.wait_ready()
        client = Client(port, world.jobs, args.concurrency)
        threads = client.start(args.max_seconds)
        restarts: list[float] = []
        started = time.monotonic()
        while len(restarts) < args.kills and any(t.is_alive() for t in threads):
            time.sleep(rng.uniform(0.2, 1.5))
            server.kill9()
            if worker:
                worker.kill9()
            t0 = time.monotonic()
            server.start()
            if worker:
                worker.start()
            server.wait_ready(limit=30)
            restarts.append(time.monotonic() - t0)
            sv.log(f"kill {len(restarts)}: back in {restarts[-1]:.2f} s, {len(client.acked)} acked")
        for thread in threads:
            thread.join()
        load_seconds = time.monotonic() - started
        server.stop()
        drained: dict[str, int] = {}
        drain_s = 0.0
        ran_pending: list[str] = []
        if worker:
            drained, drain_s = drain_outbox(url, args.drain_seconds)
            worker.stop()
            # Jobs still pending were deferred or backed off (not yet due): run them here
            # once due, one at a time, as cron would (flask jobs run-pending).
            deadline = time.monotonic() + 90
            while pending_due_in(url) is not None and time.monotonic() < deadline:
                time.sleep(min(max(pending_due_in(url) or 0.0, 0.0) + 0.2, 40))
                out = sv.flask(env, "jobs", "run-pending", check=False)
                ran_pending.append((out.stdout + out.stderr).strip()[-200:])
        checkpoint = None
        if sv.has_command(env, "audit", "checkpoint"):
            # Sign a tree head over everything written, so verify checks the checkpoints too.
            out = sv.flask(env, "audit", "checkpoint", check=False)
            checkpoint = f"exit {out.returncode}: " + (out.stdout + out.stderr).strip()[-200:]
        audit = sv.flask(env, "audit", "verify", check=False)
        totals = sv.flask(env, "totals", "verify", check=False) if has_totals else None
        db = check_database(url, client)
        outbox = db["outbox"]
        checks = {
            "acknowledged_present": db["acknowledged_lost_count"] == 0,
            "no_double_event": db["doubled_count"] == 0,
            "no_409": client.conflicts == 0,
            "audit_verify": audit.returncode == 0,
            "totals_verify": None if totals is None else totals.returncode == 0,
            "outbox_exactly_once": None
            if not outbox["exists"]
            else (
                not outbox["by_status"].get("pending")
                and not outbox["by_status"].get("dead")
                and not outbox["receipts_without_done_job"]
                and not outbox["receipts_with_several_jobs"]
            ),
        }
        summary = {
            "ok": all(v is not False for v in checks.values()),
            "checks": checks,
            "kills": len(restarts),
            "restart_to_first_answer_s": {
                "p50": round(sorted(restarts)[len(restarts) // 2], 2) if restarts else None,
                "max": round(max(restarts), 2) if restarts else None,
            },
            "load_seconds": round(load_seconds, 1),
            "manifests": len(world.jobs),
            "handoffs_acknowledged": len(client.acked),
            "requests": client.requests,
            "retries": client.retries,
            "replayed": client.replays,
            "transient_failures": dict(client.transient),
            "definite_refusals": len(client.refused),
            "refusal_samples": client.refused[:5],
            "conflicts_409": client.conflicts,
            "unfinished_at_deadline": client.in_flight_at_end + len(client.jobs),
            **{k: v for k, v in db.items() if k != "outbox"},
            "audit_checkpoint": checkpoint,
            "audit_verify": (audit.stdout + audit.stderr).strip()[-300:],
            "totals_verify": None
            if totals is None
            else (totals.stdout + totals.stderr).strip()[-300:],
            "job_worker": "flask jobs worker, killed with the server each time"
            if worker
            else "skipped: this code has no `flask jobs worker` (no outbox yet)",
            "outbox": {
                **outbox,
                "drain_seconds": drain_s,
                "after_drain": drained,
                "run_pending_after_worker": ran_pending,
            },
            "workers": args.workers,
            "concurrency": args.concurrency,
            "queue": queue.split("://")[0],
            "load_average_at_start": [round(x, 2) for x in load_avg],
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        }
        if not summary["ok"]:
            for name in ("worker.log", "gunicorn.log"):
                path = tmp / name
                if path.exists():
                    tail = path.read_text(errors="replace").splitlines()[-25:]
                    print(f"--- {name} (last lines)", *tail, sep="\n", file=sys.stderr)
        print(json.dumps(summary, ensure_ascii=False, default=str))
        if not summary["ok"]:
            sys.exit(1)
    except Stop as exc:
        sys.exit(f"stopped: {exc}")
    finally:
        if server is not None:
            server.stop()
        if worker is not None:
            worker.stop()
        if cluster is not None:
            cluster.stop()
        if redis is not None:
            redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
