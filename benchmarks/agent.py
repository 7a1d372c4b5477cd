"""The LLM agent's own cost: loop overhead per turn, turns per second at 500 in flight, tokens.

Runs ``AgentEngine.reply(turn)`` (``container.engine``, the real engine with the openai SDK on
its aiohttp transport) in this process, on a fresh SQLite database seeded like `atende demo`, the
demo tenant pointing at a fake OpenAI-compatible server (``atende.devtools.fake_llm.FakeLLM``)
that runs in a separate process, so that neither its CPU nor its event loop is counted. The fake
is scripted like a model that calls the tools of each flow and then answers quoting their results
exactly (the grounding check passes; a turn that falls back fails the benchmark).

1. **Overhead**: whole turns, one at a time, against the fake answering at once; wall time per
   turn minus the time the fake spent handling the turn's requests, and this process's CPU time.
2. **Throughput**: 500 conversations in flight, each doing single-call turns (a greeting: the
   model answers text) back to back, the fake answering every request in 1.5 s.
3. **Tokens**: prompt and completion tokens per turn of each flow, as the fake estimates them.

    .venv/bin/python benchmarks/agent.py [--turns 60] [--duration 20] [--concurrency 500]

Prints the report and rewrites the ``agent`` section of docs/benchmarks.md (``--output -``: print
only). Exits non-zero if a turn falls back to the offline engine in the overhead measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from subprocess import PIPE
from typing import Any

import aiohttp
import openai
from aiohttp import web
from openai.types.chat import ChatCompletion
from sections import BENCHMARKS_MD, cpu_model, write_section

from atende.assistant.agent.grounding import check_grounding
from atende.assistant.agent.privacy import Redactor
from atende.assistant.agent.prompts import SPECIALIST_PROMPTS, system_prompt
from atende.assistant.agent.toolbox import schemas
from atende.assistant.port import AiRecord, Say, Turn, TurnMessage
from atende.brazil.money import format_brl
from atende.config import Environment, Settings
from atende.demo import seed_demo
from atende.devtools.fake_llm import ChatRequest, FakeLLM, Step, ToolCall
from atende.kit.migrate import upgrade
from atende.kit.runtime import settle_heap
from atende.main import Container

MODEL = "gpt-4o-mini"
#: Maria, the demo ERP's customer: writing from the phone on file verifies her (no challenge).
PHONE = "+5511987654321"
CPF = "529.982.247-25"
#: What the customer writes in each flow, and the tools the scripted model calls for it.
FLOWS: dict[str, tuple[str, tuple[str, ...]]] = {
    "boleto": (
        f"preciso da segunda via do boleto, meu cpf é {CPF}",
        ("identify_customer", "list_open_titulos", "boleto_second_copy"),
    ),
    "pedido": (
        f"qual a situação do meu pedido? meu cpf é {CPF}",
        ("identify_customer", "order_status"),
    ),
    "estoque": ("vocês têm camiseta em estoque?", ("stock_and_price",)),
    "atendente": ("quero falar com um atendente", ("handoff_to_human",)),
    "saudação": ("oi, bom dia!", ()),
}
#: The single-call turn of the throughput measurement.
GREETING_FLOW = "saudação"
GREETING = "Olá! Sou a Ana, assistente virtual da Loja Demo. Como posso ajudar você hoje?"
IDEAL_IN_FLIGHT_NOTE = "500 conversations / 1.5 s = 333 turns/s (shared/PERFORMANCE.md)"


# -- the scripted model (runs in the fake's process) ---------------------------------------------

_PLACEHOLDER = re.compile(r"\[(?:CPF|CNPJ)_\d+\]|\d{3}\.\d{3}\.\d{3}-\d{2}")
_STATUS = {
    "processing": "em separação",
    "shipped": "enviado",
    "delivered": "entregue",
    "cancelled": "cancelado",
}


def _flow_of(text: str) -> str:
    lowered = text.lower()
    for keyword, flow in (
        ("boleto", "boleto"),
        ("pedido", "pedido"),
        ("camiseta", "estoque"),
        ("atendente", "atendente"),
    ):
        if keyword in lowered:
            return flow
    return GREETING_FLOW


def _call(name: str, arguments: dict[str, Any]) -> Step:
    return Step(tool_calls=(ToolCall(name, arguments),))


def _day(iso: str) -> str:
    return date.fromisoformat(iso[:10]).strftime("%d/%m/%Y")


def _boleto_answer(copy: dict[str, Any]) -> str:
    return (
        f"Pronto! Segue a 2ª via do boleto {copy['titulo_id']}.\n"
        f"Valor: *{format_brl(copy['amount_cents'])}*, vencimento {_day(copy['due_date'])}.\n"
        f"Linha digitável: {copy['linha_digitavel']}\n"
        f"PDF: {copy['pdf_url']}\n"
        f"PIX copia e cola: {copy['pix_copia_e_cola']}"
    )


def _order_answer(order: dict[str, Any]) -> str:
    text = (
        f"Seu pedido {order['id']} está *{_STATUS[order['status']]}*. "
        f"Total: {format_brl(order['total_cents'])} ({', '.join(order['items'])})."
    )
    if order.get("tracking_code"):
        text += f" Rastreio ({order['carrier']}): {order['tracking_code']}."
    return text


def _stock_answer(result: dict[str, Any]) -> str:
    lines = [
        f"- {p['name']}: {format_brl(p['price_cents'])}, {p['stock']} unidades em estoque"
        for p in result["products"]
        if p["available"]
    ]
    return "Temos sim:\n" + "\n".join(lines)


def scripted_model(request: ChatRequest) -> Step:
    """Answer like a model following each flow: the next tool call given the results so far in
    this turn (the messages after the customer's), then a reply quoting them exactly."""
    messages = request.messages
    last_user = max(i for i, m in enumerate(messages) if m.get("role") == "user")
    tail = messages[last_user + 1 :]
    done = sum(1 for m in tail if m.get("role") == "assistant")
    results = [json.loads(m["content"]) for m in tail if m.get("role") == "tool"]
    text = str(messages[last_user].get("content") or "")
    flow = _flow_of(text)
    tools = FLOWS[flow][1]
    if done < len(tools):
        name = tools[done]
        if name == "identify_customer":
            found = _PLACEHOLDER.search(text)
            return _call(name, {"document": found.group(0) if found else ""})
        if name == "boleto_second_copy":
            return _call(name, {"titulo_id": results[-1]["titulos"][0]["id"]})
        if name == "stock_and_price":
            return _call(name, {"query": "camiseta"})
        if name == "handoff_to_human":
            return _call(name, {"reason": "o cliente pediu um atendente"})
        return _call(name, {})
    if flow == "boleto":
        return Step(text=_boleto_answer(results[-1]))
    if flow == "pedido":
        return Step(text=_order_answer(results[-1]))
    if flow == "estoque":
        return Step(text=_stock_answer(results[-1]))
    return Step(text=GREETING)


class BenchFake(FakeLLM):
    """The fake, counting the seconds it spends on chat requests; ``GET /bench/stats`` reports
    them with the request count and the most requests in flight (``?reset=1`` resets the peak)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.chat_seconds = 0.0
        self.chat_count = 0

    async def _on_chat(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            return await super()._on_chat(request)
        finally:
            self.chat_seconds += time.perf_counter() - started
            self.chat_count += 1
            # Nothing reads them; keep the fake's memory flat over thousands of requests.
            self.requests.clear()

    async def _on_other(self, request: web.Request) -> web.StreamResponse:
        if request.path != "/bench/stats":
            return await super()._on_other(request)
        stats = {
            "chat_seconds": self.chat_seconds,
            "chat_count": self.chat_count,
            "max_in_flight": self.max_in_flight,
            "responder_errors": [repr(e) for e in self.responder_errors],
        }
        if request.query.get("reset"):
            self.max_in_flight = self.in_flight
        return web.json_response(stats)


async def serve_fake(delay: float) -> None:
    """``--serve-fake``: run the scripted fake until SIGTERM; its base URL goes to stdout."""
    fake = BenchFake(port=0, delay=delay, responder=scripted_model)
    await fake.start()
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, done.set)
    print(fake.base_url, flush=True)
    try:
        await done.wait()
    finally:
        await fake.stop()


# -- the fake's process, seen from the benchmark -------------------------------------------------


@dataclass
class FakeProcess:
    base_url: str
    http: aiohttp.ClientSession

    async def stats(self, *, reset: bool = False) -> dict[str, Any]:
        url = self.base_url.removesuffix("/v1") + "/bench/stats" + ("?reset=1" if reset else "")
        async with self.http.get(url) as response:
            stats: dict[str, Any] = await response.json()
            return stats


@contextlib.asynccontextmanager
async def fake_llm(delay: float) -> AsyncIterator[FakeProcess]:
    """The scripted fake in its own process, stopped on the way out whatever happens."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve-fake", "--delay", str(delay), stdout=PIPE
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        if not line.startswith("http"):
            raise SystemExit(f"the fake LLM did not start (exit code {process.returncode})")
        async with aiohttp.ClientSession() as http:
            yield FakeProcess(line.strip(), http)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()


# -- the agent under test ------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def demo_database() -> AsyncIterator[tuple[Settings, str]]:
    """A fresh SQLite database and demo ERP, seeded like `atende demo`: (settings, tenant id)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/atende.db"
        await asyncio.to_thread(upgrade, url)
        settings = Settings(
            env=Environment.test,
            database_url=url,
            var_dir=Path(tmp) / "var",
            log_level="WARNING",
        )
        container = Container(settings)
        try:
            tenant_id = await seed_demo(container.sessions, container.box, settings)
        finally:
            await container.aclose()
        yield settings, tenant_id


@contextlib.asynccontextmanager
async def agent(settings: Settings, base_url: str) -> AsyncIterator[Container]:
    """A container whose engine is the LLM agent, the model at ``base_url``."""
    container = Container(
        settings.model_copy(update={"llm_base_url": base_url, "llm_model": MODEL})
    )
    try:
        await asyncio.to_thread(container.nlu.warm_up)
        # As `atende serve` does once started (atende.kit.runtime).
        settle_heap()
        yield container
    finally:
        await container.aclose()


def make_turn(tenant_id: str, text: str, key: str) -> Turn:
    """A customer's first message in a new session (nothing verified, no history)."""
    return Turn(
        tenant_id=tenant_id,
        conversation_id=f"bench-{key}",
        session_id=f"bench-{key}",
        channel_kind="whatsapp",
        text=text,
        messages=(TurnMessage("text", text, {}),),
        state={},
        contact_name="Maria Silva",
        new_session=True,
        now=datetime.now(UTC),
        contact_phone=PHONE,
    )


def ai_record(actions: Sequence[Any]) -> AiRecord:
    return next(a for a in actions if isinstance(a, AiRecord))


def check_turn(flow: str, actions: Sequence[Any]) -> str | None:
    """Why this turn is not the flow it should be (a fallback, other tools, no reply), or None."""
    record = ai_record(actions)
    if record.fallback_reason is not None:
        return f"fallback: {record.fallback_reason}"
    called = tuple(call.name for call in record.tool_calls if call.ok)
    if called != FLOWS[flow][1]:
        return f"tools {called}"
    if not any(isinstance(a, Say) for a in actions):
        return "no reply"
    return None


# -- 1 and 3: overhead and tokens per flow -------------------------------------------------------


@dataclass
class FlowRun:
    calls: int = 0
    overhead_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    fake_ms: list[float] = field(default_factory=list)
    tokens_in: list[int] = field(default_factory=list)
    tokens_out: list[int] = field(default_factory=list)
    cost_usd: list[float] = field(default_factory=list)
    problems: Counter[str] = field(default_factory=Counter)


async def measure_overhead(
    settings: Settings, tenant_id: str, turns: int, warmup: int
) -> tuple[dict[str, FlowRun], list[Part]]:
    """Whole turns, one at a time, each flow in turn, against the fake answering at once; then
    the pieces of a single-call turn (:func:`measure_breakdown`)."""
    runs = {flow: FlowRun() for flow in FLOWS}
    async with fake_llm(0.0) as fake, agent(settings, fake.base_url) as container:
        for n in range(warmup + turns):
            for flow, (text, _tools) in FLOWS.items():
                before = await fake.stats()
                turn = make_turn(tenant_id, text, f"{flow}-{n}")
                cpu = time.process_time()
                started = time.perf_counter()
                actions = await container.engine.reply(turn)
                wall = time.perf_counter() - started
                cpu = time.process_time() - cpu
                after = await fake.stats()
                run = runs[flow]
                problem = check_turn(flow, actions)
                if problem:
                    run.problems[problem] += 1
                if n < warmup:
                    continue
                fake_seconds = after["chat_seconds"] - before["chat_seconds"]
                run.calls = after["chat_count"] - before["chat_count"]
                run.overhead_ms.append((wall - fake_seconds) * 1000)
                run.fake_ms.append(fake_seconds * 1000)
                run.cpu_ms.append(cpu * 1000)
                record = ai_record(actions)
                run.tokens_in.append(record.tokens_in)
                run.tokens_out.append(record.tokens_out)
                run.cost_usd.append(record.cost_usd)
        errors = (await fake.stats())["responder_errors"]
        if errors:
            log(f"the scripted model raised: {errors[:3]}")
        parts = await measure_breakdown(container, tenant_id, fake)
    return runs, parts


# -- where a turn's CPU goes -----------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    label: str
    #: "turn" (once per turn) or "call" (once per model call).
    per: str
    #: "whole" (the turn itself), "piece" (part of it) or "control" (for comparison).
    kind: str
    fix: str
    cpu_ms: float = 0.0


def greeting_request(specialist: str = "general") -> dict[str, Any]:
    """The body the agent sends for the greeting turn (as ``_AgentTurn._system`` builds it)."""
    today = datetime.now(UTC).strftime("%d/%m/%Y")
    system = system_prompt(specialist, assistant="Ana", business="Loja Demo", today=today)
    return {
        "model": MODEL,
        "messages": [
            {
                "role": "system",
                "content": f"{system}\nCliente: Maria, ainda não identificado, canal whatsapp.",
            },
            {"role": "user", "content": FLOWS[GREETING_FLOW][0]},
        ],
        "tools": schemas(specialist),
        "temperature": 0.2,
        "max_tokens": 600,
    }


async def measure_breakdown(
    container: Container, tenant_id: str, fake: FakeProcess, rounds: int = 10, reps: int = 20
) -> list[Part]:
    """A single-call turn and its pieces, each timed alone (CPU of this process per call, one
    at a time), interleaved in ``rounds`` so that a noisy neighbour weighs on all alike."""
    body = greeting_request()
    text = FLOWS[GREETING_FLOW][0]
    config, _profile = await container.agent.config_for(tenant_id)
    client = container.agent.client(config)
    url = fake.base_url + "/chat/completions"
    raw = {"Content-Type": "application/json", "Authorization": "Bearer none"}

    async def whole_turn() -> None:
        await container.engine.reply(make_turn(tenant_id, text, "breakdown"))

    async def nlu() -> None:
        container.nlu.understand(text)

    async def redact_message() -> None:
        Redactor().redact(text)

    async def grounding() -> None:
        check_grounding("Olá! Como posso ajudar?", [], user_text=text)

    full = {**body, "temperature": config.temperature, "max_tokens": config.max_tokens}
    options = {"timeout": config.request_timeout_seconds}

    async def agent_call() -> None:
        raw = await client.post("/chat/completions", cast_to=bytes, body=full, options=options)
        ChatCompletion.model_validate_json(raw)

    async def sdk_parsed_call() -> None:
        await client.post("/chat/completions", cast_to=ChatCompletion, body=full, options=options)

    async def sdk_create() -> None:
        await client.chat.completions.create(
            model=MODEL,
            messages=body["messages"],
            tools=body["tools"],
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            timeout=config.request_timeout_seconds,
        )

    async def bare_call() -> None:
        async with fake.http.post(url, data=json.dumps(body).encode(), headers=raw) as answer:
            json.loads(await answer.read())

    measured: list[tuple[Part, Callable[[], Awaitable[None]]]] = [
        (Part("the whole single-call turn (`engine.reply`)", "turn", "whole", ""), whole_turn),
        (
            Part(
                "one model call as the agent makes it (`client.post` for bytes: the SDK's HTTP "
                "layer on aiohttp, then `ChatCompletion.model_validate_json`)",
                "call",
                "piece",
                "a thin aiohttp client would save most of what is left over the bare control "
                "below (measured: 333 turns/s at 0.85 ms a turn), at the price of the official "
                "SDK's error types, timeouts and headers",
            ),
            agent_call,
        ),
        (
            Part(
                "NLU routing (`Nlu.understand`, the single-message `FastScorer`)",
                "turn",
                "piece",
                "was 1.5 ms through scikit-learn's `predict_proba`",
            ),
            nlu,
        ),
        (
            Part("redacting the customer's message (`Redactor.redact`)", "turn", "piece", ""),
            redact_message,
        ),
        (
            Part("the grounding check of a short answer", "turn", "piece", ""),
            grounding,
        ),
        (
            Part(
                "the same call through `chat.completions.create` (not used)",
                "call",
                "control",
                "its parameter transform walks every message and tool schema on every call: "
                "why the agent posts the body itself",
            ),
            sdk_create,
        ),
        (
            Part(
                "the same call parsed by the SDK (`cast_to=ChatCompletion`, not used)",
                "call",
                "control",
                "its lenient model construction in Python; the agent uses it only for answers "
                "that do not fit OpenAI's schema",
            ),
            sdk_parsed_call,
        ),
        (
            Part(
                "the same request with a bare aiohttp session + `json`",
                "call",
                "control",
                "the floor for the transport",
            ),
            bare_call,
        ),
    ]
    spent = [0.0] * len(measured)
    for _ in range(2):  # warm-up
        for _part, action in measured:
            await action()
    for _ in range(rounds):
        for i, (_part, action) in enumerate(measured):
            started = time.process_time()
            for _ in range(reps):
                await action()
            spent[i] += time.process_time() - started
    return [
        replace(part, cpu_ms=seconds / (rounds * reps) * 1000)
        for (part, _action), seconds in zip(measured, spent, strict=True)
    ]


# -- 2: turns per second with many conversations in flight ---------------------------------------


@dataclass
class Throughput:
    label: str
    concurrency: int
    delay: float
    window: float
    turns: int
    cpu_seconds: float
    latencies: list[float]
    fallbacks: Counter[str]
    max_in_flight: int
    loop_lag_ms: list[float]

    @property
    def per_second(self) -> float:
        return self.turns / self.window

    @property
    def ideal(self) -> float:
        return self.concurrency / self.delay

    @property
    def cpu_ms_per_turn(self) -> float:
        return self.cpu_seconds / max(self.turns, 1) * 1000


async def _loop_lag(
    samples: list[float], stop: asyncio.Event, counting: Callable[[], bool], every: float = 0.05
) -> None:
    """How late the event loop wakes a sleeper: a loop saturated with work wakes it late."""
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(every)
        if counting():
            samples.append((time.perf_counter() - started - every) * 1000)


async def drive(
    label: str,
    turn: Callable[[str], Awaitable[str | None]],
    fake: FakeProcess,
    *,
    concurrency: int,
    delay: float,
    warmup: float,
    duration: float,
) -> Throughput:
    """``concurrency`` workers doing ``turn`` back to back (``turn`` returns a fallback reason or
    None), started evenly over one ``delay`` as conversations arrive. Counted in the window
    after ``warmup``: the turns that ended in it, their latency, this process's CPU."""
    stop = asyncio.Event()
    window: list[float] = []  # its start, then its end
    ended_at: list[float] = []
    latencies: list[float] = []
    fallbacks: Counter[str] = Counter()
    lag: list[float] = []

    async def worker(i: int) -> None:
        await asyncio.sleep(i * delay / concurrency)
        n = 0
        while not stop.is_set():
            started = time.perf_counter()
            reason = await turn(f"{i}-{n}")
            ended = time.perf_counter()
            n += 1
            if len(window) == 1:
                ended_at.append(ended)
                latencies.append(ended - started)
                if reason is not None:
                    fallbacks[reason] += 1

    tasks = [asyncio.create_task(worker(i)) for i in range(concurrency)]
    tasks.append(asyncio.create_task(_loop_lag(lag, stop, lambda: len(window) == 1)))
    try:
        await asyncio.sleep(warmup)
        await fake.stats(reset=True)
        window.append(time.perf_counter())
        cpu = time.process_time()
        await asyncio.sleep(duration)
        window.append(time.perf_counter())
        cpu = time.process_time() - cpu
        stats = await fake.stats()
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    return Throughput(
        label=label,
        concurrency=concurrency,
        delay=delay,
        window=window[1] - window[0],
        turns=len(ended_at),
        cpu_seconds=cpu,
        latencies=latencies,
        fallbacks=fallbacks,
        max_in_flight=int(stats["max_in_flight"]),
        loop_lag_ms=lag,
    )


async def measure_throughput(
    settings: Settings, tenant_id: str, args: argparse.Namespace
) -> list[Throughput]:
    """The agent's single-call turns at ``--concurrency`` in flight, the model answering in
    ``--delay`` seconds; first a bare aiohttp client sending the same request to the same fake
    (the control: what this process and the fake can do without the agent)."""
    text = FLOWS[GREETING_FLOW][0]
    body = json.dumps(greeting_request()).encode()
    shape = {"concurrency": args.concurrency, "delay": args.delay}
    async with fake_llm(args.delay) as fake:
        url = fake.base_url + "/chat/completions"
        headers = {"Content-Type": "application/json", "Authorization": "Bearer none"}
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:

            async def bare(_key: str) -> str | None:
                async with http.post(url, data=body, headers=headers) as answer:
                    json.loads(await answer.read())
                return None if answer.status == 200 else f"HTTP {answer.status}"

            control = await drive(
                "bare aiohttp client, same request (control)",
                bare,
                fake,
                **shape,
                warmup=3.0,
                duration=min(args.duration, 10.0),
            )
        log(f"control: {control.per_second:.0f} requests/s")
        async with agent(settings, fake.base_url) as container:

            async def greeting(key: str) -> str | None:
                actions = await container.engine.reply(make_turn(tenant_id, text, key))
                return ai_record(actions).fallback_reason

            measured = await drive(
                "LLM agent (`engine.reply`)",
                greeting,
                fake,
                **shape,
                warmup=args.load_warmup,
                duration=args.duration,
            )
    return [measured, control]


# -- the report ----------------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1), nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _specialist_sizes() -> list[tuple[str, int, int]]:
    today = datetime.now(UTC).strftime("%d/%m/%Y")
    return [
        (
            name,
            len(system_prompt(name, assistant="Ana", business="Loja Demo", today=today)),
            len(json.dumps(schemas(name), ensure_ascii=False)),
        )
        for name in SPECIALIST_PROMPTS
    ]


@dataclass
class Results:
    runs: dict[str, FlowRun]
    parts: list[Part]
    loads: list[Throughput]


def report(results: Results, args: argparse.Namespace) -> str:
    options = [
        f"--{name.replace('_', '-')} {getattr(args, name):g}"
        for name, default in DEFAULTS.items()
        if getattr(args, name) != default
    ]
    command = " ".join(["`.venv/bin/python benchmarks/agent.py", *options]) + "`"
    lines = [
        "# The LLM agent (`benchmarks/agent.py`)",
        "",
        f"- **Date**: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; **machine**: {cpu_model()}, "
        f"{os.cpu_count()} cores; Python {platform.python_version()}, openai "
        f"{openai.__version__} on `openai.DefaultAioHttpClient()` (aiohttp {aiohttp.__version__})",
        f"- **Command**: {command}",
        "- **Method**: `container.engine.reply(turn)` (the `AgentEngine` with its real NLU "
        "routing, PII placeholders, tools, demo ERP, grounding check and token budget; not the "
        "pipeline: no queue, outbox or sender) in one process, on SQLite seeded like "
        f"`atende demo`. The model (`{MODEL}`) is `FakeLLM` in a separate process, over HTTP on "
        "127.0.0.1, scripted like a model: it calls the flow's tools one per round, then answers "
        "quoting their results exactly. Each turn is Maria's first message in a new session "
        "(verified by her phone).",
    ]
    lines += _overhead_lines(results.runs, args)
    if results.loads:
        lines += _throughput_lines(results.loads)
    lines += _token_lines(results.runs)
    lines += _interpretation_lines(results)
    return "\n".join(lines) + "\n"


def _overhead_lines(runs: dict[str, FlowRun], args: argparse.Namespace) -> list[str]:
    lines = [
        "",
        "## 1. Agent loop overhead per turn (the model answering at once)",
        "",
        f"{args.turns} turns per flow after {args.warmup} of warm-up, one at a time, flows "
        "interleaved. *Overhead*: the turn's wall time minus the time the fake spent handling "
        "its requests (what remains includes loopback HTTP); *CPU*: this process's CPU time "
        "(`time.process_time`, all threads) during the turn. Target: ≤ 50 ms.",
        "",
        "| flow | model calls | tools called | overhead p50 | overhead p95 | CPU mean | "
        "CPU per model call | fake's time p50 | fallbacks |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for flow, run in runs.items():
        if not run.overhead_ms:
            continue
        cpu = statistics.fmean(run.cpu_ms)
        fallbacks = sum(n for why, n in run.problems.items() if why.startswith("fallback"))
        lines.append(
            f"| {flow} | {run.calls} | {', '.join(FLOWS[flow][1]) or 'none'} | "
            f"{pct(run.overhead_ms, 0.5):.1f} ms | {pct(run.overhead_ms, 0.95):.1f} ms | "
            f"{cpu:.1f} ms | {cpu / max(run.calls, 1):.1f} ms | "
            f"{pct(run.fake_ms, 0.5):.2f} ms | {fallbacks} |"
        )
    worst = max(pct(run.overhead_ms, 0.95) for run in runs.values() if run.overhead_ms)
    lines += ["", f"Worst p95: {worst:.1f} ms; target ≤ 50 ms **{_met(worst <= 50)}**."]
    problems = {flow: dict(run.problems) for flow, run in runs.items() if run.problems}
    if problems:
        lines.append(f"Turns that did not follow the scripted flow: {problems}.")
    return lines


def _met(ok: bool) -> str:
    return "met" if ok else "not met"


def _throughput_lines(loads: list[Throughput]) -> list[str]:
    agent_load = loads[0]
    target = 0.9 * agent_load.ideal
    lines = [
        "",
        f"## 2. Turns per second with {agent_load.concurrency} conversations in flight",
        "",
        f"{agent_load.concurrency} async workers in this one process (started over "
        f"{agent_load.delay:g} s), each doing single-call turns (“{FLOWS[GREETING_FLOW][0]}”: "
        "the model answers text, no tool) back to back; the fake answers every request after "
        f"{agent_load.delay:g} s. Counted after a warm-up: the turns that ended in the window, "
        "their latency, this process's CPU. Ideal: "
        + IDEAL_IN_FLIGHT_NOTE
        + f"; target ≥ {target:.0f} turns/s per process. The control sends the agent's "
        "request body from a bare aiohttp session to the same fake process.",
        "",
        "| client | window | turns/s | % of ideal | latency p50 | latency p99 | CPU per turn | "
        "process CPU | event-loop lag p99 | fake's max in flight | fallbacks |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for load in loads:
        fallbacks = sum(load.fallbacks.values())
        detail = f" {dict(load.fallbacks)}" if load.fallbacks else ""
        lines.append(
            f"| {load.label} | {load.window:.1f} s | {load.per_second:.0f} | "
            f"{load.per_second / load.ideal:.0%} | {pct(load.latencies, 0.5):.3f} s | "
            f"{pct(load.latencies, 0.99):.3f} s | {load.cpu_ms_per_turn:.2f} ms | "
            f"{load.cpu_seconds / load.window:.0%} of a core | "
            f"{pct(load.loop_lag_ms, 0.99):.0f} ms | {load.max_in_flight} | "
            f"{fallbacks}{detail} |"
        )
    ok = agent_load.per_second >= target and not agent_load.fallbacks
    lines += ["", f"Target ≥ {target:.0f} turns/s: **{_met(ok)}**."]
    return lines


def _token_lines(runs: dict[str, FlowRun]) -> list[str]:
    lines = [
        "",
        "## 3. Tokens per turn",
        "",
        "As the fake reports them: its usage is an *estimate*, characters / 4 of everything sent "
        "(message contents, tool-call arguments and the tools' JSON schemas) and of the answer; "
        "a real tokenizer counts differently (pt-BR and JSON take more tokens per character, "
        "and providers add per-message overhead). Cost at the `gpt-4o-mini` list price "
        "(`agent/config.py`).",
        "",
        "| flow | model calls | prompt tokens | completion tokens | cost per turn |",
        "|---|---:|---:|---:|---:|",
    ]
    for flow, run in runs.items():
        if not run.tokens_in:
            continue
        lines.append(
            f"| {flow} | {run.calls} | {statistics.median(run.tokens_in):.0f} | "
            f"{statistics.median(run.tokens_out):.0f} | "
            f"US$ {statistics.median(run.cost_usd):.6f} |"
        )
    lines += [
        "",
        "Every model call of a turn resends the system prompt, the tools' schemas and the turn "
        "so far. Their sizes per specialist, in characters (the agent adds a line about the "
        "customer and the session's summary to the system prompt):",
        "",
        "| specialist | system prompt | tools' JSON schemas |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {prompt} | {tools} |" for name, prompt, tools in _specialist_sizes()]
    return lines


def _interpretation_lines(results: Results) -> list[str]:
    whole = next(part for part in results.parts if part.kind == "whole")
    pieces = sorted(
        (part for part in results.parts if part.kind == "piece"), key=lambda p: -p.cpu_ms
    )
    lines = [
        "",
        "## Interpretation: where a turn's CPU goes",
        "",
        "A single-call turn (the greeting) and its pieces, each timed alone in the same process "
        "after section 1, interleaved: CPU per call, one at a time, largest first.",
        "",
        "| piece | per | CPU | share of the turn | what would make it cheaper |",
        "|---|---|---:|---:|---|",
        f"| {whole.label} | turn | {whole.cpu_ms:.2f} ms | 100% | |",
    ]
    for part in [*pieces, *(p for p in results.parts if p.kind == "control")]:
        share = f"{part.cpu_ms / whole.cpu_ms:.0%}" if part.kind == "piece" else ""
        lines.append(f"| {part.label} | {part.per} | {part.cpu_ms:.2f} ms | {share} | {part.fix} |")
    known = sum(part.cpu_ms for part in pieces)
    lines += [
        "",
        f"The pieces add up to {known:.1f} ms of the turn's {whole.cpu_ms:.1f} ms. Timed alone "
        "in a loop they run warmer than inside a turn (caches), so each share here is a lower "
        "bound; the rest is the engine's own work (the prompt and history, retry and timeout "
        "scaffolding, the actions and the audit record) and the event loop's I/O. A py-spy "
        "profile gives the shares in context (benchmarks/README.md).",
    ]
    if not results.loads:
        return lines
    load, control = results.loads[0], results.loads[-1]
    busy = load.cpu_seconds / load.window
    # The pipeline's turns in flight per process with a model configured and no override.
    pipeline = Settings(llm_base_url="http://127.0.0.1", llm_model=MODEL).turn_concurrency
    needed = 1000 / (0.9 * load.ideal)
    lines += [
        "",
        f"Under load the agent spent {load.cpu_ms_per_turn:.1f} ms of CPU per turn with the "
        f"process at {busy:.0%} of a core"
        + (
            ": it is CPU-bound, not network-bound. Python runs on one core per process (the "
            "GIL), so one process tops out near "
            f"1000 / {load.cpu_ms_per_turn:.1f} ≈ {1000 / load.cpu_ms_per_turn:.0f} turns/s; "
            "past that, turns queue for the loop: latency above the model's "
            f"{load.delay:g} s, and an event loop up to {pct(load.loop_lag_ms, 0.99):.0f} ms "
            "late (p99), which anything else served by the same process (webhooks with "
            "`--role all`) would wait as well."
            if busy >= 0.85
            else "."
        ),
        "",
        f"{0.9 * load.ideal:.0f} turns/s per process needs ≤ {needed:.1f} ms of CPU per turn. "
        f"The control (a bare aiohttp client, {control.cpu_ms_per_turn:.2f} ms per request) "
        f"reached {control.per_second / control.ideal:.0%} of the ideal against the same fake "
        "process: the fake and the machine are not the limit. In the pipeline, the number of "
        f"turns in flight is capped by `ATENDE_WORKER_CONCURRENCY`: {pipeline} by default with "
        f"a model configured, so at most {pipeline / load.delay:.0f} turns/s per process at "
        f"{load.delay:g} s per call whatever the CPU"
        + (
            f"; {load.concurrency} in flight needs it raised."
            if pipeline < load.concurrency
            else "."
        ),
        "",
        "Beyond one process: one worker process per core (the target is per process), with "
        "the webhook API in its own process so that a busy worker loop never delays a webhook.",
    ]
    return lines


# -- main ----------------------------------------------------------------------------------------

DEFAULTS: dict[str, Any] = {
    "turns": 60,
    "warmup": 5,
    "concurrency": 500,
    "delay": 1.5,
    "duration": 20.0,
    "load_warmup": 6.0,
}


async def run(args: argparse.Namespace) -> Results:
    async with demo_database() as (settings, tenant_id):
        runs, parts = await measure_overhead(settings, tenant_id, args.turns, args.warmup)
        log(f"overhead measured ({sum(len(r.overhead_ms) for r in runs.values())} turns)")
        loads = [] if args.skip_load else await measure_throughput(settings, tenant_id, args)
        if loads:
            log(f"agent: {loads[0].per_second:.0f} turns/s")
        return Results(runs, parts, loads)


def log(message: str) -> None:
    print(f"[agent bench] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--turns", type=int, default=DEFAULTS["turns"], help="per flow")
    parser.add_argument("--warmup", type=int, default=DEFAULTS["warmup"], help="turns per flow")
    parser.add_argument("--concurrency", type=int, default=DEFAULTS["concurrency"])
    parser.add_argument(
        "--delay", type=float, default=DEFAULTS["delay"], help="the model's answer time (s)"
    )
    parser.add_argument("--duration", type=float, default=DEFAULTS["duration"], help="seconds")
    parser.add_argument(
        "--load-warmup", type=float, default=DEFAULTS["load_warmup"], help="seconds not counted"
    )
    parser.add_argument("--skip-load", action="store_true", help="no throughput measurement")
    parser.add_argument("--output", default=str(BENCHMARKS_MD), help="page to write, or -")
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_fake:
        asyncio.run(serve_fake(args.delay))
        return
    # Only what is set here counts: ATENDE_* variables of the shell must not change the figures.
    for name in [n for n in os.environ if n.startswith("ATENDE_")]:
        del os.environ[name]
    results = asyncio.run(run(args))
    text = report(results, args)
    print(text)
    if args.output != "-":
        write_section("agent", text, Path(args.output))
    failed = {flow: dict(r.problems) for flow, r in results.runs.items() if r.problems}
    if failed:
        raise SystemExit(f"turns did not follow the scripted flows: {failed}")


if __name__ == "__main__":
    main()
