"""`atende chat`: talk to the assistant as a customer, through the real pipeline.

Two transports with one interface: in-process (the pipeline runs inside this command, against the
configured database) and HTTP (a running server's sandbox endpoints, ``--url``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

import httpx
import orjson

from atende.channels.types import ChannelRuntime
from atende.main import Container


@dataclass(frozen=True, slots=True)
class Answer:
    answered: bool
    replies: list[dict[str, Any]]
    last_id: int


class Transport(Protocol):
    async def say(self, phone: str, text: str, name: str | None) -> str: ...

    async def wait(
        self, phone: str, message_id: str | None, after: int, timeout: float
    ) -> Answer: ...

    async def close(self) -> None: ...


class LocalTransport:
    def __init__(self, container: Container, channel: ChannelRuntime) -> None:
        self._container = container
        self._channel = channel

    @classmethod
    async def open(cls, container: Container, slug: str, token: str) -> LocalTransport:
        channel = await container.sandbox.channel(slug, token)
        # Only this command's own conversation: never pick up another process's pending work.
        await container.start_workers(recover_pending=False)
        return cls(container, channel)

    async def say(self, phone: str, text: str, name: str | None) -> str:
        return await self._container.sandbox.submit(self._channel, phone, text, name=name)

    async def wait(self, phone: str, message_id: str | None, after: int, timeout: float) -> Answer:
        result = await self._container.sandbox.replies(
            self._channel, phone, message_id=message_id, after=after, wait=timeout
        )
        return Answer(result.answered, result.replies, result.last_id)

    async def close(self) -> None:
        await self._container.aclose()


class HttpTransport:
    def __init__(self, url: str, slug: str, token: str) -> None:
        self._client = httpx.AsyncClient(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(10.0, read=75.0),
        )
        self._slug = slug

    async def say(self, phone: str, text: str, name: str | None) -> str:
        response = await self._client.post(
            f"/sandbox/{self._slug}/messages", json={"from": phone, "text": text, "name": name}
        )
        _raise_for_problem(response)
        return str(response.json()["message_id"])

    async def wait(self, phone: str, message_id: str | None, after: int, timeout: float) -> Answer:
        params: dict[str, str | int | float] = {"from": phone, "after": after, "wait": timeout}
        if message_id is not None:
            params["message_id"] = message_id
        response = await self._client.get(f"/sandbox/{self._slug}/replies", params=params)
        _raise_for_problem(response)
        body = response.json()
        return Answer(bool(body["answered"]), list(body["replies"]), int(body["last_id"]))

    async def close(self) -> None:
        await self._client.aclose()


class ChatError(RuntimeError):
    pass


def _raise_for_problem(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    raise ChatError(f"server answered {response.status_code}: {detail}")


def render(reply: dict[str, Any]) -> str:
    """A reply as a person reads it in a terminal (buttons and list rows numbered)."""
    content = reply.get("content") or {}
    lines = [str(reply.get("text") or "")]
    kind = content.get("kind")
    if kind == "buttons":
        lines += [f"  [{i}] {b['title']}" for i, b in enumerate(content["buttons"], 1)]
    elif kind == "list":
        rows = [row for section in content["sections"] for row in section["rows"]]
        lines += [f"  [{i}] {row['title']}" for i, row in enumerate(rows, 1)]
    elif kind == "media":
        lines.append(
            f"  📎 {content.get('filename') or content.get('link') or content['media_type']}"
        )
    return "\n".join(line for line in lines if line)


async def run_chat(
    transport: Transport,
    *,
    phone: str,
    name: str | None,
    timeout: float,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
) -> int:
    interactive = stdin.isatty()
    # Only this session's replies: start after whatever this customer was already sent.
    after = (await transport.wait(phone, None, 0, 0.0)).last_id
    if interactive:
        stdout.write("Atende sandbox: escreva como se fosse o cliente (Ctrl-D para sair).\n")
    while True:
        if interactive:
            stdout.write("você> ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        message_id = await transport.say(phone, text, name)
        answer = await transport.wait(phone, message_id, after, timeout)
        after = answer.last_id
        for reply in answer.replies:
            if interactive:
                stdout.write(f"assistente> {render(reply)}\n")
            else:
                stdout.write(orjson.dumps(reply).decode() + "\n")
        stdout.flush()
    return 0
