"""Shared machinery of the serving benchmarks (``bench/handoffs.py``, ``bench/crash.py``).

- :class:`Cluster`: a throw-away PostgreSQL cluster (initdb into a temporary directory,
  ``pg_ctl start`` on a free loopback port, ``fsync=off``, pg_stat_statements preloaded),
  stopped and deleted at the end;
- :func:`migrate`: ``flask db upgrade`` and ``load-reference`` on a database;
- :class:`Server`: gunicorn with the repository's ``gunicorn.conf.py``, started, timed to its
  first answer, killed (``kill -9``, master and workers) or stopped;
- :func:`build_world`: producers, carriers (permit, vehicles, drivers), receivers (licences
  covering the waste codes, gate staff) and submitted manifests, made through the services in
  this process, plus one API token per driver and per receiver user (made with the accounts
  service: no login, so the login throttle is not involved);
- :func:`request`: one HTTP request on its own connection (gunicorn's sync workers close
  every connection after the answer anyway);
- :class:`CpuMeter`: CPU time (utime + stime from ``/proc/<pid>/stat``) of a changing set of
  processes.

Loopback only; nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
SECRET_KEY = "bench-only-secret-key"
CLK_TCK = os.sysconf("SC_CLK_TCK")
DB_NAME = "hazwaste_bench"
# This checkout's package, whatever the shared virtualenv's editable install points at.
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- PostgreSQL -------------------------------------------------------------------------------


class Cluster:
    """A throw-away PostgreSQL cluster on 127.0.0.1 (use as a context manager).

    initdb refuses to run as root: then the cluster belongs to the ``postgres`` system user
    (``runuser``). ``fsync=off``: a benchmark's data may be lost with the machine, and the
    disk is shared with other work; commits still go through the WAL machinery.
    """

    def __init__(self, max_connections: int = 200):
        self.max_connections = max_connections
        self.tmp = Path(tempfile.mkdtemp(prefix="hazwaste-pg-"))
        self.data = self.tmp / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        self.started = False

    @staticmethod
    def available() -> bool:
        return (PG_BIN / "initdb").exists() and (PG_BIN / "pg_ctl").exists()

    def _run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = list(cmd)
        if self.as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return subprocess.run(argv, check=check, capture_output=True, text=True)

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.tmp, pw.pw_uid, pw.pw_gid)
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.tmp}",
                "-c fsync=off",
                "-c full_page_writes=off",
                f"-c max_connections={self.max_connections}",
                "-c shared_buffers=128MB",
                "-c shared_preload_libraries=pg_stat_statements",
                "-c pg_stat_statements.track=all",
                "-c pg_stat_statements.max=10000",
                "-c track_io_timing=off",
            ]
        )
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.tmp / "postgres.log"),
            "-w",
            "-t",
            "30",
            "start",
        )
        self.started = True
        self._run(
            str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            DB_NAME,
        )  # fmt: skip

    def stop(self) -> None:
        if self.started:
            self._run(
                str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop",
                check=False,
            )  # fmt: skip
            self.started = False
        shutil.rmtree(self.tmp, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{DB_NAME}"

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None


class Redis:
    """A throw-away redis-server on 127.0.0.1 (no persistence), for the job queue: the
    production backend (``HAZWASTE_QUEUE_URL=redis://…``)."""

    def __init__(self, tmp: Path):
        self.tmp, self.port = tmp, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def queue_url(given: str | None, tmp: Path) -> tuple[str, Redis | None]:
    """``HAZWASTE_QUEUE_URL`` for the bench: the given one, else a throw-away Redis when
    redis-server is installed, else a SQLite file in ``tmp``."""
    if given:
        return given, None
    if Redis.available():
        redis = Redis(tmp)
        redis.start()
        return redis.url, redis
    return f"sqlite:///{tmp / 'queue.db'}", None


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as a libpq conninfo URL (for psycopg.connect)."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def admin_url(url: str) -> str:
    """The same server, database ``postgres`` (so monitoring queries are not counted as the
    bench database's statements)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(libpq_url(url))
    return urlunsplit(parts._replace(path="/postgres"))


def db_name(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(libpq_url(url)).path.lstrip("/")


_SIGNING_KEY: list[str] = []


def signing_key_pem() -> str:
    """A throw-away Ed25519 key for the audit log's tree heads (HAZWASTE_AUDIT_SIGNING_KEY),
    so a bench never creates or uses the checkout's ``instance/audit_signing_key``."""
    if not _SIGNING_KEY and os.environ.get("HAZWASTE_AUDIT_SIGNING_KEY"):
        _SIGNING_KEY.append(os.environ["HAZWASTE_AUDIT_SIGNING_KEY"])
    if not _SIGNING_KEY:
        try:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        except ImportError:  # before the transparency log: no key needed
            _SIGNING_KEY.append("")
        else:
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            _SIGNING_KEY.append(pem.decode())
    return _SIGNING_KEY[0]


def server_env(database_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {
        "HAZWASTE_AUDIT_SIGNING_KEY": signing_key_pem(),
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "HAZWASTE_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        # The bench logs in nobody, but keep the throttle out of the way if it ever does.
        "HAZWASTE_LOGIN_RATE_LIMIT": "100000 per minute",
        "HAZWASTE_LOGIN_ADDRESS_RATE_LIMIT": "100000 per minute",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def flask(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "flask"), "--app", "app", *args],
        cwd=ROOT,
        env=env,
        check=check,
        capture_output=True,
        text=True,
    )


def migrate(env: dict[str, str]) -> None:
    flask(env, "db", "upgrade")
    flask(env, "load-reference")


def has_command(env: dict[str, str], *args: str) -> bool:
    return flask(env, *args, "--help", check=False).returncode == 0


# -- gunicorn ---------------------------------------------------------------------------------


class Server:
    """gunicorn with the repository's configuration on ``127.0.0.1:port``."""

    def __init__(self, env: dict[str, str], port: int, workers: int, logfile: Path):
        self.env, self.port, self.workers, self.logfile = env, port, workers, logfile
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.logfile, "ab") as err:
            self.proc = subprocess.Popen(
                [
                    str(BIN / "gunicorn"),
                    "-c",
                    str(ROOT / "gunicorn.conf.py"),
                    "-w",
                    str(self.workers),
                    "-b",
                    f"127.0.0.1:{self.port}",
                    "app:app",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )

    def wait_ready(
        self, path: str = "/healthz", token: str | None = None, limit: float = 60
    ) -> float:
        """Seconds until ``path`` answers 200 (from now); raises if gunicorn dies or ``limit``."""
        start = time.monotonic()
        while True:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.logfile}")
            try:
                status, _ = request(self.port, "GET", path, token=token, timeout=5)
                if status == 200:
                    return time.monotonic() - start
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() - start > limit:
                raise RuntimeError(
                    f"gunicorn did not answer {path} in {limit} s; see {self.logfile}"
                )
            time.sleep(0.02)

    def pids(self) -> list[int]:
        """The master and its workers."""
        if self.proc is None:
            return []
        return [self.proc.pid, *children(self.proc.pid)]

    def worker_count(self) -> int:
        return len(children(self.proc.pid)) if self.proc is not None else 0

    def kill9(self) -> None:
        """``kill -9`` the master and every worker at the same instant (a machine crash)."""
        pids = self.pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()
        _wait_gone(pids)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        pids = self.pids()
        self.proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=15)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()
        _wait_gone(pids)


class JobWorker:
    """``flask jobs worker`` in its own process group (killed as a whole)."""

    def __init__(self, env: dict[str, str], logfile: Path):
        self.env, self.logfile = env, logfile
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.logfile, "ab") as err:
            self.proc = subprocess.Popen(
                [str(BIN / "flask"), "--app", "app", "jobs", "worker"],
                cwd=ROOT,
                env=self.env,
                stdout=err,
                stderr=err,
                start_new_session=True,
            )

    def kill9(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill9()

    def pids(self) -> list[int]:
        if self.proc is None or self.proc.poll() is not None:
            return []
        return [self.proc.pid, *children(self.proc.pid)]


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _wait_gone(pids: Iterable[int], limit: float = 5) -> None:
    deadline = time.monotonic() + limit
    for pid in pids:
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                break
            if state == "Z":
                break
            time.sleep(0.01)


# -- HTTP -------------------------------------------------------------------------------------


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = None,
    key: str | None = None,
    timeout: float = 30,
) -> tuple[int, bytes]:
    """One request on a fresh connection; ``(status, body)``. Socket errors propagate."""
    status, answer, _ = request_full(port, method, path, body, token, key, timeout)
    return status, answer


def request_full(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = None,
    key: str | None = None,
    timeout: float = 30,
) -> tuple[int, bytes, dict[str, str]]:
    """:func:`request` with the answer's headers."""
    headers = {"Accept": "application/json", "Connection": "close"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if key:
        headers["Idempotency-Key"] = key
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        conn.close()


# -- CPU --------------------------------------------------------------------------------------


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of a process in clock ticks (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])


class CpuMeter:
    """CPU time used by a changing set of processes since :meth:`start`.

    Call :meth:`poll` with the current pids every so often: a process first seen after the
    start counts from zero, one that has exited keeps its last reading (so a killed worker's
    CPU is not lost, up to the polling interval).
    """

    def __init__(self) -> None:
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.started = False

    def start(self, pids: Iterable[int]) -> None:
        for pid in pids:
            ticks = cpu_ticks(pid)
            if ticks is not None:
                self.first[pid] = self.last[pid] = ticks
        self.started = True

    def poll(self, pids: Iterable[int]) -> None:
        for pid in pids:
            ticks = cpu_ticks(pid)
            if ticks is None:
                continue
            self.first.setdefault(pid, 0)
            self.last[pid] = ticks

    def seconds(self) -> float:
        return sum(self.last[p] - self.first[p] for p in self.last) / CLK_TCK


def postgres_pids(cluster: Cluster | None, conn: Any, database: str) -> list[int]:
    """Database processes to charge: the whole throw-away cluster (postmaster and every child:
    backends, WAL writer, checkpointer, autovacuum…), or for a given server the backends of
    the bench database (other databases of a shared server are someone else's load)."""
    if cluster is not None:
        master = cluster.postmaster_pid()
        return [] if master is None else [master, *children(master)]
    rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,))
    return [r[0] for r in rows if Path(f"/proc/{r[0]}").exists()]


# -- the world --------------------------------------------------------------------------------

REGIONS = ["150602", "150621", "150622", "150623", "150624", "150625", "150626", "150627"]
LINES = [
    ("900-249-08", "废矿物油", "liquid", ["T", "I"], "200L铁桶", 10, Decimal("1800.5")),
    ("900-041-49", "废包装桶", "solid", ["T"], "吨袋", 2, Decimal("420")),
]


@dataclass
class Party:
    user_id: int
    token: str


@dataclass
class Job:
    """One manifest to play: its lines, its driver and vehicle, the receiver's user."""

    manifest_id: int
    number: str
    line_ids: list[int]
    declared: list[Decimal]
    vehicle_id: int
    driver: Party
    receiver: Party


@dataclass
class World:
    jobs: list[Job] = field(default_factory=list)
    drivers: list[Party] = field(default_factory=list)
    receivers: list[Party] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _app(database_url: str) -> Any:
    os.environ["DATABASE_URL"] = database_url
    os.environ["SECRET_KEY"] = SECRET_KEY
    os.environ["HAZWASTE_AUDIT_SIGNING_KEY"] = signing_key_pem()
    os.environ.setdefault("HAZWASTE_PUBLIC_BASE_URL", "http://127.0.0.1")
    from hazwaste import create_app

    # Cheap password hashes: nobody logs in with these accounts (tokens are issued directly).
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "PASSWORD_HASH_PARAMS": {"time_cost": 1, "memory_cost": 8, "parallelism": 1},
        }
    )


def build_world(
    database_url: str,
    manifests: int,
    drivers: int,
    receiver_users: int,
    producers: int | None = None,
    carriers: int = 4,
    receivers: int = 4,
) -> World:
    """Create the organizations, people, manifests (submitted, through the services) and
    tokens; commit. Manifests are dealt round-robin over producers, drivers and receiver
    users, so each driver and each receiver user has about the same number."""
    from hazwaste.accounts import services as accounts
    from hazwaste.accounts.models import User, UserRole
    from hazwaste.demo.services import demo_uscc
    from hazwaste.extensions import db
    from hazwaste.manifests import lifecycle, services
    from hazwaste.permits import services as permits

    started = time.monotonic()
    app = _app(database_url)
    producers = producers or max(4, manifests // 20)
    carriers = max(1, min(carriers, drivers))
    receivers = max(1, min(receivers, receiver_users))
    serial = iter(range(1, 10**7))
    now = datetime.now(UTC)
    today = now.date()
    world = World()
    password = "bench-password-2026"

    def org(roles: tuple[str, ...], admin: User) -> tuple[Any, User]:
        n = next(serial)
        region = REGIONS[n % len(REGIONS)]
        data = {
            "uscc": demo_uscc(region, f"B{n:08d}"),
            "org_name": f"基准测试单位{n}有限公司",
            "address": f"内蒙古自治区鄂尔多斯市基准路{n}号",
            "region_code": region,
            "latitude": 39.3 + (n % 10) / 10,
            "longitude": 109.0 + (n % 7) / 10,
            "contact_phone": "",
            "name": f"负责人{n}",
            "email": f"admin{n}@bench.test",
            "phone": "",
            "password": password,
            **{f"is_{r}": r in roles for r in ("producer", "carrier", "receiver")},
        }
        organization, user = accounts.register_organization(db.session, now, data, 10)
        accounts.review_organization(db.session, now, admin, organization.id, approve=True)
        return organization, user

    def colleague(admin: User, role: str) -> User:
        n = next(serial)
        return accounts.create_org_user(
            db.session,
            now,
            admin,
            {
                "name": f"员工{n}",
                "email": f"staff{n}@bench.test",
                "phone": "",
                "password": password,
                "role": role,
            },
            10,
        )

    def token(user: User) -> Party:
        issued = accounts.issue_token(db.session, now, user, timedelta(hours=12))
        return Party(user.id, issued.token)

    with app.app_context():
        session = db.session
        admin = User(
            email="platform@bench.test",
            name="平台管理员",
            password_hash=accounts.hash_password(password),
            role=UserRole.ADMIN,
            is_platform_admin=True,
            created_at=now,
            password_changed_at=now,
        )
        session.add(admin)
        session.flush()
        producer_admins = [org(("producer",), admin)[1] for _ in range(producers)]

        carrier_rows = []  # (carrier org, [(driver id, vehicle id, Party)])
        for c in range(carriers):
            carrier, carrier_admin = org(("carrier",), admin)
            permits.create_carrier_permit(
                session,
                now,
                carrier_admin,
                {
                    "number": f"蒙交运管许可鄂字1506{c:08d}号",
                    "valid_from": date(2024, 1, 1),
                    "valid_to": date(today.year + 3, 12, 31),
                },
            )
            crew = []
            for d in range(c, drivers, carriers):
                user = colleague(carrier_admin, "driver")
                vehicle = permits.create_vehicle(
                    session,
                    now,
                    carrier_admin,
                    {
                        "plate": f"蒙K{d:05d}",
                        "vehicle_type": "危险货物厢式货车",
                        "max_load_kg": Decimal("18000"),
                    },
                )
                driver = permits.register_driver(
                    session,
                    now,
                    carrier_admin,
                    {
                        "user_id": user.id,
                        "licence_number": f"1506021985{d:08d}",
                        "qualification_number": f"1506{d:08d}",
                        "qualification_valid_to": date(today.year + 3, 6, 30),
                    },
                )
                party = token(user)
                world.drivers.append(party)
                crew.append((driver.id, vehicle.id, party))
            carrier_rows.append((carrier, crew))

        receiver_rows = []  # (receiver org, [Party])
        for r in range(receivers):
            receiver, receiver_admin = org(("receiver",), admin)
            permits.create_licence(
                session,
                now,
                receiver_admin,
                {
                    "number": f"蒙危废经第1506{r:06d}号",
                    "valid_from": date(2024, 1, 1),
                    "valid_to": date(today.year + 3, 12, 31),
                    "annual_capacity_kg": Decimal("900000000"),
                    "scope_categories": ["HW08", "HW49"],
                    "scope_codes": [],
                    "methods": ["R2", "R9", "D10", "C3"],
                    "note": "",
                },
            )
            staff = [token(receiver_admin)]
            staff += [
                token(colleague(receiver_admin, "member"))
                for _ in range(r + receivers, receiver_users, receivers)
            ]
            world.receivers.extend(staff)
            receiver_rows.append((receiver, staff))
        session.commit()

        crews = [(carrier, d) for carrier, crew in carrier_rows for d in crew]
        staff_of = [(receiver, p) for receiver, staff in receiver_rows for p in staff]
        planned = (now + timedelta(hours=8) + timedelta(days=1)).date()  # tomorrow in China
        for i in range(manifests):
            producer = producer_admins[i % len(producer_admins)]
            carrier, (driver_id, vehicle_id, driver_party) = crews[i % len(crews)]
            receiver, receiver_party = staff_of[i % len(staff_of)]
            data = {
                "carrier_id": carrier.id,
                "receiver_id": receiver.id,
                "vehicle_id": vehicle_id,
                "driver_id": driver_id,
                "planned_date": planned,
                "emergency_measures": "泄漏时用吸附棉围堵，报告119和当地生态环境局。",
                "lines": [
                    {
                        "waste_code": code,
                        "waste_name": name,
                        "physical_form": form,
                        "hazards": hazards,
                        "packaging": packaging,
                        "container_count": count,
                        "declared_kg": kg,
                        "declared_unit": "kg",
                    }
                    for code, name, form, hazards, packaging, count, kg in LINES
                ],
            }
            manifest = services.create_draft(session, now, producer, data)
            lifecycle.submit(session, now, manifest, producer)
            world.jobs.append(
                Job(
                    manifest_id=manifest.id,
                    number=manifest.number or "",
                    line_ids=[ln.id for ln in manifest.lines],
                    declared=[ln.declared_kg for ln in manifest.lines],
                    vehicle_id=vehicle_id,
                    driver=driver_party,
                    receiver=receiver_party,
                )
            )
            if i % 50 == 49:
                session.commit()
        session.commit()
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    world.counts = {
        "producers": producers,
        "carriers": carriers,
        "drivers": len(world.drivers),
        "receivers": receivers,
        "receiver_users": len(world.receivers),
        "manifests": len(world.jobs),
    }
    world.seconds = time.monotonic() - started
    return world


# -- the hand-offs ----------------------------------------------------------------------------

STEPS = ("pickup", "delivery", "receipt")
EVENT_OF_STEP = {"pickup": "picked_up", "delivery": "delivered", "receipt": "received"}


def step_request(job: Job, step: str) -> tuple[str, dict[str, Any], str]:
    """``(path, body, token)`` of one hand-off of ``job``: pickup and delivery by its driver
    (weighed as declared, GPS at the site), receipt by the receiver's user (all accepted,
    1 kg less on the first line: a realistic weighbridge difference, inside the tolerance)."""
    path = f"/api/v1/manifests/{job.manifest_id}/{step}"
    position = {"latitude": 39.35, "longitude": 106.96, "accuracy_m": 12.0}
    if step == "pickup":
        body = {
            "vehicle_id": job.vehicle_id,
            **position,
            "lines": [
                {"line_id": lid, "loaded_qty": str(kg)}
                for lid, kg in zip(job.line_ids, job.declared, strict=True)
            ],
        }
        return path, body, job.driver.token
    if step == "delivery":
        return path, {**position, "note": ""}, job.driver.token
    body = {
        **position,
        "lines": [
            {
                "line_id": lid,
                "received_qty": str(kg - (1 if i == 0 else 0)),
                "decision": "accept",
            }
            for i, (lid, kg) in enumerate(zip(job.line_ids, job.declared, strict=True))
        ],
    }
    return path, body, job.receiver.token


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


@contextlib.contextmanager
def pg_connect(url: str, autocommit: bool = True) -> Iterator[Any]:
    import psycopg

    conn = psycopg.connect(url, autocommit=autocommit)
    try:
        yield conn
    finally:
        conn.close()
