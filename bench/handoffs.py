"""Hand-offs through the JSON API under load: throughput, latency, CPU, statements, lock waits.

    python bench/handoffs.py [--database-url URL] [--workers W] [--concurrency C]
                             [--handoffs N] [--scaling] [--max-seconds S] [--reset]

Without ``--database-url`` it starts a throw-away PostgreSQL cluster (initdb into a temporary
directory, ``pg_ctl start`` on a free loopback port with ``fsync=off`` and pg_stat_statements
preloaded; deleted at the end). A given database must be empty, or ``--reset`` drops its
``public`` schema first. Then:

1. ``flask db upgrade`` and ``load-reference``;
2. the world, made through the services in this process: producers, 4 carriers (permit, one
   vehicle per driver, ``max(8, 2C)`` drivers), 4 receivers (licences covering the waste
   codes, ``max(4, C)`` gate users), ⌈N/3⌉ submitted manifests (two lines each, numbers and QR
   tokens) per run, and one API token per driver and receiver user (issued by the accounts
   service, so the login throttle is not involved);
3. gunicorn with the repository's ``gunicorn.conf.py`` and ``-w W`` on a free loopback port;
   the time from its start to the first 200 of ``/healthz`` and of an authenticated
   ``GET /api/v1/me`` is printed (and, at the end, the same after a ``kill -9`` restart);
4. statements per step: with pg_stat_statements reset, 10 pickups, 10 deliveries, 10 receipts
   and 10 GETs one after another, counting the bench database's statements (top-level: sent
   by the app, including BEGIN/COMMIT and the pool's ping; nested: run by triggers);
5. the load: C client threads each take the next manifest and do its pickup, delivery
   (by its driver) and receipt (by a receiver user) one after another, each request with
   its own Idempotency-Key; one more thread sends ``GET /api/v1/me`` with the drivers'
   tokens in a closed loop; a sampler reads ``pg_stat_activity`` every ~20 ms (backends of the
   bench database inside a transaction; share of those waiting on a lock) and the CPU of
   gunicorn (master + workers) and of the database processes (the whole throw-away cluster
   but the sampler's backend; on a given server, the bench database's backends) from
   ``/proc/<pid>/stat``. It stops after N hand-offs or ``--max-seconds``.

The job queue (``HAZWASTE_QUEUE_URL``) is ``--queue-url``, or a throw-away ``redis-server`` on
loopback when it is installed (the production backend), else a SQLite file; no job worker
runs unless ``--job-worker`` is given (then one ``flask jobs worker`` runs the receipts'
reconciliations and any periodic job during the load, and its CPU counts with the app's);
without it the jobs wait and their cost here is the enqueue and the push.

Every non-2xx answer is an error (counted by step and status; a 409 cannot come from a race
here: each manifest's steps are sequential). ``--scaling`` repeats the load with 1, 2 and 4
workers (fresh manifests each time) and reports hand-offs/s and CPU per run.

The last line printed is one JSON object: ``handoffs_per_s``, ``p50_ms``, ``p95_ms``,
``p99_ms``, ``get_per_s``, ``cpu_ms_per_handoff``, ``statements_per_handoff``,
``lock_wait_fraction``, ``workers``, ``concurrency``, ``scaling`` and details.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import math
import os
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

CALIBRATION = 10  # manifests played one step at a time to count statements per step


class Stop(Exception):
    pass


def _terminate(signum: int, frame: Any) -> None:
    raise Stop(f"signal {signum}")


# -- database probes --------------------------------------------------------------------------


class Probe:
    """A monitoring connection (database ``postgres`` of the same server when possible)."""

    def __init__(self, url: str, database: str, own_cluster: bool):
        import psycopg

        self.database, self.own_cluster = database, own_cluster
        try:
            self.conn = psycopg.connect(sv.admin_url(url), autocommit=True)
        except psycopg.OperationalError:
            self.conn = psycopg.connect(sv.libpq_url(url), autocommit=True)
        self.pid = self.conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        self.dbid = self.conn.execute(
            "SELECT oid FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()[0]
        self.pgss = self._pgss(url)

    def _pgss(self, url: str) -> bool:
        """pg_stat_statements usable? In the throw-away cluster (library preloaded) the
        extension is created in the monitoring database; on a given server it is used only
        if it already works there (nothing is created on someone else's server)."""
        import psycopg

        try:
            if self.own_cluster:
                self.conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            self.conn.execute("SELECT count(*) FROM pg_stat_statements")
            return True
        except psycopg.Error:
            return False

    def reset(self) -> None:
        if self.pgss:
            self.conn.execute("SELECT pg_stat_statements_reset()")

    def statements(self) -> dict[str, int]:
        """Calls in the bench database since the reset: top-level and nested (triggers)."""
        if not self.pgss:
            return {}
        row = self.conn.execute(
            "SELECT coalesce(sum(calls) FILTER (WHERE toplevel), 0),"
            " coalesce(sum(calls) FILTER (WHERE NOT toplevel), 0)"
            " FROM pg_stat_statements WHERE dbid = %s",
            (self.dbid,),
        ).fetchone()
        return {"top": int(row[0]), "nested": int(row[1])}

    def db_counters(self) -> dict[str, int]:
        row = self.conn.execute(
            "SELECT xact_commit + xact_rollback, tup_returned, tup_fetched, tup_inserted,"
            " tup_updated, tup_deleted FROM pg_stat_database WHERE datname = %s",
            (self.database,),
        ).fetchone()
        names = ("xacts", "returned", "fetched", "inserted", "updated", "deleted")
        return dict(zip(names, (int(v) for v in row), strict=True))

    def top_statements(self, limit: int = 12) -> list[dict[str, Any]]:
        if not self.pgss:
            return []
        rows = self.conn.execute(
            "SELECT calls, toplevel, round(total_exec_time::numeric, 1), left(query, 90)"
            " FROM pg_stat_statements WHERE dbid = %s ORDER BY calls DESC LIMIT %s",
            (self.dbid, limit),
        )
        return [
            {"calls": c, "top": t, "ms": float(ms), "query": " ".join(q.split())}
            for c, t, ms, q in rows
        ]

    def activity(self) -> list[tuple[str | None, str | None, str]]:
        """(wait_event_type, wait_event, query) of the bench database's client backends that
        are inside a transaction (running a statement, or holding its locks between two)."""
        rows = self.conn.execute(
            "SELECT wait_event_type, wait_event, left(query, 70) FROM pg_stat_activity"
            " WHERE datname = %s AND backend_type = 'client backend' AND pid <> %s"
            " AND xact_start IS NOT NULL",
            (self.database, self.pid),
        )
        return list(rows)

    def close(self) -> None:
        self.conn.close()


class Sampler(threading.Thread):
    """pg_stat_activity every ~20 ms; CPU of app and database every ~200 ms."""

    def __init__(
        self,
        probe: Probe,
        server: sv.Server,
        cluster: sv.Cluster | None,
        worker: sv.JobWorker | None = None,
    ):
        super().__init__(daemon=True)
        self.probe, self.server, self.cluster, self.worker = probe, server, cluster, worker
        self.stop = threading.Event()
        self.samples = 0  # backend observations (one backend in one snapshot)
        self.snapshots = 0
        self.lock_waits = 0
        self.snapshots_with_wait = 0
        self.wait_events: collections.Counter[str] = collections.Counter()
        self.wait_queries: collections.Counter[str] = collections.Counter()
        self.app_cpu = sv.CpuMeter()
        self.db_cpu = sv.CpuMeter()

    def db_pids(self) -> list[int]:
        pids = sv.postgres_pids(self.cluster, self.probe.conn, self.probe.database)
        return [p for p in pids if p != self.probe.pid]

    def app_pids(self) -> list[int]:
        return self.server.pids() + (self.worker.pids() if self.worker else [])

    def begin(self) -> None:
        self.app_cpu.start(self.app_pids())
        self.db_cpu.start(self.db_pids())
        self.start()

    def run(self) -> None:
        tick = 0
        while not self.stop.is_set():
            rows = self.probe.activity()
            self.snapshots += 1
            waiting = [r for r in rows if r[0] == "Lock"]
            self.samples += len(rows)
            self.lock_waits += len(waiting)
            self.snapshots_with_wait += bool(waiting)
            for kind, event, query in waiting:
                self.wait_events[f"{kind}:{event}"] += 1
                self.wait_queries[" ".join((query or "").split())] += 1
            tick += 1
            if tick % 10 == 0:
                self._cpu()
            self.stop.wait(0.02)

    def _cpu(self) -> None:
        self.app_cpu.poll(self.app_pids())
        self.db_cpu.poll(self.db_pids())

    def finish(self) -> None:
        self.stop.set()
        self.join()
        self._cpu()


# -- load -------------------------------------------------------------------------------------


class Load:
    """C client threads playing manifests, one GET thread, until done or the deadline."""

    def __init__(self, port: int, jobs: list[sv.Job], drivers: list[sv.Party], concurrency: int):
        self.port, self.concurrency, self.drivers = port, concurrency, drivers
        self.jobs = collections.deque(jobs)
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {s: [] for s in sv.STEPS}
        self.errors: collections.Counter[str] = collections.Counter()
        self.error_bodies: list[str] = []
        self.skipped = 0
        self.get_latencies: list[float] = []
        self.get_errors: collections.Counter[str] = collections.Counter()
        self.done = threading.Event()

    def _next(self) -> sv.Job | None:
        with self.lock:
            return self.jobs.popleft() if self.jobs else None

    def _client(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            job = self._next()
            if job is None:
                return
            for index, step in enumerate(sv.STEPS):
                path, body, token = sv.step_request(job, step)
                start = time.monotonic()
                try:
                    status, answer = sv.request(
                        self.port, "POST", path, body, token=token, key=str(uuid.uuid4())
                    )
                except (OSError, http.client.HTTPException) as exc:
                    status, answer = 0, type(exc).__name__.encode()
                elapsed = time.monotonic() - start
                with self.lock:
                    if 200 <= status < 300:
                        self.latencies[step].append(elapsed)
                        continue
                    self.errors[f"{step}:{status}"] += 1
                    if len(self.error_bodies) < 5:
                        self.error_bodies.append(f"{step} {status} {answer[:300]!r}")
                    self.skipped += len(sv.STEPS) - index - 1
                break  # the manifest's later steps would only fail too

    def _getter(self) -> None:
        i = 0
        while not self.done.is_set():
            token = self.drivers[i % len(self.drivers)].token
            i += 1
            start = time.monotonic()
            try:
                status, _ = sv.request(self.port, "GET", "/api/v1/me", token=token)
            except (OSError, http.client.HTTPException) as exc:
                status = 0
                self.get_errors[type(exc).__name__] += 1
            if status == 200:
                self.get_latencies.append(time.monotonic() - start)
            elif status:
                self.get_errors[str(status)] += 1

    def run(self, max_seconds: float) -> float:
        deadline = time.monotonic() + max_seconds
        clients = [
            threading.Thread(target=self._client, args=(deadline,), daemon=True)
            for _ in range(self.concurrency)
        ]
        getter = threading.Thread(target=self._getter, daemon=True)
        start = time.monotonic()
        getter.start()
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
        elapsed = time.monotonic() - start
        self.done.set()
        getter.join()
        return elapsed

    def handoffs(self) -> int:
        return sum(len(v) for v in self.latencies.values())


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


# -- one run ----------------------------------------------------------------------------------


def calibrate(port: int, probe: Probe, jobs: list[sv.Job], drivers: list[sv.Party]) -> dict:
    """Statements per step, each step played alone, one request at a time."""
    result: dict[str, Any] = {}
    for step in (*sv.STEPS, "get"):
        probe.reset()
        for i, job in enumerate(jobs):
            if step == "get":
                status, body = sv.request(
                    port, "GET", "/api/v1/me", token=drivers[i % len(drivers)].token
                )
            else:
                path, payload, token = sv.step_request(job, step)
                status, body = sv.request(
                    port, "POST", path, payload, token=token, key=str(uuid.uuid4())
                )
            if status >= 300:
                raise RuntimeError(f"calibration {step}: {status} {body[:300]!r}")
        result[step] = {k: round(v / len(jobs), 1) for k, v in probe.statements().items()}
    return result


def one_run(
    args: argparse.Namespace,
    env: dict[str, str],
    workers: int,
    world: sv.World,
    jobs: list[sv.Job],
    calibration_jobs: list[sv.Job] | None,
    probe: Probe,
    cluster: sv.Cluster | None,
    tmp: Path,
    restart: bool,
) -> dict[str, Any]:
    port = int(env["HAZWASTE_PUBLIC_BASE_URL"].rsplit(":", 1)[1])
    server = sv.Server(env, port, workers, tmp / f"gunicorn-w{workers}.log")
    worker = sv.JobWorker(env, tmp / "jobs.log") if args.job_worker else None
    out: dict[str, Any] = {"workers": workers, "job_worker": bool(worker)}
    try:
        if worker:
            worker.start()
        start = time.monotonic()
        server.start()
        server.wait_ready("/healthz")
        out["start_to_healthz_s"] = round(time.monotonic() - start, 2)
        server.wait_ready("/api/v1/me", token=world.drivers[0].token)
        out["start_to_api_s"] = round(time.monotonic() - start, 2)
        sv.log(f"w={workers}: up in {out['start_to_healthz_s']} s (api {out['start_to_api_s']} s)")
        if calibration_jobs:
            out["statements_by_step"] = calibrate(port, probe, calibration_jobs, world.drivers)
            sv.log(f"statements per step: {out['statements_by_step']}")
        # Wait until every worker has started (the calibration may have met only one).
        deadline = time.monotonic() + 10
        while server.worker_count() < workers and time.monotonic() < deadline:
            time.sleep(0.05)
        probe.reset()
        counters_before = probe.db_counters()
        load = Load(port, jobs, world.drivers, args.concurrency)
        sampler = Sampler(probe, server, cluster, worker)
        sampler.begin()
        try:
            elapsed = load.run(args.max_seconds)
        finally:
            sampler.finish()
        statements = probe.statements()
        counters_after = probe.db_counters()
        top = probe.top_statements()
        handoffs = load.handoffs()
        all_lat = [x for v in load.latencies.values() for x in v]
        gets = len(load.get_latencies)
        app_s, db_s = sampler.app_cpu.seconds(), sampler.db_cpu.seconds()
        out.update(
            handoffs=handoffs,
            seconds=round(elapsed, 2),
            handoffs_per_s=round(handoffs / elapsed, 1) if elapsed else None,
            p50_ms=ms(sv.percentile(all_lat, 50)),
            p95_ms=ms(sv.percentile(all_lat, 95)),
            p99_ms=ms(sv.percentile(all_lat, 99)),
            max_ms=ms(max(all_lat)) if all_lat else None,
            by_step={
                s: {
                    "n": len(v),
                    "p50_ms": ms(sv.percentile(v, 50)),
                    "p99_ms": ms(sv.percentile(v, 99)),
                }
                for s, v in load.latencies.items()
            },
            errors=sum(load.errors.values()),
            errors_by_status=dict(load.errors),
            error_samples=load.error_bodies,
            skipped=load.skipped,
            gets=gets,
            get_per_s=round(gets / elapsed, 1) if elapsed else None,
            get_p50_ms=ms(sv.percentile(load.get_latencies, 50)),
            get_p99_ms=ms(sv.percentile(load.get_latencies, 99)),
            get_errors=dict(load.get_errors),
            cpu_app_s=round(app_s, 2),
            cpu_db_s=round(db_s, 2),
            cpu_ms_per_handoff=round((app_s + db_s) * 1000 / handoffs, 2) if handoffs else None,
            cpu_ms_per_request=round((app_s + db_s) * 1000 / (handoffs + gets), 2)
            if handoffs
            else None,
            cores_used=round((app_s + db_s) / elapsed, 2) if elapsed else None,
            lock_wait_fraction=round(sampler.lock_waits / sampler.samples, 4)
            if sampler.samples
            else None,
            lock_wait_snapshot_fraction=round(sampler.snapshots_with_wait / sampler.snapshots, 4)
            if sampler.snapshots
            else None,
            activity_samples=sampler.samples,
            snapshots=sampler.snapshots,
            lock_waits_by_event=dict(sampler.wait_events.most_common(6)),
            lock_waits_by_query=dict(sampler.wait_queries.most_common(4)),
            # Approximate: idle backends report these counters up to 10 s late (PG 15).
            db_per_handoff={
                k: round((counters_after[k] - counters_before[k]) / handoffs, 1)
                for k in counters_after
            }
            if handoffs
            else {},
        )
        if statements and handoffs:
            get_share = 0.0
            cal = out.get("statements_by_step")
            if cal:
                get_share = cal["get"]["top"] * gets
            out["statements_per_handoff"] = round((statements["top"] - get_share) / handoffs, 1)
            out["statements_nested_per_handoff"] = round(
                statements["nested"] / handoffs, 1
            )  # GETs run no triggers
            out["top_statements"] = top
        if restart:
            server.kill9()
            start = time.monotonic()
            server.start()
            server.wait_ready("/healthz")
            out["restart_to_healthz_s"] = round(time.monotonic() - start, 2)
            server.wait_ready("/api/v1/me", token=world.drivers[0].token)
            out["restart_to_api_s"] = round(time.monotonic() - start, 2)
            sv.log(
                f"kill -9 + restart: /healthz after {out['restart_to_healthz_s']} s,"
                f" first API answer after {out['restart_to_api_s']} s"
            )
    finally:
        server.stop()
        if worker:
            worker.stop()
    return out


# -- main -------------------------------------------------------------------------------------


def reset_schema(url: str) -> None:
    with sv.pg_connect(sv.libpq_url(url)) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def check_empty(url: str) -> None:
    with sv.pg_connect(sv.libpq_url(url)) as conn:
        n = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
    if n:
        sys.exit(f"{url}: the database has {n} tables; use an empty one or --reset")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: a "
                        "throw-away cluster)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=2 * len(os.sched_getaffinity(0)) + 1)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--handoffs", type=int, default=600)
    parser.add_argument("--scaling", action="store_true", help="also run with 1, 2, 4 workers")
    parser.add_argument("--max-seconds", type=float, default=60, help="limit of each load run")
    parser.add_argument("--reset", action="store_true", help="drop the given database's schema")
    parser.add_argument(
        "--queue-url", help="HAZWASTE_QUEUE_URL (default: a throw-away redis-server, else SQLite)"
    )
    parser.add_argument(
        "--job-worker",
        action="store_true",
        help="run `flask jobs worker` during the load (its CPU counts as the app's)",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminate)

    load_avg = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="hazwaste-handoffs-"))
    cluster: sv.Cluster | None = None
    redis: sv.Redis | None = None
    probe: Probe | None = None
    try:
        if args.database_url:
            url = args.database_url
            if args.reset:
                reset_schema(url)
            check_empty(url)
        else:
            if not sv.Cluster.available():
                sys.exit(f"no PostgreSQL binaries in {sv.PG_BIN}; give --database-url")
            cluster = sv.Cluster(max_connections=max(100, 4 * args.workers + 40))
            cluster.__enter__()
            url = cluster.url
            sv.log(f"throw-away PostgreSQL on 127.0.0.1:{cluster.port} ({cluster.tmp})")
        port = sv.free_port()
        queue, redis = sv.queue_url(args.queue_url, tmp)
        env = sv.server_env(url, port, HAZWASTE_QUEUE_URL=queue)
        sv.migrate(env)
        if args.job_worker and not sv.has_command(env, "jobs", "worker"):
            sys.exit("--job-worker: this code has no `flask jobs worker`")
        runs = [args.workers]
        if args.scaling:
            runs += [w for w in (1, 2, 4) if w != args.workers]
        per_run = math.ceil(args.handoffs / 3)
        drivers = max(8, 2 * args.concurrency)
        world = sv.build_world(
            url, per_run * len(runs) + CALIBRATION, drivers, max(4, args.concurrency)
        )
        sv.log(f"world: {world.counts} in {world.seconds:.1f} s")
        probe = Probe(url, sv.db_name(url), own_cluster=cluster is not None)
        calibration_jobs, rest = world.jobs[:CALIBRATION], world.jobs[CALIBRATION:]
        results = []
        for i, workers in enumerate(runs):
            jobs = rest[i * per_run : (i + 1) * per_run]
            result = one_run(
                args,
                env,
                workers,
                world,
                jobs,
                calibration_jobs if i == 0 else None,
                probe,
                cluster,
                tmp,
                restart=i == 0,
            )
            sv.log(
                f"w={workers} c={args.concurrency}: {result['handoffs']} hand-offs,"
                f" {result['handoffs_per_s']}/s, p99 {result['p99_ms']} ms,"
                f" {result['cpu_ms_per_handoff']} ms CPU each, errors {result['errors']}"
            )
            results.append(result)
        main_run = results[0]
        summary = {
            "handoffs_per_s": main_run["handoffs_per_s"],
            "p50_ms": main_run["p50_ms"],
            "p95_ms": main_run["p95_ms"],
            "p99_ms": main_run["p99_ms"],
            "get_per_s": main_run["get_per_s"],
            "get_p99_ms": main_run["get_p99_ms"],
            "cpu_ms_per_handoff": main_run["cpu_ms_per_handoff"],
            "statements_per_handoff": main_run.get("statements_per_handoff"),
            "statements_source": "pg_stat_statements: top-level statements of the bench "
            "database during the load, minus the GETs' (measured alone); nested = by triggers"
            if probe.pgss
            else "pg_stat_statements unavailable: see db_per_handoff (pg_stat_database "
            "transactions and tuples per hand-off)",
            "lock_wait_fraction": main_run["lock_wait_fraction"],
            "workers": args.workers,
            "concurrency": args.concurrency,
            "errors": main_run["errors"],
            "scaling": [
                {
                    k: r[k]
                    for k in (
                        "workers",
                        "handoffs_per_s",
                        "p99_ms",
                        "cpu_ms_per_handoff",
                        "cores_used",
                        "cpu_app_s",
                        "cpu_db_s",
                        "lock_wait_fraction",
                        "errors",
                    )
                }
                for r in sorted(results, key=lambda r: r["workers"])
            ]
            if args.scaling
            else None,
            "database": "throw-away cluster (fsync=off)" if cluster else "given URL",
            "queue": queue.split("://")[0],
            "load_average_at_start": [round(x, 2) for x in load_avg],
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "world": world.counts,
            "runs": results,
        }
        print(json.dumps(summary, ensure_ascii=False, default=str))
    except Stop as exc:
        sys.exit(f"stopped: {exc}")
    finally:
        if probe is not None:
            probe.close()
        if cluster is not None:
            cluster.stop()
        if redis is not None:
            redis.stop()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
