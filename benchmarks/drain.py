"""The cost of an answer: server CPU per answered message, and webhook acks while a backlog drains.

For each database (SQLite, PostgreSQL), in a temporary directory and a database of its own:

1. **Ack only** (``atende serve --role api``): N customers each post one signed WhatsApp message
   from 8 clients at once; the server's CPU time per webhook and the ack latencies. Nothing is
   answered: this is what acknowledging costs.
2. **Drain** (``atende serve``, role all, the default of ``make run``; offline engine, burst
   window 0): the same N customers post "qual o horario de funcionamento?" at once, and the
   process answers them all through a fake Graph API. Server CPU from the first post to the last
   reply, divided by the messages answered; answered per second. Meanwhile a probe posts one
   webhook every 1/``--probe-rate`` s from customers of its own until the backlog is drained:
   its ack latencies are what Meta would see while the process answers at full speed.

Each phase starts a fresh server on a fresh copy of the seeded database. Server CPU is the
process's user + system time from /proc.

    .venv/bin/python benchmarks/drain.py [--messages 600] [--engine sqlite --engine postgresql]

Prints the report and rewrites the ``drain`` section of docs/benchmarks.md (``--output -``:
print only). PostgreSQL on ``ATENDE_TEST_PG_*`` (default postgres@127.0.0.1:5432, as the tests).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import orjson
from sections import BENCHMARKS_MD, cpu_model, write_section
from webhook import (
    BIN,
    PHONE_NUMBER_ID,
    ROOT,
    BenchError,
    FakeGraphThread,
    Server,
    WebhookClient,
    base_env,
    fresh_copy,
    percentile,
    running,
    setup_database,
)

import atende

QUESTION = "qual o horario de funcionamento?"
#: Targets of issue 10 ("The cost of an answer").
TARGET_CPU_MS = 4.0
TARGET_ACK_P99_MS = 50.0

#: Where a turn's time went, measured by hand with py-spy (``--py-spy``) and statement counts;
#: kept with the report so that a new run does not lose it. Update it when it changes.
PROFILE_NOTES = """
## Where the time goes (profiled 2026-12-07)

py-spy (`--gil`, 250 Hz) on one process draining 400 messages on PostgreSQL with the offline
engine, before the changes below (commit 923b973), GIL samples by what was running:

| share | what |
|---:|---|
| 50% | SQLAlchemy: ORM flushes and synchronised UPDATEs, `session.get`, compiling, pre-pings |
| 17% | no Python frame (C code: the event loop's selector, sockets, GC) |
| 10% | database driver (asyncpg) |
| 10% | event loop and tasks |
| 5% | the tenant-scope listener (`with_loader_criteria` built for every ORM statement) |
| 3% | the offline engine itself (NLU, FAQ scoring, replies) |
| 3% | Graph API calls (read receipt and reply, aiohttp) |
| <1% | logging, JSON |

So an answer costs what its database work costs: about 20 statements in 5 transactions and 6
sessions (plan, FAQ version check, commit, and the sender's load, attempt and outcome), each
through the ORM. On SQLite each statement is also 3 to 4 hops to aiosqlite's thread (about 80 an
answer). The NLU and FAQ work was not done twice (a one-message turn skips the burst split).

Cut so far (statements per answered message, counted with a `before_cursor_execute` listener:
SQLite 21.1 → 18.1, PostgreSQL 20.2 → 18.2; sessions 6 → 5):

- the FAQ checks a tenant's document version at most every 5 s instead of once per question
  (one session and query less per answer);
- planning reads the contact with its conversation in one query, committing reads identities and
  contact in one (5 statements were 2);
- a turn's events are one Core `INSERT` at commit (they were three ORM flushes);
- the outbox writes the attempt with one Core `INSERT … RETURNING` and updates without the
  ORM's session synchronisation;
- PostgreSQL: webhooks write through a pool of their own, and 4 offline turns run at a time
  instead of 64, which held acknowledgements back for seconds: probe ack p99 while draining
  went from 4,268 ms to 336 ms (the same run's ack-only p99 was 302 ms: what is left is the
  shared machine, not the drain).

Tried and dropped: running a statement's whole cursor life in one aiosqlite call (one hop instead
of four) measured slower in A/B runs, not faster.

What the 4 ms target still needs, by the profile: far fewer ORM round trips per answer. The
sender's three sessions could be one claim-and-send statement plus one outcome; the plan and
commit read the same rows twice; each session's checkout pings PostgreSQL (`pool_pre_ping`); the
tenant-scope listener could cache its criteria per statement shape. Each is a change to the
pipeline's guarantees (exactly one answer, in-doubt sends, tenant isolation) that needs its own
tests.

Before/after on this machine (shared: load average 8 to 12 during both runs, so absolute figures
are inflated; compare within a run):

| run | database | CPU / answered message | probe ack p99 while draining | ack-only p99 |
|---|---|---:|---:|---:|
| before (923b973, 19:19 UTC) | SQLite | 55.97 ms | 231.5 ms | 122.4 ms |
| after (777f47e, 20:19 UTC) | SQLite | 35.01 ms | 238.7 ms | 184.4 ms |
| before (923b973, 19:19 UTC) | PostgreSQL | 33.31 ms | 4,268.5 ms | 304.7 ms |
| after (777f47e, 20:19 UTC) | PostgreSQL | 23.22 ms | 335.8 ms | 302.5 ms |

The CPU figures move with the machine's load as much as with the code: the same pipeline run
in one process (300 messages recorded through ingest directly, load average about 5) cost
22.9 ms (SQLite) and 23.4 ms (PostgreSQL) an answer before and 25.5 and 22.3 ms after, with the
other work merged in between (log masking, column clipping, job retry caps). The statement
counts and the acknowledgement latency while draining are the reliable gains here; the CPU per
answer is still five to nine times the target.
"""


def wa_id(customer: int, base: int) -> str:
    return f"55119{base + customer:08d}"


def body(index: int, sender: str, timestamp: int) -> bytes:
    """One inbound text message as Meta delivers it (the shape of tests/support/payloads.py)."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "551140028922", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Maria Silva"}, "wa_id": sender}],
        "messages": [
            {
                "from": sender,
                "id": f"wamid.DRAIN{index:012d}",
                "timestamp": str(timestamp),
                "type": "text",
                "text": {"body": QUESTION},
            }
        ],
    }
    return orjson.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}
            ],
        }
    )


# --- Databases ------------------------------------------------------------------------------


class Database:
    """A seeded template and fresh copies of it, one per phase."""

    def __init__(self, engine: str, work: Path) -> None:
        self.engine = engine
        self.work = work
        self._pg = {
            "host": os.environ.get("ATENDE_TEST_PG_HOST", "127.0.0.1"),
            "port": int(os.environ.get("ATENDE_TEST_PG_PORT", "5432")),
            "user": os.environ.get("ATENDE_TEST_PG_USER", "postgres"),
        }
        self._prefix = f"atende_drain_{os.getpid()}"
        self._created: list[str] = []

    def url(self, name: str) -> str:
        if self.engine == "sqlite":
            return f"sqlite+aiosqlite:///{self.work / name}.db"
        pg = self._pg
        return f"postgresql+asyncpg://{pg['user']}@{pg['host']}:{pg['port']}/{self._prefix}_{name}"

    def _admin(self, *statements: str) -> None:
        async def run() -> None:
            connection = await asyncpg.connect(**self._pg, database="postgres")
            try:
                for statement in statements:
                    await connection.execute(statement)
            finally:
                await connection.close()

        asyncio.run(run())

    def seed(self, env: dict[str, str]) -> None:
        if self.engine == "postgresql":
            name = f"{self._prefix}_template"
            self._admin(
                f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
            )
            self._created.append(name)
        setup_database({**env, "ATENDE_DATABASE_URL": self.url("template")})

    def copy(self, name: str) -> str:
        if self.engine == "sqlite":
            fresh_copy(self.work / "template.db", self.work / f"{name}.db")
        else:
            full = f"{self._prefix}_{name}"
            self._admin(
                f'DROP DATABASE IF EXISTS "{full}" WITH (FORCE)',
                f'CREATE DATABASE "{full}" TEMPLATE "{self._prefix}_template"',
            )
            self._created.append(full)
        return self.url(name)

    def drop(self) -> None:
        if self.engine == "postgresql" and self._created:
            self._admin(*(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in self._created))


# --- Load -----------------------------------------------------------------------------------


def settle(server: Server, quiet: float = 0.3, timeout: float = 20.0) -> None:
    """Until the server uses no CPU for ``quiet`` seconds (start-up work done)."""
    deadline = time.monotonic() + timeout
    before = server.cpu()
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = server.cpu()
        if now - before < 0.02:
            return
        before = now


def post_burst(
    port: int, app_secret: str, bodies: list[bytes], clients: int
) -> tuple[list[float], int]:
    """Post every body, from ``clients`` threads at once; (ack latencies in ms, failures)."""
    acks: list[float] = []
    failures = 0
    lock = threading.Lock()
    shares = [bodies[i::clients] for i in range(clients)]
    start = threading.Barrier(clients)

    def client(share: list[bytes]) -> None:
        nonlocal failures
        connection = WebhookClient(port, app_secret)
        mine: list[float] = []
        bad = 0
        start.wait()
        try:
            for item in share:
                began = time.perf_counter()
                status = connection.post(item)
                mine.append((time.perf_counter() - began) * 1000)
                bad += status != 200
        finally:
            connection.close()
        with lock:
            acks.extend(mine)
            failures += bad

    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return acks, failures


@dataclass(slots=True)
class Probe:
    """Posts at a fixed rate (open loop) until stopped; each post's ack latency."""

    port: int
    app_secret: str
    rate: float
    timestamp: int
    acks: list[float] = field(default_factory=list)
    customers: list[str] = field(default_factory=list)
    failures: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="probe", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)

    def _run(self) -> None:
        connection = WebhookClient(self.port, self.app_secret)
        begin = time.monotonic()
        try:
            for i in range(1_000_000):
                delay = begin + i / self.rate - time.monotonic()
                if self._stop.wait(max(0.0, delay)):
                    return
                customer = wa_id(i, base=60_000_000)
                payload = body(50_000_000 + i, customer, self.timestamp)
                began = time.perf_counter()
                status = connection.post(payload)
                self.acks.append((time.perf_counter() - began) * 1000)
                self.customers.append(customer)
                self.failures += status != 200
        finally:
            connection.close()


@dataclass(slots=True)
class AckResult:
    messages: int
    cpu_ms: float
    acks_ms: list[float]
    seconds: float


@dataclass(slots=True)
class DrainResult:
    messages: int
    answered: int
    probes: int
    seconds: float
    cpu_s: float
    burst_acks_ms: list[float]
    probe_acks_ms: list[float]
    missing: int
    failures: int

    @property
    def cpu_per_answer_ms(self) -> float:
        return self.cpu_s / max(self.answered, 1) * 1000


@dataclass(slots=True)
class EngineResult:
    engine: str
    ack: AckResult
    drain: DrainResult


def server_env(env: dict[str, str], url: str) -> dict[str, str]:
    return {**env, "ATENDE_DATABASE_URL": url, "ATENDE_BURST_WINDOW_SECONDS": "0"}


def extra_env(pairs: list[str] | None) -> dict[str, str]:
    """``--env NAME=VALUE`` settings for the servers, to compare configurations."""
    return dict(pair.split("=", 1) for pair in pairs or [])


def measure_acks(
    db: Database, env: dict[str, str], app_secret: str, args: argparse.Namespace
) -> AckResult:
    url = db.copy("ack")
    command = [str(BIN / "atende"), "serve", "--role", "api"]
    server = Server(f"{db.engine} role api", command, server_env(env, url), db.work / "ack.log")
    now = int(time.time())
    bodies = [body(i, wa_id(i, base=70_000_000), now) for i in range(args.messages)]
    with running(server, "/readyz"):
        settle(server)
        began, cpu = time.monotonic(), server.cpu()
        acks, failures = post_burst(server.port, app_secret, bodies, args.clients)
        seconds, cpu = time.monotonic() - began, server.cpu() - cpu
    if failures:
        raise BenchError(f"{failures} webhooks were not answered 200:\n{server.tail()}")
    return AckResult(args.messages, cpu / args.messages * 1000, acks, seconds)


def measure_drain(
    db: Database,
    env: dict[str, str],
    fake: FakeGraphThread,
    app_secret: str,
    args: argparse.Namespace,
) -> DrainResult:
    url = db.copy("drain")
    command = [str(BIN / "atende"), "serve", "--role", "all"]
    server = Server(f"{db.engine} role all", command, server_env(env, url), db.work / "drain.log")
    now = int(time.time())
    customers = [wa_id(i, base=80_000_000) for i in range(args.messages)]
    bodies = [body(i, c, now) for i, c in enumerate(customers)]
    fake.reset()
    with running(server, "/readyz"):
        settle(server)
        probe = Probe(server.port, app_secret, args.probe_rate, now)
        profiler = _profiler(args, server, db.engine)
        began, cpu = time.time(), server.cpu()
        probe.start()
        try:
            burst_acks, failures = post_burst(server.port, app_secret, bodies, args.clients)
            replied = fake.wait_replies(customers, timeout=args.timeout)
        finally:
            probe.stop()
        # The probe's own customers are answered too: wait for them, then count everything.
        probed = list(probe.customers)
        replied_probes = fake.wait_replies(probed, timeout=args.timeout)
        last = max([*replied.values(), *replied_probes.values()], default=time.time())
        seconds = last - began
        settle(server)
        cpu = server.cpu() - cpu
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(60)
    return DrainResult(
        messages=len(customers),
        answered=len(replied) + len(replied_probes),
        probes=len(probed),
        seconds=seconds,
        cpu_s=cpu,
        burst_acks_ms=burst_acks,
        probe_acks_ms=probe.acks,
        missing=len(customers) - len(replied) + len(probed) - len(replied_probes),
        failures=failures + probe.failures,
    )


def _profiler(
    args: argparse.Namespace, server: Server, engine: str
) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the server's Python CPU during the drain (``--py-spy``), as collapsed
    stacks (one line per stack, its sample count last) for flame graphs or a quick sort."""
    if not args.py_spy:
        return None
    out = Path(args.profile_dir) / f"drain-{engine}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [args.py_spy, "record", "--pid", str(server.process.pid), "--gil", "--rate", "200"]
    command += ["--format", "raw", "--output", str(out), "--nonblocking"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy attaches before the load starts
    return process


# --- Report ---------------------------------------------------------------------------------


def _ms(values: list[float], p: float) -> str:
    return f"{percentile(values, p):,.1f} ms" if values else "—"


def report(results: list[EngineResult], args: argparse.Namespace, commit: str) -> str:
    lines = [
        "# The cost of an answer (`benchmarks/drain.py`)",
        "",
        f"- **Date**: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- **Machine**: {cpu_model()}, {os.cpu_count()} cores, {platform.platform()}; "
        f"load average {os.getloadavg()[0]:.1f} when the run ended (the machine is shared)",
        f"- **Software**: Python {platform.python_version()}, Atende {atende.__version__} "
        f"(commit {commit})",
        f"- **Command**: `.venv/bin/python benchmarks/drain.py --messages {args.messages}`",
        f"- **Method**: {args.messages} customers each post one signed WhatsApp message "
        f'("{QUESTION}") from {args.clients} clients at once. *Ack only*: `atende serve --role '
        "api`, nothing answered. *Drain*: `atende serve` (role all: webhook, turn worker and "
        "sender in one process, as `make run`), offline engine, burst window 0, replies "
        "through a fake Graph API in the benchmark process; meanwhile a probe posts "
        f"{args.probe_rate:g} webhooks/s from customers of its own until the backlog is "
        "drained. Server CPU: user + system time of the server process (/proc), from the first "
        "post to the last reply (probes included), divided by the messages answered. Each phase "
        "starts a fresh server on a fresh copy of the seeded database; `ATENDE_ENV=production`, "
        "`ATENDE_LOG_LEVEL=WARNING`.",
        "",
        "| database | CPU / answered message | answered/s | drain time | ack p50 / p99 "
        "during the burst | probe ack p50 / p99 while draining | ack-only CPU / webhook | "
        "ack-only p50 / p99 | missing |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        d, a = r.drain, r.ack
        lines.append(
            f"| {r.engine} | {d.cpu_per_answer_ms:.2f} ms | {d.answered / d.seconds:,.0f} | "
            f"{d.seconds:.2f} s | {_ms(d.burst_acks_ms, 50)} / {_ms(d.burst_acks_ms, 99)} | "
            f"{_ms(d.probe_acks_ms, 50)} / {_ms(d.probe_acks_ms, 99)} ({len(d.probe_acks_ms)}) | "
            f"{a.cpu_ms:.2f} ms | {_ms(a.acks_ms, 50)} / {_ms(a.acks_ms, 99)} | {d.missing} |"
        )
    lines += ["", "Targets (issue 10):", ""]
    for r in results:
        d = r.drain
        cpu_ok = d.cpu_per_answer_ms <= TARGET_CPU_MS
        ack = percentile(d.probe_acks_ms, 99) if d.probe_acks_ms else float("nan")
        lines.append(
            f"- {r.engine}: CPU per answered message ≤ {TARGET_CPU_MS:g} ms: "
            f"{d.cpu_per_answer_ms:.2f} ms, {'met' if cpu_ok else '**missed**'}; "
            f"probe ack p99 < {TARGET_ACK_P99_MS:g} ms while draining: {ack:.1f} ms, "
            f"{'met' if ack < TARGET_ACK_P99_MS else '**missed**'}."
        )
    lines.append(PROFILE_NOTES)
    return "\n".join(lines) + "\n"


# --- Main -----------------------------------------------------------------------------------


@contextlib.contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="atende-drain-"))
    try:
        yield path
    finally:
        if not keep:
            subprocess.run(["rm", "-rf", str(path)], check=False)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=600, help="customers in the burst")
    parser.add_argument("--clients", type=int, default=8, help="concurrent posting clients")
    parser.add_argument("--probe-rate", type=float, default=10.0, help="probe webhooks/s")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to drain")
    parser.add_argument(
        "--engine", choices=["sqlite", "postgresql"], action="append", help="default: both"
    )
    parser.add_argument("--output", default=str(BENCHMARKS_MD), help="page to write, or -")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--env", action="append", metavar="NAME=VALUE", help="a setting for the servers"
    )
    parser.add_argument("--py-spy", help="a py-spy executable: profile the drain phase")
    parser.add_argument("--profile-dir", default="profiles", help="where --py-spy writes")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    results: list[EngineResult] = []
    fake = FakeGraphThread()
    app_secret = secrets.token_hex(16)
    fake.start()
    try:
        for engine in args.engine or ["sqlite", "postgresql"]:
            with workdir(args.keep) as work:
                db = Database(engine, work)
                env = {**base_env(work, fake.url, app_secret), **extra_env(args.env)}
                try:
                    db.seed(env)
                    ack = measure_acks(db, env, app_secret, args)
                    print(f"{engine}: ack only {ack.cpu_ms:.2f} ms CPU/webhook", flush=True)
                    drain = measure_drain(db, env, fake, app_secret, args)
                    print(
                        f"{engine}: {drain.cpu_per_answer_ms:.2f} ms CPU/answer, "
                        f"{drain.answered} answered in {drain.seconds:.2f} s, "
                        f"probe ack p99 {percentile(drain.probe_acks_ms, 99):.1f} ms",
                        flush=True,
                    )
                    results.append(EngineResult(engine, ack, drain))
                finally:
                    db.drop()
    except BenchError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    finally:
        fake.stop()
    text = report(results, args, commit)
    print(text)
    if args.output != "-":
        write_section("drain", text, Path(args.output))
    missing = sum(r.drain.missing + r.drain.failures for r in results)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
