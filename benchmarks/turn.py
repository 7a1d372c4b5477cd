"""Latency of whole assistant turns against the demo ERP, through the real pipeline.

Runs in-process on a fresh SQLite database seeded like `atende demo`: for each round, a customer
asks for a boleto's second copy in three messages (request, CPF, choice), then a stock question;
each message is timed from submission (sandbox channel: record, queue, worker, engine, tools,
demo ERP, outbox, sender) until all its replies were delivered. Burst window 0.

    .venv/bin/python benchmarks/turn.py [--rounds 40]

Prints the report and rewrites the ``turn`` section of docs/benchmarks.md (``--output -``: print
only).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sections import BENCHMARKS_MD, cpu_model, write_section

from atende.config import Environment, Settings
from atende.demo import seed_demo
from atende.kit.migrate import upgrade
from atende.main import Container

STEPS = [
    ("pedido de 2ª via", "oi, preciso da segunda via do boleto"),
    ("CPF (identifica e lista)", "529.982.247-25"),
    ("escolha (2ª via, PDF, PIX)", "2"),
    ("estoque", "vcs tem camiseta?"),
]


async def measure(rounds: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/atende.db"
        await asyncio.to_thread(upgrade, url)
        settings = Settings(
            env=Environment.test,
            database_url=url,
            var_dir=Path(tmp) / "var",
            burst_window_seconds=0.0,
            log_level="WARNING",
        )
        container = Container(settings)
        try:
            await seed_demo(container.sessions, container.box, settings)
            await container.start_workers(recover_pending=False)
            channel = await container.sandbox.channel("demo-sandbox", "demo-sandbox-token")
            timings: dict[str, list[float]] = {label: [] for label, _ in STEPS}
            for n in range(rounds):
                # The customer's own phone (verified by phone); a new session every round.
                phone = "+55 11 98765-4321"
                after = (
                    await container.sandbox.replies(
                        channel, phone, message_id=None, after=0, wait=0
                    )
                ).last_id
                await _expire(container, n)
                for label, text in STEPS:
                    started = time.perf_counter()
                    message_id = await container.sandbox.submit(channel, phone, text)
                    answer = await container.sandbox.replies(
                        channel, phone, message_id=message_id, after=after, wait=30
                    )
                    timings[label].append((time.perf_counter() - started) * 1000)
                    after = answer.last_id
            return timings
        finally:
            await container.aclose()


async def _expire(container: Container, n: int) -> None:
    """Each round starts a new session (as after 30 minutes of silence)."""
    from datetime import timedelta

    from sqlalchemy import update

    from atende.conversations.models import Conversation
    from atende.kit.clock import utcnow
    from atende.tenancy.scope import ALL_TENANTS

    del n
    async with container.sessions() as session:
        await session.execute(
            update(Conversation)
            .values(last_activity_at=utcnow() - timedelta(hours=1))
            .execution_options(**{ALL_TENANTS: True})
        )
        await session.commit()


def report(timings: dict[str, list[float]], rounds: int) -> str:
    lines = [
        "# Whole turns against the demo ERP (`benchmarks/turn.py`)",
        "",
        f"- **Date**: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; **machine**: {cpu_model()}, "
        f"{os.cpu_count()} cores; Python {platform.python_version()}",
        f"- **Command**: `.venv/bin/python benchmarks/turn.py --rounds {rounds}`",
        "- **Method**: in-process, SQLite, burst window 0, one customer at a time; from the "
        "customer's message to its last reply delivered by the sender (sandbox channel).",
        "",
        "| message | p50 | p90 | max |",
        "|---|---:|---:|---:|",
    ]
    for label, values in timings.items():
        ordered = sorted(values)
        p50 = statistics.median(ordered)
        p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
        lines.append(f"| {label} | {p50:.1f} ms | {p90:.1f} ms | {ordered[-1]:.1f} ms |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--output", default=str(BENCHMARKS_MD), help="page to write, or -")
    args = parser.parse_args()
    text = report(asyncio.run(measure(args.rounds)), args.rounds)
    print(text)
    if args.output != "-":
        write_section("turn", text, Path(args.output))


if __name__ == "__main__":
    main()
