"""WhatsApp webhook benchmark: throughput (wrk) and answer latency; writes docs/benchmarks.md.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/webhook.py``). Everything lives in a
temporary directory: a SQLite database migrated and seeded with the demo tenant, a fake Graph API
(in a thread of this process) that receives Atende's replies, and the pre-signed requests wrk
replays. See benchmarks/README.md for what is measured and why.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import math
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from cryptography.fernet import Fernet
from sections import write_section

import atende
from atende.channels.whatsapp.verify import sign
from atende.devtools.fake_graph import FakeGraph, Recorded

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "webhook.lua"
BIN = Path(sys.executable).parent
CHANNEL = "demo-whatsapp"
WEBHOOK_PATH = f"/webhooks/whatsapp/{CHANNEL}"
PHONE_NUMBER_ID = "100000000000001"
#: The message of the smoke test, outside the range of ids the load uses.
SMOKE_INDEX = 99_000_000

WRK_TIMEOUT_S = 10

# Targets agreed for the webhook (see docs/benchmarks.md).
TARGET_RPS = 2_000
TARGET_P99_MS = 50.0
TARGET_FRACTION = 0.30
TARGET_ANSWER_P50_MS = 50.0

# A customer writing a long message: about 1.5 KB of webhook body once wrapped in Meta's envelope.
# It greets (so the offline engine answers with its greeting) and avoids the words that would
# hand the conversation over to a human, after which the bot stops answering that customer.
_TEXT = (
    "Bom dia! Fiz um pedido no site na semana passada, número {order}, e até agora não recebi "
    "nenhuma atualização sobre a entrega. No e-mail de confirmação dizia que o prazo era de cinco "
    'dias úteis, mas já se passaram oito e o rastreio continua parado em "aguardando coleta" desde '
    "segunda-feira. Comprei uma cafeteira elétrica, dois jogos de toalhas e um liquidificador, e "
    "paguei com cartão de crédito em três vezes, então a primeira parcela já apareceu na fatura. "
    "Preciso desses itens até sexta porque vou me mudar e a casa nova está sem nada. Vocês "
    "conseguem verificar com a transportadora o que aconteceu? Se não for possível entregar até "
    "lá, gostaria de saber se dá para retirar em alguma loja física aqui em Campinas, ou então "
    "cancelar só o liquidificador e manter o resto. Também queria confirmar o endereço: Rua das "
    "Palmeiras, {number}, apartamento 56, bloco B, Cambuí, CEP 13025-000. Meu nome no cadastro é "
    "o mesmo deste WhatsApp, e prefiro receber as respostas por aqui mesmo. Obrigada desde já!"
)
_NAMES = ("Maria Silva", "João Pereira", "Ana Souza", "Carlos Oliveira", "Fernanda Lima")


class BenchError(Exception):
    """The benchmark itself failed (a server did not start, wrk broke): exit non-zero."""


# --- Payloads -------------------------------------------------------------------------------


def wa_id(customer: int, *, base: int = 70_000_000) -> str:
    """A Brazilian mobile number as WhatsApp writes it (country code, no plus sign)."""
    return f"55119{base + customer:08d}"


def message_id(index: int) -> str:
    return f"wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFjNFQjA{index:012d}"


def webhook_body(index: int, sender: str, *, timestamp: int) -> bytes:
    """One inbound text message, shaped like Meta's deliveries (see tests/support/payloads.py)."""
    name = _NAMES[index % len(_NAMES)]
    message = {
        "from": sender,
        "id": message_id(index),
        "timestamp": str(timestamp),
        "type": "text",
        "text": {"body": _TEXT.format(order=f"BR-{4_810_000 + index}", number=100 + index % 900)},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "551140028922", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [
            {"profile": {"name": name}, "wa_id": sender, "user_id": f"BR.{sender[-10:]}77"}
        ],
        "messages": [message],
    }
    return orjson.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}
            ],
        }
    )


def http_request(body: bytes, app_secret: str) -> bytes:
    """The whole HTTP/1.1 request Meta would send; wrk replays these bytes as they are."""
    head = (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        "User-Agent: facebookexternalua\r\n"
        "Accept: */*\r\n"
        "Content-Type: application/json\r\n"
        f"X-Hub-Signature-256: {sign(app_secret, body)}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode() + body


def write_requests(
    prefix: Path, *, total: int, threads: int, customers: int, app_secret: str
) -> float:
    """One file per wrk thread (see webhook.lua for the format); returns the mean body size."""
    now = int(time.time())
    per_thread = math.ceil(total / threads)
    body_bytes = 0
    for thread in range(threads):
        with open(f"{prefix}.{thread}", "wb") as out:
            for index in range(thread * per_thread, (thread + 1) * per_thread):
                body = webhook_body(index, wa_id(index % customers), timestamp=now)
                body_bytes += len(body)
                request = http_request(body, app_secret)
                out.write(b"%010d" % len(request))
                out.write(request)
    return body_bytes / (per_thread * threads)


# --- The fake Graph API ---------------------------------------------------------------------


class FakeGraphThread:
    """FakeGraph on its own thread and event loop, remembering when each customer got a reply.

    The thread runs at nice 10: the real Graph API does not share Atende's CPU, so the fake
    should only take what the server and wrk leave over."""

    def __init__(self) -> None:
        self.url = ""
        self._thread = threading.Thread(target=self._run, name="fake-graph", daemon=True)
        self._ready = threading.Event()
        self._lock = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._fake: FakeGraph | None = None
        self._error: BaseException | None = None
        self._first_reply: dict[str, float] = {}
        self.messages = 0
        self.reads = 0
        self.failures = 0

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(15):
            raise BenchError("the fake Graph API did not start within 15 s")
        if self._error is not None:
            raise BenchError(f"the fake Graph API did not start: {self._error}")

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)

    def _run(self) -> None:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        fake = FakeGraph(on_request=self._on_request)
        try:
            await fake.start()
        except Exception as exc:
            self._error = exc
            self._ready.set()
            return
        self._fake, self.url = fake, fake.url
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await fake.stop()

    def _on_request(self, recorded: Recorded) -> None:
        with self._lock:
            if recorded.status >= 300:
                self.failures += 1
            elif recorded.kind == "read":
                self.reads += 1
            elif recorded.kind == "message":
                self.messages += 1
                to = (recorded.json or {}).get("to")
                if isinstance(to, str) and to not in self._first_reply:
                    self._first_reply[to] = recorded.received_at
                    self._lock.notify_all()
        # FakeGraph keeps every request for tests to inspect; a benchmark sends ~10^5 of them
        # and reads none, so forget them as they come (this runs on the fake's own loop).
        if self._fake is not None:
            self._fake.requests.clear()

    def counts(self) -> tuple[int, int, int]:
        with self._lock:
            return self.messages, self.reads, self.failures

    def reset(self) -> None:
        with self._lock:
            self._first_reply.clear()

    def wait_replies(self, customers: Sequence[str], timeout: float) -> dict[str, float]:
        """When each of these customers first got a message, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                missing = [c for c in customers if c not in self._first_reply]
                remaining = deadline - time.monotonic()
                if not missing or remaining <= 0:
                    return {c: self._first_reply[c] for c in customers if c in self._first_reply}
                self._lock.wait(min(remaining, 0.5))


# --- Processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process, from /proc (utime and stime, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine have used since boot (from /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already in user).
    busy = sum(values[:8]) - values[3] - values[4]
    return busy / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> tuple[float, float]:
    """(this process: the fake Graph API's thread mostly; reaped children: wrk)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


class Server:
    """A server process in its own process group, so that stopping it stops all it started."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=ROOT,
            )

    def wait_ready(self, path: str | None, timeout: float = 60.0) -> None:
        """Until ``path`` answers 200 (or, with None, until anything answers HTTP at all)."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(
                    f"{self.name} exited with code {self.process.returncode} before it was "
                    f"ready; last lines of {self.log}:\n{self.tail()}"
                )
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                connection.request("GET", path or "/")
                status = connection.getresponse().status
                if path is None or status == 200:
                    return
                last = f"HTTP {status}"
            except OSError as exc:
                last = str(exc)
            finally:
                connection.close()
            time.sleep(0.1)
        raise BenchError(
            f"{self.name} was not ready within {timeout:.0f} s ({last}):\n{self.tail()}"
        )

    def tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def last_error(self) -> str:
        """The last log record, readable: production logs are JSON with the traceback inside."""
        lines = self.tail(1)
        try:
            record = json.loads(lines)
        except ValueError:
            return lines
        if not isinstance(record, dict):
            return lines
        exception = str(record.get("exception", "")).strip().splitlines()
        return "\n".join([str(record.get("event", "")).strip(), *exception[-3:]])

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


@contextlib.contextmanager
def running(server: Server, ready_path: str | None) -> Iterator[Server]:
    try:
        server.wait_ready(ready_path)
        yield server
    finally:
        server.stop()


class WebhookClient:
    """Signed webhook POSTs over one keep-alive connection, reopened after a failure."""

    def __init__(self, port: int, app_secret: str) -> None:
        self._port = port
        self._app_secret = app_secret
        self._connection: http.client.HTTPConnection | None = None

    def post(self, body: bytes) -> int:
        """The HTTP status, or 0 when the connection failed."""
        if self._connection is None:
            self._connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=10)
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(self._app_secret, body),
        }
        try:
            self._connection.request("POST", WEBHOOK_PATH, body=body, headers=headers)
            response = self._connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            return 0
        if response.will_close:
            self.close()
        return response.status

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def smoke_test(server: Server, app_secret: str) -> None:
    """One webhook before the load: a broken server fails here, clearly, not as 10 s of errors."""
    client = WebhookClient(server.port, app_secret)
    try:
        body = webhook_body(SMOKE_INDEX, wa_id(0, base=90_000_000), timestamp=int(time.time()))
        status = client.post(body)
    finally:
        client.close()
    if status != 200:
        raise BenchError(
            f"{server.name}: a signed webhook was answered "
            f"{'with no response' if status == 0 else f'HTTP {status}'}, expected 200; "
            f"its log ({server.log}) ends with:\n{server.last_error()}"
        )


# --- Throughput -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    key: str
    label: str
    command: list[str]
    #: Path that answers 200 once ready; None: any HTTP answer will do.
    ready_path: str | None
    atende: bool


@dataclass(slots=True)
class RunResult:
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    wrapped: int
    server_cpu_us: float
    #: Cores' worth of CPU the server used during the load.
    server_cores: float
    #: Cores' worth of CPU used by everything else on the machine (not the server, wrk or the
    #: fake Graph API): other people's work on a shared machine, which skews the figures.
    other_cores: float
    replies: int = 0
    stored: int | None = None
    answered: int | None = None


@dataclass(slots=True)
class Throughput:
    target: Target
    runs: list[RunResult] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(float(getattr(run, attribute)) for run in self.runs)

    @property
    def errors(self) -> int:
        return sum(run.non_2xx + run.socket_errors for run in self.runs)


def run_wrk(
    port: int, requests_prefix: Path, args: argparse.Namespace, log: Path
) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        # With wrk's default 2 s timeout the slowest answers would vanish from the latency
        # figures (counted as errors only): a slow answer belongs in the p99.
        f"--timeout={WRK_TIMEOUT_S}s",
        "--latency",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
    ]
    env = {**os.environ, "ATENDE_BENCH_REQUESTS": str(requests_prefix)}
    completed = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=args.duration + 120, check=False
    )
    log.write_text(completed.stdout + completed.stderr)
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if completed.returncode != 0 or line is None:
        raise BenchError(
            f"wrk failed (exit {completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
        )
    result: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    # wrk's own summary line, as a cross-check of the status count the Lua hook reported.
    printed = re.search(r"Non-2xx or 3xx responses: (\d+)", completed.stdout)
    result["non_2xx_printed"] = int(printed.group(1)) if printed else 0
    return result


def count_inbound(db: Path) -> tuple[int, int]:
    """(stored, answered) inbound messages of the load in an Atende database."""
    with contextlib.closing(sqlite3.connect(db)) as connection:
        row = connection.execute(
            "SELECT count(*), count(processed_at) FROM messages "
            "WHERE direction = 'in' AND provider_message_id != ?",
            (message_id(SMOKE_INDEX),),
        ).fetchone()
    return int(row[0]), int(row[1])


def fresh_copy(template: Path, destination: Path) -> None:
    """A consistent copy of a SQLite database (the backup API also takes what sits in the WAL)."""
    with (
        contextlib.closing(sqlite3.connect(template)) as source,
        contextlib.closing(sqlite3.connect(destination)) as target,
    ):
        source.backup(target)


def measure_throughput(
    target: Target,
    run: int,
    *,
    work: Path,
    env: dict[str, str],
    template: Path,
    requests_prefix: Path,
    fake: FakeGraphThread,
    app_secret: str,
    args: argparse.Namespace,
) -> RunResult:
    db = work / f"{target.key}-{run}.db"
    command = list(target.command)
    server_env = dict(env)
    if target.atende:
        fresh_copy(template, db)
        server_env["ATENDE_DATABASE_URL"] = f"sqlite+aiosqlite:///{db}"
    else:
        command += ["--db", str(db), "--app-secret", app_secret]
    server = Server(target.label, command, server_env, work / f"{target.key}-{run}.log")
    with running(server, target.ready_path):
        smoke_test(server, app_secret)
        replies_before = fake.counts()[0]
        # Only wrk is reaped during the load, so the children's CPU delta is wrk's.
        wall, server_cpu, machine = time.monotonic(), server.cpu(), machine_busy_seconds()
        own, children = own_cpu_seconds()
        wrk = run_wrk(server.port, requests_prefix, args, work / f"{target.key}-{run}.wrk.txt")
        wall, server_cpu = time.monotonic() - wall, server.cpu() - server_cpu
        machine = machine_busy_seconds() - machine
        own_after, children_after = own_cpu_seconds()
        ours = server_cpu + (own_after - own) + (children_after - children)
        replies = fake.counts()[0] - replies_before
    latency = wrk["latency_us"]
    errors = wrk["errors"]
    requests = int(wrk["requests"])
    result = RunResult(
        rps=requests / (wrk["duration_us"] / 1e6),
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        requests=requests,
        non_2xx=max(int(errors["status"]), wrk["non_2xx_printed"]),
        socket_errors=int(errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]),
        wrapped=int(wrk["wrapped"]),
        server_cpu_us=server_cpu / max(requests, 1) * 1e6,
        server_cores=server_cpu / wall,
        other_cores=max(0.0, machine - ours) / wall,
        replies=replies,
    )
    if target.atende:
        result.stored, result.answered = count_inbound(db)
    return result


# --- Latency --------------------------------------------------------------------------------


@dataclass(slots=True)
class LatencyResult:
    sent: int
    warmup: int
    rate: float
    answer_ms: list[float]
    ack_ms: list[float]
    missing: int
    failed_posts: int


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (no interpolation: every figure is a latency that happened)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def measure_latency(
    *,
    work: Path,
    env: dict[str, str],
    template: Path,
    fake: FakeGraphThread,
    app_secret: str,
    args: argparse.Namespace,
) -> LatencyResult:
    db = work / "latency.db"
    fresh_copy(template, db)
    server_env = {
        **env,
        "ATENDE_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        # Answer each message at once instead of waiting for more fragments of a burst.
        "ATENDE_BURST_WINDOW_SECONDS": "0",
    }
    command = [str(BIN / "atende"), "serve", "--role", "all"]
    server = Server("atende (latency)", command, server_env, work / "latency.log")
    fake.reset()
    now = int(time.time())
    warmup, total = args.latency_warmup, args.latency_warmup + args.latency_messages
    # Customers of their own (another number range than the throughput phase): one message each,
    # so every message starts a conversation of its own and gets exactly one answer.
    customers = [wa_id(i, base=80_000_000) for i in range(total)]
    started: dict[str, float] = {}
    ack_ms: list[float] = []
    failed = 0
    with running(server, "/readyz"):
        client = WebhookClient(server.port, app_secret)
        try:
            begin = time.monotonic()
            for i, customer in enumerate(customers):
                # Paced by schedule, not by sleeping a fixed gap, so a slow answer does not slow
                # the arrival rate down (open loop).
                delay = begin + i / args.latency_rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                started[customer] = time.time()
                status = client.post(webhook_body(10_000_000 + i, customer, timestamp=now))
                ack_ms.append((time.time() - started[customer]) * 1000)
                if status != 200:
                    failed += 1
        finally:
            client.close()
        replied = fake.wait_replies(customers, timeout=30)
    measured = customers[warmup:]
    answer_ms = [(replied[c] - started[c]) * 1000 for c in measured if c in replied]
    return LatencyResult(
        sent=len(measured),
        warmup=warmup,
        rate=args.latency_rate,
        answer_ms=answer_ms,
        ack_ms=ack_ms[warmup:],
        missing=len(measured) - len(answer_ms),
        failed_posts=failed,
    )


# --- Report ---------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text()
    mem = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.MULTILINE)
    os_name = platform.platform()
    with contextlib.suppress(OSError):
        release = Path("/etc/os-release").read_text()
        pretty = re.search(r'^PRETTY_NAME="?([^"\n]+)"?', release, re.MULTILINE)
        if pretty:
            os_name = f"{pretty.group(1)} (Linux {platform.release()})"
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    wrk_version = next(iter((wrk.stdout + wrk.stderr).splitlines()), "wrk ?").strip()
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cpu": model.group(1).strip() if model else platform.processor() or "unknown",
        "cores": str(os.cpu_count()),
        "ram": f"{int(mem.group(1)) / 1024 / 1024:.1f} GiB" if mem else "unknown",
        "os": os_name,
        "python": platform.python_version(),
        "wrk": wrk_version,
        "atende": atende.__version__,
        "commit": (commit or "unknown") + (" with uncommitted changes in src/" if dirty else ""),
    }


def _mark(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render(
    *,
    date: str,
    info: dict[str, str],
    args: argparse.Namespace,
    body_size: float,
    results: list[Throughput],
    latency: LatencyResult | None,
    refused_by_fake: int,
) -> str:
    by_key = {result.target.key: result for result in results}
    bare = by_key.get("bare")
    bare_rps = bare.median("rps") if bare else math.nan
    lines = [
        "# Webhook throughput and answer latency",
        "",
        "Generated by `make bench` (`benchmarks/webhook.py`).",
        "",
        f"- **Date**: {date}",
        f"- **Machine**: {info['cpu']}, {info['cores']} cores, {info['ram']} RAM, {info['os']}",
        f"- **Software**: Python {info['python']}, Atende {info['atende']} (commit "
        f"{info['commit']}), {info['wrk']}",
        "- **Command**: `make bench`",
        "",
        "## Method",
        "",
        f"- **Load**: `wrk -t{args.threads} -c{args.connections} -d{args.duration}s "
        f"--timeout={WRK_TIMEOUT_S}s --latency` with `benchmarks/webhook.lua`, on the same "
        "machine as the server (wrk competes for the "
        f"same {info['cores']} cores). {args.runs} run(s) per server, interleaved; each figure is "
        "the median of the runs. Each run starts a fresh server on a fresh copy of the database.",
        f"- **Requests**: `POST {WEBHOOK_PATH}`, a WhatsApp text message as Meta delivers it "
        f"({body_size:,.0f} bytes of JSON on average, a long customer message), signed with "
        "`X-Hub-Signature-256`. Every request carries a unique message id, so deduplication "
        f"never turns one into a no-op, from {args.customers:,} distinct customers. The requests "
        "are built before the run and split between wrk threads so that no id is sent twice.",
        "- **Atende, role all**: one `atende serve` process as users run it: the webhook API "
        "*and* the turn worker and the outbox sender, which answer the messages (offline engine) "
        "through a fake Graph API while the load runs. SQLite (WAL) database, "
        "`ATENDE_ENV=production` (JSON logs), `ATENDE_LOG_LEVEL=WARNING`. The fake Graph API "
        "runs in a thread of the benchmark process at nice 10, so that it only uses what the "
        "server and wrk leave over.",
        "- **Atende, role api**: the same with `--role api`: the webhook alone, no worker "
        "(messages are stored and queued, not answered).",
        "- **Bare baseline**: `benchmarks/bare_app.py`: one FastAPI POST handler (raw "
        "`Request`), HMAC-SHA256 check, JSON parse, one `INSERT` into SQLite (aiosqlite, WAL, "
        "synchronous=NORMAL) and a commit, `200 {}`; uvicorn, one process. The ceiling a "
        "FastAPI + SQLite webhook can approach on this machine.",
        f"- **Answer latency**: a fresh role-all server with `ATENDE_BURST_WINDOW_SECONDS=0`; "
        f"{args.latency_messages} messages at {args.latency_rate:g}/s (after "
        f"{args.latency_warmup} warm-up messages), each from a new customer, one at a time; "
        "for each, the time from just before the POST to when the fake Graph API received the "
        "reply addressed to that customer (mark-as-read requests are not replies).",
        "",
        "## Throughput",
        "",
        "| server | req/s | % of bare | p50 | p90 | p99 | server CPU / req | server cores "
        "| other load | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        share = result.median("rps") / bare_rps if bare else math.nan
        lines.append(
            f"| {result.target.label} | {result.median('rps'):,.0f} | "
            f"{f'{share:.0%}' if bare and result is not bare else '—'} | "
            f"{result.median('p50_ms'):.1f} ms | {result.median('p90_ms'):.1f} ms | "
            f"{result.median('p99_ms'):.1f} ms | {result.median('server_cpu_us'):.0f} µs | "
            f"{result.median('server_cores'):.2f} | {result.median('other_cores'):.2f} | "
            f"{result.errors} |"
        )
    lines += [
        "",
        "Each column is the median over the runs. *server CPU / req*: user + system CPU time of "
        "the server process during the load, divided by the requests wrk saw answered (for role "
        "all it includes the worker and the sender). *server cores*: the same CPU time divided "
        "by the duration (1.00 = one core fully used). *other load*: cores' worth of CPU used "
        "on the machine by anything but the server, wrk and the fake Graph API (other work on a "
        "shared machine; high values make the run less trustworthy). *errors*: non-2xx answers "
        "plus socket errors and timeouts.",
        "",
        "Per run (req/s; p99):",
        "",
    ]
    for result in results:
        runs = ", ".join(f"{run.rps:,.0f} ({run.p99_ms:.1f} ms)" for run in result.runs)
        lines.append(f"- {result.target.label}: {runs}")
    lines.append("")
    notes = []
    if any(run.wrapped for result in results for run in result.runs):
        notes.append(
            "some wrk threads ran out of pre-built requests and replayed them: those repeats "
            "were duplicates (`--bodies` should be raised)"
        )
    for result in results:
        for i, run in enumerate(result.runs, 1):
            # wrk stops counting at the deadline while up to one request per connection is
            # still in flight: the server may store those too.
            if run.stored is not None and not (
                run.requests <= run.stored <= run.requests + args.connections
            ):
                notes.append(
                    f"{result.target.label}, run {i}: wrk counted {run.requests:,} answered "
                    f"requests, the database holds {run.stored:,} inbound messages"
                )
    all_runs = by_key.get("all")
    if all_runs:
        replies = statistics.median(run.replies for run in all_runs.runs)
        answered = statistics.median(float(run.answered or 0) for run in all_runs.runs)
        received = statistics.median(float(run.stored or 0) for run in all_runs.runs)
        lines += [
            f"Role all, in the background of the same process: the fake Graph API received "
            f"{replies:,.0f} replies during the {args.duration} s of load (median); when the "
            f"server was stopped right after, {answered:,.0f} of the {received:,.0f} stored "
            "messages had been processed by the turn worker (a message sent within the burst "
            "window of the same customer is answered together with the others).",
            "",
        ]
    if refused_by_fake:
        notes.append(
            f"the fake Graph API refused {refused_by_fake:,} requests from Atende (invalid "
            "payloads): a bug, see the server logs with `--keep`"
        )
    if notes:
        lines += ["Notes:", "", *[f"- {note}" for note in notes], ""]
    if latency is not None:
        lines += [
            "## Answer latency (webhook received → reply at the Graph API)",
            "",
            "| messages | rate | p50 | p90 | p99 | max | webhook ack p50 / p99 | missing |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {latency.sent} | {latency.rate:g}/s | {percentile(latency.answer_ms, 50):.1f} ms "
            f"| {percentile(latency.answer_ms, 90):.1f} ms "
            f"| {percentile(latency.answer_ms, 99):.1f} ms "
            f"| {max(latency.answer_ms, default=math.nan):.1f} ms "
            f"| {percentile(latency.ack_ms, 50):.1f} / {percentile(latency.ack_ms, 99):.1f} ms "
            f"| {latency.missing} |",
            "",
        ]
    lines += ["## Interpretation", "", *interpretation(results, latency), ""]
    return "\n".join(lines)


def interpretation(results: list[Throughput], latency: LatencyResult | None) -> list[str]:
    by_key = {result.target.key: result for result in results}
    out: list[str] = []
    all_runs, bare, api = by_key.get("all"), by_key.get("bare"), by_key.get("api")
    if all_runs:
        rps, p99 = all_runs.median("rps"), all_runs.median("p99_ms")
        out.append(
            f"- Throughput target ≥ {TARGET_RPS:,} req/s (role all): {rps:,.0f} req/s, "
            f"{_mark(rps >= TARGET_RPS)}."
        )
        out.append(
            f"- p99 target < {TARGET_P99_MS:.0f} ms under that load: {p99:.1f} ms, "
            f"{_mark(p99 < TARGET_P99_MS)}."
        )
        if bare:
            share = rps / bare.median("rps")
            out.append(
                f"- Target ≥ {TARGET_FRACTION:.0%} of the bare FastAPI + SQLite endpoint "
                f"({bare.median('rps'):,.0f} req/s in the same runs): {share:.0%}, "
                f"{_mark(share >= TARGET_FRACTION)}. Per request the server spends "
                f"{all_runs.median('server_cpu_us'):.0f} µs of CPU against "
                f"{bare.median('server_cpu_us'):.0f} µs for the baseline; with role all that "
                "includes the worker and sender answering messages in the same process."
            )
        if api:
            ratio = (
                f" ({api.median('server_cpu_us') / bare.median('server_cpu_us'):.1f} times the "
                "baseline's)"
                if bare
                else ""
            )
            out.append(
                f"- The webhook alone (role api) does {api.median('rps'):,.0f} req/s at "
                f"{api.median('server_cpu_us'):.0f} µs of CPU per request{ratio}: the difference "
                "with role all is what answering the customers costs the same process."
            )
    saturated = [r.target.label for r in results if r.median("server_cores") >= 0.9]
    if saturated:
        who = "every server" if len(saturated) == len(results) else "; ".join(saturated)
        out.append(
            f"- Under load, {who} used a full core: CPU-bound (one Python process uses one core "
            "at most), so req/s is about 1 / (CPU per request) and only less CPU per request "
            "raises it."
        )
    if latency is not None:
        p50 = percentile(latency.answer_ms, 50)
        out.append(
            f"- Answer latency target p50 < {TARGET_ANSWER_P50_MS:.0f} ms: {p50:.1f} ms, "
            f"{_mark(p50 < TARGET_ANSWER_P50_MS)} (p99 {percentile(latency.answer_ms, 99):.1f} "
            "ms; offline engine, fake Graph API on the same machine: no LLM or network time)."
        )
        if latency.missing:
            out.append(f"- **{latency.missing} messages got no reply within 30 s.**")
    out.append(
        "- The machine is shared and wrk runs on the same cores: absolute figures drift between "
        "runs; compare Atende with the baseline measured in the same run."
    )
    return out


# --- Main -----------------------------------------------------------------------------------


def base_env(work: Path, fake_url: str, app_secret: str) -> dict[str, str]:
    # Any ATENDE_* setting of the caller's shell (an LLM URL, Redis) would change what is measured.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATENDE_")}
    env.update(
        {
            "ATENDE_ENV": "production",
            "ATENDE_LOG_LEVEL": "WARNING",
            "ATENDE_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'template.db'}",
            "ATENDE_VAR_DIR": str(work / "var"),
            "ATENDE_SECRET_KEY": Fernet.generate_key().decode(),
            "ATENDE_DEMO_WHATSAPP_GRAPH_URL": fake_url,
            "ATENDE_DEMO_WHATSAPP_APP_SECRET": app_secret,
            # In production `atende demo` refuses the public default secrets.
            "ATENDE_DEMO_WHATSAPP_VERIFY_TOKEN": secrets.token_hex(16),
            "ATENDE_DEMO_WHATSAPP_ACCESS_TOKEN": secrets.token_hex(16),
            "ATENDE_DEMO_WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        }
    )
    return env


def setup_database(env: dict[str, str]) -> None:
    for command in (["migrate"], ["demo"]):
        completed = subprocess.run(
            [str(BIN / "atende"), *command],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        if completed.returncode != 0:
            raise BenchError(f"atende {command[0]} failed:\n{completed.stdout}\n{completed.stderr}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--bodies", type=int, default=160_000, help="pre-built requests (unique message ids)"
    )
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--latency-messages", type=int, default=300)
    parser.add_argument("--latency-warmup", type=int, default=10)
    parser.add_argument("--latency-rate", type=float, default=20.0, help="messages per second")
    parser.add_argument(
        "--only",
        choices=["bare", "all", "api"],
        action="append",
        help="measure only these servers (repeatable); default: all three",
    )
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "docs" / "benchmarks.md",
        help="the page whose 'webhook' section to rewrite; '-' for stdout only",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print(
            "wrk is not installed (apt-get install wrk); `make bench` installs it", file=sys.stderr
        )
        return 2
    atende_bin = str(BIN / "atende")
    if not Path(atende_bin).exists():
        print(f"{atende_bin} not found: run with the project's .venv/bin/python", file=sys.stderr)
        return 2
    # SIGTERM (a CI timeout, kill) unwinds through the finally blocks that stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    work = Path(tempfile.mkdtemp(prefix="atende-bench-"))
    fake = FakeGraphThread()
    app_secret = secrets.token_hex(16)
    try:
        fake.start()
        env = base_env(work, fake.url, app_secret)
        print(f"work directory {work}; fake Graph API at {fake.url}", flush=True)
        setup_database(env)
        template = work / "template.db"
        requests_prefix = work / "requests"
        started = time.monotonic()
        body_size = write_requests(
            requests_prefix,
            total=args.bodies,
            threads=args.threads,
            customers=args.customers,
            app_secret=app_secret,
        )
        print(
            f"{args.bodies:,} signed requests ready ({body_size:,.0f} bytes of body on average) "
            f"in {time.monotonic() - started:.1f} s",
            flush=True,
        )
        targets = [
            Target(
                "bare",
                "bare FastAPI + SQLite INSERT",
                [sys.executable, str(ROOT / "benchmarks" / "bare_app.py")],
                None,
                atende=False,
            ),
            Target(
                "all",
                "Atende, role all (webhook + worker + sender)",
                [atende_bin, "serve", "--role", "all"],
                "/readyz",
                atende=True,
            ),
            Target(
                "api",
                "Atende, role api (webhook only)",
                [atende_bin, "serve", "--role", "api"],
                "/readyz",
                atende=True,
            ),
        ]
        results = [Throughput(t) for t in targets if not args.only or t.key in args.only]
        for run in range(1, args.runs + 1):
            for result in results:
                outcome = measure_throughput(
                    result.target,
                    run,
                    work=work,
                    env=env,
                    template=template,
                    requests_prefix=requests_prefix,
                    fake=fake,
                    app_secret=app_secret,
                    args=args,
                )
                result.runs.append(outcome)
                print(
                    f"run {run}/{args.runs} {result.target.label}: {outcome.rps:,.0f} req/s, "
                    f"p50 {outcome.p50_ms:.1f} ms, p99 {outcome.p99_ms:.1f} ms, "
                    f"{outcome.server_cpu_us:.0f} µs CPU/req, non-2xx {outcome.non_2xx}, "
                    f"socket errors {outcome.socket_errors}",
                    flush=True,
                )
        latency = None
        if not args.skip_latency:
            latency = measure_latency(
                work=work, env=env, template=template, fake=fake, app_secret=app_secret, args=args
            )
        report = render(
            date=date,
            info=machine(),
            args=args,
            body_size=body_size,
            results=results,
            latency=latency,
            refused_by_fake=fake.counts()[2],
        )
        print()
        print(report)
        if str(args.output) != "-":
            write_section("webhook", report, args.output)
            print(f"\nwritten to {args.output} (section webhook)")
        failed = [r.target.label for r in results if r.errors]
        if latency is not None and (latency.failed_posts or latency.missing):
            failed.append("latency phase (failed webhooks or missing replies)")
        if failed:
            print(f"\nERRORS in: {', '.join(failed)}", file=sys.stderr)
            return 1
        return 0
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        fake.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
