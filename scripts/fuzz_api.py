"""Fuzz the JSON API with schemathesis against its own OpenAPI document (``make fuzz``).

A throw-away SQLite database gets the migrations, the reference data and the demo world
(``flask db upgrade``, ``load-reference``, ``seed-demo``); the app runs in-process (WSGI).
Every documented operation gets a fixed number of generated requests (``FUZZ_EXAMPLES``,
default 50) with a fixed seed (``FUZZ_SEED``), so a run is reproducible, in each generation
mode (``FUZZ_MODES``, default ``positive,negative``: requests the document allows, and
requests it does not); authenticated ones are sent once with a producer's and once with a
regulator's bearer token. Any 5xx, any answer whose status is not documented for the
operation, whose body does not match its documented schema or whose content type is not
documented, counts as a failure. Every example runs (no stopping or shrinking at the first
failure); the report groups failures by operation and kind, with one input and, for a 5xx,
the server's traceback summary.

Token revocation (``DELETE /api/v1/auth/…``) is not fuzzed (it would revoke the fuzzer's own
tokens) and ``POST /api/v1/auth/token`` gets only a few examples (failed logins count
against the login rate limit). Exit status 1 when there is a failure.

    .venv/bin/python scripts/fuzz_api.py [--examples N] [--seed N] [--modes positive,negative]
                                         [--only PATH-SUBSTRING]
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's hazwaste, whatever the venv points at

PASSWORD = "demo-pass-2026"
ACCOUNTS = {"producer": "producer@demo.test", "regulator": "regulator@demo.test"}
#: Unauthenticated login attempts: few, so the fuzzer never trips the login rate limit.
LOGIN_EXAMPLES = 3


def excluded(method: str, path: str) -> bool:
    """Operations the fuzzer must not run: revoking tokens would end its own session."""
    return method.upper() == "DELETE" and path.startswith("/api/v1/auth/")


@dataclass
class Report:
    requests: int = 0
    failed_requests: int = 0
    #: (operation, role, kind) → [count, first example text]
    groups: dict[tuple[str, str, str], list[Any]] = field(default_factory=dict)
    by_operation: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, operation: str, role: str, kind: str, example: str) -> None:
        entry = self.groups.setdefault((operation, role, kind), [0, example])
        entry[0] += 1


class ErrorLog(logging.Handler):
    """Keeps the app's logged exceptions (the 500 handler logs each one) for the report."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> str:
        lines = []
        for record in self.records:
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                frames = traceback.extract_tb(exc.__traceback__)
                ours = [f for f in frames if "/hazwaste/" in f.filename] or frames
                where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno} {ours[-1].name}"
                lines.append(f"{type(exc).__name__}: {str(exc)[:200]} (at {where})")
            else:
                lines.append(record.getMessage()[:200])
        self.records.clear()
        return "; ".join(lines)


def prepare_database(directory: str) -> dict[str, str]:
    """The demo world in a new SQLite file; returns the environment that points at it."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{directory}/fuzz.db",
        "SECRET_KEY": "fuzz-secret-key-not-for-production",
        "HAZWASTE_PUBLIC_BASE_URL": "http://127.0.0.1",
    }
    for command in (["db", "upgrade"], ["load-reference"], ["seed-demo"]):
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            sys.stderr.write(done.stdout + done.stderr)
            raise SystemExit(f"fuzz: flask {' '.join(command)} failed")
    return env


def describe(case: Any) -> str:
    parts = [f"{case.method} {case.formatted_path}"]
    if case.query:
        parts.append(f"query={case.query!r}")
    # The generated Authorization header is replaced by the role's token when sent.
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    if headers:
        parts.append(f"headers={headers!r}")
    if case.body is not None and not _is_unset(case.body):
        parts.append(f"body={case.body!r}")
    text = " ".join(parts)
    return text if len(text) <= 600 else text[:600] + "…"


def _is_unset(value: Any) -> bool:
    return type(value).__name__ == "NotSet"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=int(os.environ.get("FUZZ_EXAMPLES", 50)))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", 20261202)))
    parser.add_argument("--only", default="", help="fuzz only paths containing this text")
    parser.add_argument(
        "--modes",
        default=os.environ.get("FUZZ_MODES", "positive,negative"),
        help="comma-separated generation modes: positive (valid per the document), negative",
    )
    args = parser.parse_args(argv)

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hazwaste-fuzz-") as directory:
        env = prepare_database(directory)
        os.environ.update(env)
        report = run(args.examples, args.seed, args.only, args.modes.split(","))
    elapsed = time.monotonic() - started

    for (operation, role, kind), (count, example) in sorted(report.groups.items()):
        print(f"FAIL {operation} [{role}] {kind}: {count}×\n     e.g. {example}")
    print(
        f"fuzz: {report.requests} requests, {report.failed_requests} failed "
        f"({len(report.groups)} distinct), {args.examples} examples per operation, token and "
        f"mode ({args.modes}), seed {args.seed}, {elapsed:.0f} s"
    )
    return 1 if report.failed_requests else 0


def run(examples: int, seed: int, only: str, modes: list[str]) -> Report:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fixed_seed
    from schemathesis.checks import not_a_server_error
    from schemathesis.core.result import Ok
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    from hazwaste import create_app

    app = create_app()
    errors = ErrorLog()
    logging.getLogger("hazwaste").addHandler(errors)
    client = app.test_client()
    tokens = {}
    for role, email in ACCOUNTS.items():
        answer = client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
        if answer.status_code != 201:
            raise SystemExit(f"cannot log in as {email}: {answer.status_code}")
        tokens[role] = {"Authorization": f"Bearer {answer.get_json()['data']['token']}"}

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    report = Report()

    def fuzz_test(operation: Any, label: str, role: str, count: int, mode: Any) -> Any:
        headers = tokens.get(role, {})
        who = role if mode == "positive" else f"{role}, {mode}"

        @fixed_seed(seed)
        @settings(
            max_examples=count,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case: Any) -> None:
            errors.records.clear()
            try:
                response = case.call(headers=headers)
            except Exception as exc:  # the transport itself failed: report, go on
                report.requests += 1
                report.failed_requests += 1
                report.add(label, who, f"request error {type(exc).__name__}", str(exc))
                return
            report.requests += 1
            report.by_operation[label] += 1
            try:
                case.validate_response(response, checks=checks, headers=headers)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # a Failure, or a FailureGroup of several
                failures = list(getattr(exc, "exceptions", None) or [exc])
                if response.status_code >= 500:  # one failure, not also "undocumented 500"
                    failures = failures[:1]
                report.failed_requests += 1
                server = errors.take()
                for failure in failures:
                    title = getattr(failure, "title", type(failure).__name__)
                    if response.status_code >= 500:
                        title = "Server error"
                    kind = f"{title} ({response.status_code})"
                    detail = str(getattr(failure, "message", "") or failure).strip()
                    example = describe(case)
                    if server:
                        example += f"\n     server: {server}"
                    elif detail:
                        example += "\n     " + detail.replace("\n", " ")[:400]
                    report.add(label, who, kind, example)

        return fuzz

    for result in schema.get_all_operations():
        if not isinstance(result, Ok):  # the document describes this operation wrongly
            report.failed_requests += 1
            report.add("document", "-", "invalid operation", str(result.err())[:300])
            continue
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if excluded(operation.method, operation.path) or (only and only not in operation.path):
            continue
        secured = bool(operation.definition.raw.get("security"))
        roles = list(tokens) if secured else ["anonymous"]
        # Only the login is kept short (its failures count against the throttle); the other
        # public operations (the transparency log) get the full number of examples.
        login = operation.path == "/api/v1/auth/token"
        count = min(examples, LOGIN_EXAMPLES) if login else examples
        raw = operation.definition.raw
        # A public operation without parameters or body has no invalid request to generate
        # (Hypothesis says "Unsatisfiable"): its negative mode has nothing to try.
        inputless = not raw.get("parameters") and "requestBody" not in raw and not secured
        for mode, role in ((m, r) for m in modes for r in roles):
            if mode == "negative" and inputless:
                continue
            try:
                fuzz_test(operation, label, role, count, schemathesis.GenerationMode(mode))()
            except Exception as exc:  # generation failed for this operation
                report.failed_requests += 1
                report.add(
                    label,
                    f"{role}, {mode}",
                    f"generation error {type(exc).__name__}",
                    str(exc)[:300],
                )
    return report


if __name__ == "__main__":
    sys.exit(main())
