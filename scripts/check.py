"""The single quality gate: CI and people run exactly this (`make test`).

Lint, format check, strict type check, import boundaries, then the whole test suite with coverage.
Database-backed tests are parametrized over SQLite and PostgreSQL inside the same pytest run,
spread over one pytest-xdist worker per core (coverage is combined across workers); arguments are
passed on to pytest, so `python scripts/check.py -n 0` runs the suite in one process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

STEPS: list[tuple[str, list[str]]] = [
    ("ruff lint", [str(BIN / "ruff"), "check", "src", "tests", "benchmarks", "scripts"]),
    (
        "ruff format",
        [str(BIN / "ruff"), "format", "--check", "src", "tests", "benchmarks", "scripts"],
    ),
    ("mypy strict", [str(BIN / "mypy")]),
    ("import boundaries", [str(BIN / "lint-imports")]),
    (
        "pytest",
        [
            str(BIN / "pytest"),
            "--cov",
            "--cov-report=term",
            # One worker per core. The tests' durations vary from milliseconds to a minute
            # (processes started, PostgreSQL lanes), so idle workers steal queued tests from busy
            # ones instead of waiting on a fixed split.
            "--numprocesses=auto",
            "--dist=worksteal",
            *sys.argv[1:],
        ],
    ),
]


def main() -> int:
    env = dict(os.environ)
    env.setdefault("ATENDE_ENV", "test")
    for name, cmd in STEPS:
        print(f"==> {name}", flush=True)
        started = time.monotonic()
        result = subprocess.run(cmd, cwd=ROOT, env=env, check=False)  # noqa: S603
        print(f"==> {name}: {time.monotonic() - started:.0f} s", flush=True)
        if result.returncode != 0:
            print(f"FAILED: {name}", flush=True)
            return result.returncode
    print("all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
