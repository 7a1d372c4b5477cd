"""The fake run on its own: ``atende fake-llm`` (the demo behaviour) or
``python -m atende.devtools.fake_llm``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Sequence

from atende.devtools.fake_llm.demo import demo_responder
from atende.devtools.fake_llm.server import FakeLLM, Recorded


def _print_request(recorded: Recorded) -> None:
    line = {"kind": recorded.kind, "path": recorded.path, "status": recorded.status}
    print(json.dumps(line), flush=True)


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeLLM(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        delay=args.delay,
        responder=demo_responder if args.behaviour == "demo" else None,
        on_request=_print_request if args.log else None,
    )
    try:
        await fake.start()
    except OSError as exc:
        raise SystemExit(f"fake-llm: cannot listen on {args.host}:{args.port}: {exc}") from exc
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows has no loop signal handlers
            loop.add_signal_handler(signum, done.set)
    print(f"fake LLM API on {fake.base_url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        await done.wait()
    finally:
        await fake.stop()


def main(argv: Sequence[str] | None = None) -> None:
    """Run the fake standalone (quiet by default: benchmarks push thousands of requests)."""
    parser = argparse.ArgumentParser(
        prog="fake-llm", description="A local fake of an OpenAI-compatible API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before every answer")
    parser.add_argument(
        "--behaviour",
        choices=("fixed", "demo"),
        default="fixed",
        help="fixed: always the same reply; demo: keyword-driven tool calls (not a model)",
    )
    parser.add_argument("--api-key", default=None, help="require this Bearer key")
    parser.add_argument("--log", action="store_true", help="print one JSON line per request")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
