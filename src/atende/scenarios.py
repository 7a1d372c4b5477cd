"""Conversation tests as a feature: `atende test PATH` plays YAML scripts against a tenant's
assistant, through the same pipeline customers use (sandbox channel: record, queue, worker,
outbox, sender), and reports pass or fail per script.

A script::

    name: segunda via pelo próprio telefone
    channel: demo-sandbox        # a sandbox channel of the tenant (default: demo-sandbox)
    phone: "+55 11 98765-4321"   # speak as this customer
    steps:
      - customer: "oi, preciso da 2a via do boleto"
        expect:
          say: ["CPF ou CNPJ"]   # every text appears in this step's replies
      - customer: "529.982.247-25"
        expect:
          offer: ["R$ 184,85"]   # buttons, list rows or numbered options contain it
          call: [identify_customer, open_titulos]   # tools the assistant called
          not_say: ["erro"]
          handoff: false         # whether the conversation went to the human queue

Texts are compared without case or accents. Each script starts a fresh session. ``call`` names
business tools as the offline engine records them (``BusinessTools`` methods); the LLM agent's
tools, named for the model, count as the business tool they run. With ``engine="llm"`` a step the
offline engine answered (the agent fell back) fails: the agent is what is being tested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select, update
from unidecode import unidecode

from atende.assistant.agent.engine import HANDED_OVER
from atende.audit.models import AiTurn
from atende.channels.sandbox.service import normalise_phone
from atende.contacts.models import ContactIdentity, IdentityKind
from atende.conversations.models import Conversation, ConversationEvent
from atende.kit.clock import utcnow
from atende.main import Container
from atende.tenancy.scope import bind_tenant

#: The agent's tool names (``assistant/agent/toolbox.py``) that differ from the business tool
#: they run, which is what a script's ``call`` names.
AGENT_TOOLS = {
    "list_open_titulos": "open_titulos",
    "boleto_second_copy": "second_copy",
    "stock_and_price": "stock",
}


@dataclass
class ScriptResult:
    name: str
    path: str
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def _plain(text: str) -> str:
    return unidecode(text).lower()


def _options(reply: dict[str, Any]) -> list[str]:
    content = reply.get("content") or {}
    found = [str(b.get("title", "")) for b in content.get("buttons", [])]
    for section in content.get("sections", []):
        found += [f"{r.get('title', '')} {r.get('description') or ''}" for r in section["rows"]]
    found += [line for line in str(reply.get("text") or "").splitlines() if line[:1].isdigit()]
    return found


class ScriptRunner:
    def __init__(
        self, container: Container, *, timeout: float = 15.0, engine: str | None = None
    ) -> None:
        self._container = container
        self._timeout = timeout
        #: When set, a step answered by another engine fails (``"llm"``: no fallback allowed).
        self._engine = engine

    async def run_script(self, source: str, text: str) -> ScriptResult:
        """Play one script (``text`` is its YAML; ``source`` names it in the report)."""
        result = ScriptResult(Path(source).stem, source)
        try:
            spec = yaml.safe_load(text) or {}
            if not isinstance(spec, dict):
                raise ValueError("a script is a mapping with name, phone and steps")
            result.name = str(spec.get("name") or result.name)
            await self._run(spec, result)
        except Exception as error:  # a broken script is a failed script, with the reason
            result.failures.append(f"error: {type(error).__name__}: {error}")
        return result

    async def _run(self, spec: dict[str, Any], result: ScriptResult) -> None:
        sandbox = self._container.sandbox
        channel = await sandbox.channel(
            str(spec.get("channel") or "demo-sandbox"), str(spec.get("token") or _token())
        )
        phone = str(spec.get("phone") or "+55 11 90000-0000")
        await self._fresh_session(channel.tenant_id, phone)
        # Replies from an earlier run of a script with this phone are not this run's answers.
        earlier = await sandbox.replies(channel, phone, message_id=None, after=0, wait=0)
        after = earlier.last_id
        for number, step in enumerate(spec.get("steps") or [], 1):
            events_before = await self._event_id(channel.tenant_id)
            records_before = await self._record_id(channel.tenant_id)
            message_id = await sandbox.submit(
                channel, phone, str(step["customer"]), name=spec.get("name_as")
            )
            answer = await sandbox.replies(
                channel, phone, message_id=message_id, after=after, wait=self._timeout
            )
            after = answer.last_id
            replies = answer.replies
            said = _plain("\n".join(str(r.get("text") or "") for r in replies))
            expect = step.get("expect") or {}
            label = f"step {number} ({step['customer']!r})"
            for text in expect.get("say", []):
                if _plain(str(text)) not in said:
                    result.failures.append(f"{label}: expected to say {text!r}; said {said!r}")
            for text in expect.get("not_say", []):
                if _plain(str(text)) in said:
                    result.failures.append(f"{label}: must not say {text!r}")
            options = _plain(" | ".join(o for r in replies for o in _options(r)))
            for text in expect.get("offer", []):
                if _plain(str(text)) not in options:
                    result.failures.append(
                        f"{label}: expected to offer {text!r}; offered {options!r}"
                    )
            events = await self._events_since(channel.tenant_id, events_before)
            called = [tool for e in events for tool in e.data.get("tools", [])]
            called += [AGENT_TOOLS[tool] for tool in called if tool in AGENT_TOOLS]
            for tool in expect.get("call", []):
                if tool not in called:
                    result.failures.append(f"{label}: expected a call to {tool}; called {called}")
            if "handoff" in expect:
                went = any(
                    e.type == "owner_changed" and e.data.get("to") == "queued" for e in events
                )
                if bool(expect["handoff"]) != went:
                    result.failures.append(f"{label}: handoff expected {expect['handoff']}")
            if self._engine is not None:
                result.failures += await self._other_engines(
                    label, channel.tenant_id, records_before
                )

    async def _other_engines(self, label: str, tenant_id: str, records_before: int) -> list[str]:
        """Turns of the step that another engine answered, except where the agent hands over by
        design (``agent.engine.HANDED_OVER``: an opt-out, a cancellation)."""
        async with self._container.sessions() as session:
            bind_tenant(session, tenant_id)
            rows = await session.execute(
                select(AiTurn.engine, AiTurn.fallback_reason).where(AiTurn.id > records_before)
            )
            other = [
                f"{engine} (fallback: {reason})"
                for engine, reason in rows
                if engine != self._engine and reason not in HANDED_OVER
            ]
        return [f"{label}: answered by {', '.join(other)}, not {self._engine}"] if other else []

    async def _record_id(self, tenant_id: str) -> int:
        async with self._container.sessions() as session:
            bind_tenant(session, tenant_id)
            last = await session.scalar(select(AiTurn.id).order_by(AiTurn.id.desc()).limit(1))
        return int(last or 0)

    async def _fresh_session(self, tenant_id: str, phone: str) -> None:
        """Start the script on a new session: the customer's last activity moves to the past."""
        async with self._container.sessions() as session:
            bind_tenant(session, tenant_id)
            contact_ids = select(ContactIdentity.contact_id).where(
                ContactIdentity.kind == IdentityKind.sandbox,
                ContactIdentity.value == normalise_phone(phone),
            )
            await session.execute(
                update(Conversation)
                .where(Conversation.contact_id.in_(contact_ids))
                .values(
                    owner="bot",
                    last_activity_at=utcnow() - timedelta(days=1),
                )
                .execution_options(synchronize_session=False)
            )
            await session.commit()

    async def _event_id(self, tenant_id: str) -> int:
        async with self._container.sessions() as session:
            bind_tenant(session, tenant_id)
            last = await session.scalar(
                select(ConversationEvent.id).order_by(ConversationEvent.id.desc()).limit(1)
            )
        return int(last or 0)

    async def _events_since(self, tenant_id: str, after: int) -> list[ConversationEvent]:
        async with self._container.sessions() as session:
            bind_tenant(session, tenant_id)
            rows = await session.scalars(
                select(ConversationEvent).where(ConversationEvent.id > after)
            )
            return list(rows)


def _token() -> str:
    from atende.demo import sandbox_token

    return sandbox_token()


def script_paths(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
    return [path]
