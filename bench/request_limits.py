"""Oversized requests against a real server: answered at once, the worker's memory unmoved.

    python bench/request_limits.py [--timeout 10]

Builds a throw-away SQLite database in a temporary directory (``flask db upgrade``,
``load-reference``, ``seed-demo``), starts gunicorn from the virtualenv with one sync worker
on 127.0.0.1 and a free port, gets a producer's API token (producer@demo.test), then sends
to each bulk endpoint a 50 MB body and a 1 M-item list:

- ``POST /api/v1/containers/bulk``: 50 MB of JSON; ``{"containers": [{}, … 1 M]}`` (3 MB);
- ``POST /api/v1/manifests``: 50 MB; 1 M lines;
- ``POST /api/v1/plans/import``: a 50 MB CSV; a CSV of 1 M rows (2 MB);
- ``POST /containers/import`` (the page's upload, multipart): a 50 MB file.

Each request is sent from a raw socket that stops sending as soon as the answer arrives (as
a browser does), and is timed until the whole answer is read. The worker's VmRSS is read from
``/proc/<pid>/status`` before and after each request, and its VmHWM (peak) after. The
server is stopped at the end, whatever happens; every request has ``--timeout`` seconds.
The last line printed is one JSON object:

    {"limits": {...}, "peak_rss_before_kb",
     "requests": [{"endpoint", "body", "bytes", "status", "seconds", "rss_before_kb",
                   "rss_after_kb", "rss_growth_kb", "peak_rss_kb", "answer"}, ...],
     "max_seconds", "max_rss_growth_kb"}
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
EMAIL, PASSWORD = "producer@demo.test", "demo-pass-2026"
MB50 = 50 * 1024 * 1024
MILLION = 1_000_000
CHUNK = 256 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def flask(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [str(BIN / "flask"), "--app", "app", *args],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def proc_status(pid: int, key: str) -> int:
    """A ``kB`` figure of ``/proc/<pid>/status`` (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    if len(children) != 1:
        raise RuntimeError(f"expected one gunicorn worker, found {children}")
    return int(children[0])


def send(
    port: int, path: str, body: bytes, content_type: str, headers: dict[str, str], timeout: float
) -> tuple[int | None, bytes, float]:
    """POST ``body`` and read the answer; stop sending once the server has answered.

    Returns (status or None if the connection broke before an answer, body, seconds).
    """
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Accept-Language: en",
        "Connection: close",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    started = time.perf_counter()
    deadline = started + timeout
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.setblocking(False)
        pending = memoryview(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        while time.perf_counter() < deadline:
            readable, writable, _ = select.select([sock], [sock] if pending else [], [], 0.5)
            if readable:
                try:
                    data = sock.recv(65536)
                except (ConnectionResetError, BlockingIOError):
                    break
                if not data:
                    break
                received += data
                pending = memoryview(b"")  # answered: the rest of the body is not wanted
                if _complete(received):
                    break
            elif writable:
                try:
                    sent = sock.send(pending[:CHUNK])
                except (BrokenPipeError, ConnectionResetError):
                    pending = memoryview(b"")  # the server closed: read what it said
                    continue
                pending = pending[sent:]
    seconds = time.perf_counter() - started
    if not received.startswith(b"HTTP/"):
        return None, b"", seconds
    status = int(received.split(b" ", 2)[1])
    return status, bytes(received.partition(b"\r\n\r\n")[2]), seconds


def _complete(received: bytearray) -> bool:
    head, sep, rest = bytes(received).partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(rest) >= int(value)
    return False


def token(port: int, timeout: float) -> str:
    body = json.dumps({"email": EMAIL, "password": PASSWORD}).encode()
    status, answer, _ = send(port, "/api/v1/auth/token", body, "application/json", {}, timeout)
    if status not in (200, 201):
        raise RuntimeError(f"token: {status} {answer[:300]!r}")
    value: str = json.loads(answer)["data"]["token"]
    return value


def multipart(content: bytes, name: str = "file.csv") -> tuple[bytes, str]:
    boundary = "hazwastebenchboundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        f"Content-Type: text/csv\r\n\r\n"
    ).encode()
    body += content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def cases() -> list[tuple[str, str, bytes, str, bool]]:
    """(endpoint, what the body is, body, content type, needs the token)."""
    plan_header = b"year,waste_code,planned_generation_t,planned_transfer_t,"
    plan_header += b"intended_receiver_uscc,note\n"
    big_json = b'{"containers": "' + b"x" * MB50 + b'"}'
    upload, upload_type = multipart(b"x" * MB50)
    return [
        ("/api/v1/containers/bulk", "50 MB", big_json, "application/json", True),
        (
            "/api/v1/containers/bulk",
            "1 M items",
            json.dumps({"containers": [{}] * MILLION}).encode(),
            "application/json",
            True,
        ),
        ("/api/v1/manifests", "50 MB", big_json, "application/json", True),
        (
            "/api/v1/manifests",
            "1 M lines",
            json.dumps({"lines": [{}] * MILLION}).encode(),
            "application/json",
            True,
        ),
        ("/api/v1/plans/import", "50 MB", b"x" * MB50, "text/csv", True),
        ("/api/v1/plans/import", "1 M rows", plan_header + b"1\n" * MILLION, "text/csv", True),
        ("/containers/import", "50 MB upload", upload, upload_type, False),
    ]


def run(port: int, master: int, timeout: float) -> dict[str, Any]:
    bearer = {"Authorization": f"Bearer {token(port, timeout)}"}
    worker = worker_pid(master)
    # Warm-up: one ordinary request per endpoint, so lazy imports and caches are not counted.
    for path, _what, _body, content_type, auth in cases():
        small = b"{}" if "json" in content_type else b"year\n"
        send(port, path, small, content_type, bearer if auth else {}, timeout)
    results = []
    peak_before = proc_status(worker, "VmHWM")
    for path, what, body, content_type, auth in cases():
        before = proc_status(worker, "VmRSS")
        status, answer, seconds = send(
            port, path, body, content_type, bearer if auth else {}, timeout
        )
        time.sleep(0.2)  # the worker collects after sending a large request's answer
        after = proc_status(worker, "VmRSS")
        message: Any = None
        if answer.startswith(b"{"):
            error = json.loads(answer).get("error", {})
            message = error.get("fields") or error.get("message")
        results.append(
            {
                "endpoint": path,
                "body": what,
                "bytes": len(body),
                "status": status,
                "seconds": round(seconds, 3),
                "rss_before_kb": before,
                "rss_after_kb": after,
                "rss_growth_kb": after - before,
                "peak_rss_kb": proc_status(worker, "VmHWM"),
                "answer": message,
            }
        )
    return {
        "peak_rss_before_kb": peak_before,
        "requests": results,
        "max_seconds": max(r["seconds"] for r in results),
        "max_rss_growth_kb": max(r["rss_growth_kb"] for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    args = parser.parse_args()

    from hazwaste import config

    tmp = Path(tempfile.mkdtemp(prefix="hazwaste-limits-"))
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "SECRET_KEY": "bench-only-secret",
        "HAZWASTE_SECURE_COOKIES": "0",
        "HAZWASTE_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    flask(env, "db", "upgrade")
    flask(env, "load-reference")
    flask(env, "seed-demo")
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--workers",
            "1",
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout",
            str(int(args.timeout) + 5),
            "app:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "gunicorn.log", "w"),  # noqa: SIM115  (closed with the process)
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit(f"gunicorn did not start; see {tmp / 'gunicorn.log'}")
                time.sleep(0.2)
        result = run(port, server.pid, args.timeout)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    limits = {
        "max_request_bytes": config.MAX_REQUEST_BYTES,
        "max_api_request_bytes": config.MAX_API_REQUEST_BYTES,
        "max_form_memory_size": config.MAX_FORM_MEMORY_SIZE,
    }
    print(json.dumps({"limits": limits, **result}, ensure_ascii=False))


if __name__ == "__main__":
    main()
