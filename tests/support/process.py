"""Running `atende` as a real process, the way an operator does."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from atende.main import shared_nlu

ATENDE = str(Path(sys.executable).parent / "atende")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env_for(database_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    cache = os.environ.get("ATENDE_NLU_CACHE_DIR")
    if cache:
        # The model is trained (or loaded) here, once per test process, and saved in the shared
        # cache, so that the processes started with this environment load it instead of each
        # training their own.
        shared_nlu(Path(cache)).warm_up()
    env = {
        key: value
        for key, value in os.environ.items()
        if (not key.startswith("ATENDE_") or key == "ATENDE_NLU_CACHE_DIR")
        and not key.startswith("COV_")
    }
    env.update(
        ATENDE_DATABASE_URL=database_url,
        ATENDE_VAR_DIR=str(var_dir),
        ATENDE_ENV="test",
        ATENDE_LOG_FORMAT="json",
        **extra,
    )
    return env


def run(args: list[str], env: dict[str, str], *, stdin: str | None = None) -> str:
    result = subprocess.run(  # noqa: S603 - our own command
        [ATENDE, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"atende {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


class Server:
    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env = env
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        handle = self._log.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own command
            [ATENDE, "serve", "--port", str(self.port)],
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        handle.close()

    async def ready(self, timeout: float = 120.0) -> None:
        # A deadline for a hung start, not a speed target: a cold start imports scikit-learn and
        # trains the NLU model (a few seconds of CPU), which takes far longer on a loaded
        # 2-core machine with every xdist worker starting processes at once.
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise AssertionError(f"server exited:\n{self._log.read_text()[-3000:]}")
                try:
                    response = await client.get(f"{self.url}/readyz", timeout=1.0)
                    if response.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                # Polling a port that is not open yet: there is nothing to wait on instead.
                await asyncio.sleep(0.05)
        raise AssertionError(f"server not ready:\n{self._log.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def logs(self) -> str:
        return self._log.read_text()


@contextmanager
def server(env: dict[str, str], log: Path) -> Iterator[Server]:
    process = Server(env, free_port(), log)
    process.start()
    try:
        yield process
    finally:
        process.stop()
