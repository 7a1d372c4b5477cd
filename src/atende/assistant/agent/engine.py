"""The LLM agent: free-form understanding with the business tools, always with a fallback.

One turn:

1. the offline NLU routes the message to a specialist (finance, orders, sales, general; see
   ``prompts.py``) unless the customer opts out (handled by the offline engine: a legal record,
   not a model's judgement);
2. the specialist's prompt, the running summary, the contact's profile and the session's recent
   turns go to any OpenAI-compatible chat-completions API (the official ``openai`` SDK on its
   aiohttp transport), with CPF, CNPJ, phones and e-mails replaced by placeholders;
3. tool calls (parallel ones too) run through :class:`BusinessTools`, which enforce who may see
   what; arguments are restored from placeholders, validated with the tools' Pydantic models, and
   results are redacted before they go back to the model; at most ``max_tool_rounds`` rounds;
   with long-term recall on, the closest turns of the contact's earlier sessions join the prompt
   (``assistant/recall.py``);
4. the answer is restored and checked against this turn's tool results (money, dates, stock,
   linhas digitáveis, tracking codes: ``grounding.py``).

Anything that goes wrong (timeout, 429 beyond the budget, 5xx, malformed or unknown tool calls, a
tool loop, an empty or overlong answer, an ungrounded fact, an invented placeholder, the ERP down,
the tenant's token budget spent) ends in the offline engine's answer, within the turn's budget,
never in silence or a raw error. Every turn leaves an :class:`AiRecord`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
)

from atende.assistant.agent.budget import TokenBudget
from atende.assistant.agent.config import LlmConfig
from atende.assistant.agent.grounding import check_grounding
from atende.assistant.agent.privacy import Redactor
from atende.assistant.agent.prompts import PROMPT_VERSION, route, system_prompt
from atende.assistant.agent.toolbox import (
    SPECIALISTS,
    TOOLS,
    AgentTool,
    FaqArgs,
    HandoffArgs,
    schemas,
)
from atende.assistant.dialogue.engine import is_cancellation
from atende.assistant.dialogue.replies import Replies, boleto_document
from atende.assistant.faq import FaqIndex
from atende.assistant.memory import ChatMessage, SessionMemory
from atende.assistant.nlu import Nlu
from atende.assistant.port import (
    Action,
    AiRecord,
    Audit,
    Engine,
    Handoff,
    Memorize,
    Remember,
    Say,
    ToolCallRecord,
    Turn,
)
from atende.assistant.recall import Recalled, RecallStore, memory_text, neutral
from atende.assistant.tools.core import BusinessTools, PdfLinks, ToolContext, ToolError
from atende.assistant.tools.models import SecondCopyView
from atende.assistant.tools.verification import ChallengePolicy, verified_document
from atende.channels.types import (
    ButtonsContent,
    ListContent,
    MediaContent,
    OutboundContent,
    TextContent,
)
from atende.connectors.port import ConnectorResolver
from atende.kit.errors import AtendeError
from atende.kit.logging import get_logger
from atende.kit.masking import mask_text, mask_value
from atende.kit.secrets import SecretBox
from atende.tenancy.profiles import TenantProfile, TenantProfiles

log = get_logger(__name__)

#: Messages of the session kept for the model (user and assistant, redacted).
HISTORY = 12
#: Facts of the running summary kept in the session.
SUMMARY_FACTS = 8
#: Longer answers are not WhatsApp answers: a model rambling is a failure, not a reply.
MAX_ANSWER_CHARS = 1500
#: Characters of a turn sent to the model (a burst of long fragments is read from its end).
MAX_INPUT_CHARS = 4000
#: Invalid or unknown tool calls tolerated in one turn (the model gets the error and may retry).
MAX_BAD_CALLS = 2
#: The embeddings call of long-term recall: recall is a nicety, the turn does not wait long for it.
RECALL_TIMEOUT_SECONDS = 2.0
#: Turns the agent hands to the offline engine by design, not as a failure: an opt-out (a record
#: the law cares about) and a cancellation (the flows' slots cleared, requests kept for later
#: dropped, and no tool cancels an order: the offline engine's honest answer and offer of a
#: person, so that both engines agree). Their ``fallback_reason``.
HANDED_OVER = frozenset({"opt_out", "cancellation"})


class Fallback(Exception):
    """End the LLM's attempt; the offline engine answers. ``reason`` goes to the audit trail."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _retryable(error: BaseException) -> bool:
    if isinstance(error, openai.RateLimitError):
        return True
    return isinstance(error, openai.APIStatusError) and error.status_code >= 500


class AgentEngine:
    name = "llm"

    def __init__(
        self,
        *,
        fallback: Engine,
        nlu: Nlu,
        registry: ConnectorResolver,
        profiles: TenantProfiles,
        faq: FaqIndex,
        box: SecretBox,
        defaults: LlmConfig,
        budget: TokenBudget,
        client_factory: Callable[[LlmConfig], AsyncOpenAI] | None = None,
        recall: RecallStore | None = None,
        pdf_links: PdfLinks | None = None,
    ) -> None:
        self.fallback = fallback
        self._nlu = nlu
        self._registry = registry
        self._profiles = profiles
        self._faq = faq
        self._box = box
        self.defaults = defaults
        self.budget = budget
        self._client_factory = client_factory or _default_client
        self.recall = recall
        self.pdf_links = pdf_links
        self._clients: dict[tuple[str, str], AsyncOpenAI] = {}

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()

    def client(self, config: LlmConfig) -> AsyncOpenAI:
        # One client (one connection pool) per provider and key, for the life of the process.
        key = (str(config.base_url), str(config.api_key))
        found = self._clients.get(key)
        if found is None:
            found = self._clients[key] = self._client_factory(config)
        return found

    async def config_for(self, tenant_id: str) -> tuple[LlmConfig, TenantProfile]:
        profile = await self._profiles.get(tenant_id)
        return self.defaults.for_tenant(profile.settings, self._box), profile

    async def reply(self, turn: Turn) -> Sequence[Action]:
        config, profile = await self.config_for(turn.tenant_id)
        if not config.enabled:
            return await self.fallback.reply(turn)
        if turn.resume is not None or not turn.text.strip():
            # A request kept during an outage (the offline engine kept it, it resumes it), or
            # nothing to read (an untranscribed voice note): the model sees the answer next turn.
            return _with_history(turn, config, await self.fallback.reply(turn))
        started = time.perf_counter()
        if (notice := await self.budget.spent(turn.tenant_id, config)) is not None:
            return [notice, *await self._fall_back(turn, _Attempt(config), "token_budget", started)]
        # Inline: about 0.1 ms a message (FastScorer); a thread hop would cost more than that,
        # and under load each hop waits for the GIL the busy loop holds.
        understanding = self._nlu.understand(turn.text[-2000:])
        if understanding.intent == "opt_out":
            return await self._fall_back(turn, _Attempt(config), "opt_out", started)
        if is_cancellation(turn.text, understanding.intent):
            # "quero cancelar meu pedido" reads as a new order to the classifier, and a model's
            # "cancelei" would leave the order summary waiting in the tools' state.
            return await self._fall_back(turn, _Attempt(config), "cancellation", started)
        intent = understanding.intent
        if intent not in ORDER_NUMBER_INTENTS and any(
            entity.type == "order_id" for entity in understanding.entities
        ):
            # "#5002", "pedido n° 5101": the classifier may read an order (or a "no") in so few
            # words, but an order's number asks about that order (as the offline engine reads it).
            intent = "order_status"
        specialist = route(
            intent,
            turn.state.agent.specialist,
            understanding.confidence,
            choosing=_answers_options(turn.state, turn.text),
            several=turn.text.count("?") >= 2,
        )
        attempt = _Attempt(config, specialist=specialist, intent=intent)
        try:
            async with asyncio.timeout(config.turn_budget_seconds):
                actions = await _AgentTurn(self, turn, profile, attempt).run()
        except Fallback as reason:
            return await self._fall_back(turn, attempt, reason.reason, started)
        except TimeoutError:
            return await self._fall_back(turn, attempt, "timeout", started)
        await self.budget.add(turn.tenant_id, attempt.spent)
        return [*actions, attempt.record(self.name, started, None)]

    async def _fall_back(
        self, turn: Turn, attempt: _Attempt, reason: str, started: float
    ) -> list[Action]:
        if reason in HANDED_OVER:
            log.info("offline engine answers by design", reason=reason)
        else:
            log.warning("llm answer not used; offline engine answers", reason=reason)
        if attempt.spent:
            await self.budget.add(turn.tenant_id, attempt.spent)
        actions: list[Action] = [
            a for a in await self.fallback.reply(turn) if not isinstance(a, AiRecord)
        ]
        actions = _with_history(turn, attempt.config, actions)
        return [*actions, attempt.record(self.fallback.name, started, reason)]


def _with_history(turn: Turn, config: LlmConfig, actions: Sequence[Action]) -> list[Action]:
    """The offline engine's answer, with the turn added to the history the model reads next
    turn: without it the model would answer as if the cancel, the boleto list or the handoff
    notice had never been said."""
    said = [history_text(a.content) for a in actions if isinstance(a, Say)]
    said = [text for text in said if text]
    found = [a for a in actions if isinstance(a, Remember)]
    if not said or not found:
        return list(actions)
    state = found[-1].state.clone()
    pii = state.agent.pii if config.redact_pii else None
    redactor = Redactor.from_state(pii) if pii is not None else Redactor()

    def hide(text: str) -> str:
        return redactor.redact(text) if config.redact_pii else text

    added = [ChatMessage(role="assistant", content=hide("\n\n".join(said)))]
    if turn.text.strip():
        added.insert(0, ChatMessage(role="user", content=hide(turn.text[-MAX_INPUT_CHARS:])))
    state.agent.history = [*state.agent.history, *added][-HISTORY:]
    if config.redact_pii:
        state.agent.pii = redactor.state()
    remember = Remember(state)
    return [remember if a is found[-1] else a for a in actions]


def history_text(content: OutboundContent) -> str:
    """A message as the model reads it in the history: the text, and the options offered
    numbered with their ids (a list's rows), as the agent itself offers options."""
    if isinstance(content, TextContent):
        return content.body
    if isinstance(content, ButtonsContent):
        buttons = " | ".join(button.title for button in content.buttons)
        return f"{content.body}\n[botões: {buttons}]"
    if isinstance(content, ListContent):
        rows = [row for section in content.sections for row in section.rows]
        lines = [
            f"{number}. {row.title}"
            + (f" — {row.description}" if row.description else "")
            + f" ({row.id})"
            for number, row in enumerate(rows, 1)
        ]
        return "\n".join([content.body, *lines])
    if isinstance(content, MediaContent):
        kind = {"document": "documento", "image": "imagem"}.get(content.media_type, "arquivo")
        return f"[{kind} enviado: {content.filename or content.caption or ''}]"
    return ""


def _default_client(config: LlmConfig) -> AsyncOpenAI:
    return AsyncOpenAI(
        base_url=config.base_url,
        # Local servers (Ollama, vLLM) take any key; the SDK insists on one.
        api_key=config.api_key or "none",
        # aiohttp, not httpx: one httpx client collapses with hundreds of requests in flight
        # (shared/PERFORMANCE.md); the SDK ships this transport.
        http_client=openai.DefaultAioHttpClient(),
        # Retries are ours: they must respect the turn's budget and Retry-After.
        max_retries=0,
    )


@dataclass
class _Attempt:
    """What one turn spent and did, for the audit record (also when it falls back)."""

    config: LlmConfig
    specialist: str | None = None
    intent: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    #: Tokens of the recall embeddings (priced as the embedding model, counted in the budget).
    embedding_tokens: int = 0
    calls: list[ToolCallRecord] = field(default_factory=list)

    @property
    def spent(self) -> int:
        return self.tokens_in + self.tokens_out + self.embedding_tokens

    def record(self, engine: str, started: float, reason: str | None) -> AiRecord:
        return AiRecord(
            engine=engine,
            model=self.config.model,
            prompt_version=PROMPT_VERSION,
            specialist=self.specialist,
            tool_calls=tuple(self.calls),
            tokens_in=self.tokens_in + self.embedding_tokens,
            tokens_out=self.tokens_out,
            cost_usd=self.config.cost(self.tokens_in, self.tokens_out, self.embedding_tokens),
            latency_ms=(time.perf_counter() - started) * 1000,
            fallback_reason=reason,
        )


class _AgentTurn:
    def __init__(
        self, engine: AgentEngine, turn: Turn, profile: TenantProfile, attempt: _Attempt
    ) -> None:
        self.engine = engine
        self.turn = turn
        self.attempt = attempt
        self.config = attempt.config
        self.specialist = str(attempt.specialist)
        self.replies = Replies(profile.name, profile.settings)
        self.profile = profile
        self.state = turn.state.clone()
        self.state.turn += 1
        pii = self.state.agent.pii if self.config.redact_pii else None
        self.redactor = Redactor.from_state(pii) if pii is not None else Redactor()
        self.results: list[Any] = []
        #: The boleto PDFs the tools returned this turn, sent after the answer.
        self.documents: list[MediaContent] = []
        self.handoff: str | None = None
        self.bad_calls = 0
        self.seen_calls: set[str] = set()
        self.deadline = time.monotonic() + self.config.turn_budget_seconds
        challenge = ChallengePolicy.from_setting(profile.settings.get("verification_challenge"))
        self._challenge = challenge
        self._tools: BusinessTools | None = None
        #: The customer's message embedded for recall, kept as this turn's memory.
        self.embedding: tuple[float, ...] | None = None
        self.recall_status: str | int | None = None

    # -- privacy -----------------------------------------------------------------------------

    def hide(self, text: str) -> str:
        return self.redactor.redact(text) if self.config.redact_pii else text

    def hide_json(self, value: Any) -> Any:
        return self.redactor.redact_json(value) if self.config.redact_pii else value

    def show(self, text: str) -> str:
        return self.redactor.restore(text) if self.config.redact_pii else text

    # -- the loop ----------------------------------------------------------------------------

    async def run(self) -> list[Action]:
        user = self.hide(self.turn.text[-MAX_INPUT_CHARS:])
        recalled = await self._recall(user)
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": self._system(recalled)},
            *[message.model_dump() for message in self.state.agent.history[-HISTORY:]],
            {"role": "user", "content": user},
        ]
        tools = schemas(self.specialist)
        answer: str | None = None
        for round_number in range(self.config.max_tool_rounds + 1):
            message = await self._complete(messages, tools)
            calls = list(message.tool_calls or [])
            if not calls:
                answer = self._checked(message.content or "")
                break
            if round_number == self.config.max_tool_rounds:
                raise Fallback("too_many_tool_rounds")
            messages.append(message.model_dump(exclude_none=True))
            # Parallel calls run concurrently; their records keep the model's order, so the audit
            # trail reads the same whatever finished first.
            slots: list[list[ToolCallRecord]] = [[] for _ in calls]
            outputs = await asyncio.gather(
                *(self._call(call, slot) for call, slot in zip(calls, slots, strict=True))
            )
            self.attempt.calls += [record for slot in slots for record in slot]
            messages += [
                {"role": "tool", "tool_call_id": call.id, "content": output}
                for call, output in zip(calls, outputs, strict=True)
            ]
            if self.handoff is not None:
                # What the model said with the handoff ("Não consegui confirmar seus dados.")
                # goes before the handoff notice, checked like any answer.
                if (message.content or "").strip():
                    answer = self._checked(message.content)
                break
        return self._actions(user, answer)

    def _system(self, recalled: Sequence[Recalled] = ()) -> str:
        today = self.turn.now.astimezone().strftime("%d/%m/%Y")
        base = system_prompt(
            self.specialist,
            assistant=str(self.profile.settings.get("assistant_name") or "Ana"),
            business=self.profile.name or "nossa empresa",
            today=today,
        )
        name = (self.turn.contact_name or "").split(" ")[0]
        verified = verified_document(self.state)
        profile = [
            f"Cliente: {name or 'nome desconhecido'}",
            "identificado nesta sessão" if verified else "ainda não identificado",
            f"canal {self.turn.channel_kind}",
        ]
        # The summary's facts were redacted when written; the rest is the business's own text
        # and the contact's first name, so the prompt is not scanned again every turn.
        facts = list(self.state.agent.summary)
        summary = ("\nResumo da conversa até aqui: " + "; ".join(facts)) if facts else ""
        memories = "".join(
            f"\n- {m.created_at.astimezone().strftime('%d/%m/%Y')}: "
            # Redacted again: a memory written while a tenant had redaction off holds raw data.
            + self.hide(m.text).replace("\n", " / ")
            for m in recalled
        )
        if memories:
            memories = (
                "\nDe atendimentos anteriores com este cliente (podem estar desatualizados: "
                "valores e situações só valem vindos das ferramentas):" + memories
            )
        return f"{base}\n{', '.join(profile)}.{summary}{memories}"

    async def _recall(self, user: str) -> list[Recalled]:
        """The contact's closest earlier turns; none (and the turn goes on) if the embeddings
        endpoint fails or is slow: recall improves an answer, it never blocks one."""
        store = self.engine.recall
        if not self.config.recall or store is None:
            return []
        timeout = min(RECALL_TIMEOUT_SECONDS, self.deadline - time.monotonic() - 1.0)
        if timeout <= 0:
            return []
        client = self.engine.client(self.config.embeddings())
        try:
            response = await client.embeddings.create(
                model=self.config.embedding_model, input=neutral(user), timeout=timeout
            )
            vector = response.data[0].embedding
        except (openai.APIError, IndexError) as error:
            log.warning("recall unavailable", error=type(error).__name__)
            self.recall_status = "unavailable"
            return []
        if response.usage is not None:
            self.attempt.embedding_tokens += response.usage.prompt_tokens
        self.embedding = tuple(float(v) for v in vector)
        if self.turn.contact_id is None:
            # The contact's first message ever: nothing to recall, but it is remembered.
            self.recall_status = 0
            return []
        found = await store.search(
            self.turn.tenant_id,
            self.turn.contact_id,
            model=self.config.embedding_model,
            vector=np.asarray(vector, dtype="<f4"),
            exclude_session=self.turn.session_id,
            before=self.turn.now,
            limit=self.config.recall_limit,
            min_score=self.config.recall_min_score,
        )
        self.recall_status = len(found)
        return found

    async def _complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        client = self.engine.client(self.config)
        body = {
            "model": str(self.config.model),
            "messages": messages,
            "tools": tools,
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        }

        def pause(error: BaseException | None) -> float:
            # Honour Retry-After (else a short pause) only if it fits in the turn's budget.
            after = _retry_after(error) if error is not None else None
            seconds = after if after is not None else 0.5
            if seconds >= self.deadline - time.monotonic() - 1.0:
                raise Fallback("rate_limited" if after is not None else "provider_error")
            return seconds

        try:
            try:
                # The first attempt outside tenacity: almost every call succeeds at once, and
                # the retry machinery cost 0.16 ms of CPU a turn under load (docs/benchmarks.md).
                completion = await self._post(client, body)
            except openai.APIStatusError as error:
                if not _retryable(error):
                    raise
                await asyncio.sleep(pause(error))
                async for attempt in AsyncRetrying(
                    retry=retry_if_exception(_retryable),
                    wait=lambda state: pause(state.outcome.exception() if state.outcome else None),
                    stop=stop_after_attempt(2),
                    reraise=True,
                ):
                    with attempt:
                        completion = await self._post(client, body)
        except openai.RateLimitError:
            raise Fallback("rate_limited") from None
        except openai.APITimeoutError:
            raise Fallback("timeout") from None
        except openai.APIStatusError as error:
            raise Fallback(f"provider_{error.status_code}") from None
        except openai.APIError as error:
            raise Fallback(f"provider_{type(error).__name__}") from None
        usage = completion.usage
        if usage is not None:
            self.attempt.tokens_in += usage.prompt_tokens
            self.attempt.tokens_out += usage.completion_tokens
        if not completion.choices:
            raise Fallback("empty_answer")
        return completion.choices[0].message

    async def _post(self, client: AsyncOpenAI, body: dict[str, Any]) -> ChatCompletion:
        timeout = min(self.config.request_timeout_seconds, self.deadline - time.monotonic())
        if timeout <= 0:
            raise Fallback("timeout")
        # The SDK's HTTP layer (errors, timeouts, headers), retries off, without two of its costs
        # (docs/benchmarks.md, agent): `chat.completions.create`'s parameter transform, which walks
        # every message and tool schema on every call (the body is plain JSON we built, already
        # in the wire format), and its lenient Python model construction of the answer: the bytes
        # are validated by pydantic-core instead, and only an answer that does not fit the schema
        # (a provider's own finish_reason…) takes the SDK's lenient path.
        started = time.monotonic()
        try:
            raw = await client.post(
                "/chat/completions", cast_to=bytes, body=body, options={"timeout": timeout}
            )
        except openai.APITimeoutError:
            if time.monotonic() - started < timeout / 2:
                # The SDK's aiohttp transport reports a refused connection as a timeout, at once:
                # the audit trail should say what an operator must fix.
                raise Fallback("provider_unreachable") from None
            raise
        try:
            return ChatCompletion.model_validate_json(raw)
        except ValidationError:
            try:
                data = json.loads(raw)
            except ValueError:
                raise Fallback("malformed_response") from None
            if not isinstance(data, dict):
                raise Fallback("malformed_response") from None
            return ChatCompletion.construct(**data)

    def _checked(self, content: str) -> str:
        text = content.strip()
        if not text:
            raise Fallback("empty_answer")
        if len(text) > MAX_ANSWER_CHARS:
            raise Fallback("overlong_answer")
        shown = self.show(text)
        if self.config.redact_pii and self.redactor.unresolved:
            raise Fallback("unknown_placeholder")
        report = check_grounding(shown, self.results, user_text=self.turn.text)
        if not report.ok:
            log.warning(
                "ungrounded answer",
                facts=[f"{f.kind}:{mask_text(f.text)}" for f in report.ungrounded],
            )
            raise Fallback("ungrounded")
        return shown

    # -- tools -------------------------------------------------------------------------------

    async def _business_tools(self) -> BusinessTools:
        if self._tools is None:
            erp = await self.engine._registry.erp(self.turn.tenant_id)
            self._tools = BusinessTools(
                ToolContext(
                    tenant_id=self.turn.tenant_id,
                    conversation_id=self.turn.conversation_id,
                    erp=erp,
                    contact_phone=self.turn.contact_phone,
                    state=self.state,
                    challenge=self._challenge,
                    turn_number=self.state.turn,
                    pdf_links=self.engine.pdf_links,
                )
            )
        return self._tools

    async def _call(self, call: Any, records: list[ToolCallRecord]) -> str:
        """Run one tool call; the model gets a JSON result or a JSON error it can act on."""
        name = str(call.function.name)
        raw = str(call.function.arguments or "{}")
        signature = f"{name}:{raw}"
        if signature in self.seen_calls:
            raise Fallback("tool_loop")
        self.seen_calls.add(signature)
        tool = TOOLS.get(name) if name in SPECIALISTS[self.specialist] else None
        if tool is None:
            return self._bad_call(name, records, "unknown_tool")
        try:
            parsed = json.loads(raw) if raw.strip() else {}
            if not isinstance(parsed, dict):
                raise ValueError("arguments must be an object")
            arguments = self.redactor.restore_json(parsed) if self.config.redact_pii else parsed
            if self.config.redact_pii and self.redactor.unresolved:
                raise Fallback("unknown_placeholder")
            args = tool.args.model_validate(arguments)
        except (ValueError, ValidationError):
            return self._bad_call(name, records, "invalid_arguments")
        masked = mask_value(args.model_dump(mode="json"))
        try:
            result = await self._run(tool, args)
        except ToolError as error:
            if error.code == "unavailable":
                # The offline engine tells the customer and keeps the request for later.
                raise Fallback("erp_unavailable") from None
            records.append(ToolCallRecord(name, masked, False, error.code))
            return json.dumps({"error": error.code, "message": self.hide(error.message)})
        except AtendeError:
            # No ERP configured, or one configured wrong (the admins were told): the offline
            # engine says so to the customer and offers a person.
            raise Fallback("erp_misconfigured") from None
        self.results.append(result)
        records.append(ToolCallRecord(name, masked, True, _summary(result)))
        if name == "boleto_second_copy":
            document = boleto_document(SecondCopyView.model_validate(result))
            if document is not None and document not in self.documents:
                self.documents.append(document)
        self._remember_fact(name, result)
        return json.dumps(self.hide_json(result), ensure_ascii=False)

    def _bad_call(self, name: str, records: list[ToolCallRecord], code: str) -> str:
        self.bad_calls += 1
        records.append(ToolCallRecord(name[:60], {}, False, code))
        if self.bad_calls > MAX_BAD_CALLS:
            raise Fallback("malformed_tool_calls")
        return json.dumps({"error": code})

    async def _run(self, tool: AgentTool, args: BaseModel) -> dict[str, Any]:
        if isinstance(args, HandoffArgs):
            self.handoff = args.reason or "requested by the assistant"
            return {"status": "transferring"}
        if isinstance(args, FaqArgs):
            hit = await self.engine._faq.answer(self.turn.tenant_id, args.question)
            return {"found": hit is not None, "answer": hit.body if hit else None}
        assert tool.run is not None
        output = await tool.run(await self._business_tools(), args)
        dumped: dict[str, Any] = output.model_dump(mode="json")
        return dumped

    def _remember_fact(self, name: str, result: dict[str, Any]) -> None:
        fact = {
            "identify_customer": f"identificação: {result.get('status')}",
            "boleto_second_copy": f"2ª via enviada do título {result.get('titulo_id')}",
            "prepare_order": f"resumo de pedido {result.get('summary_id')} mostrado",
            "confirm_order": f"pedido {result.get('order_id')} registrado",
            "order_status": f"consultou o pedido {result.get('id')}",
            "delivery_tracking": f"consultou o rastreio do pedido {result.get('id')}",
        }.get(name)
        if fact:
            facts = [*self.state.agent.summary, self.hide(fact)]
            self.state.agent.summary = facts[-SUMMARY_FACTS:]

    # -- the answer --------------------------------------------------------------------------

    def _actions(self, user: str, answer: str | None) -> list[Action]:
        actions: list[Action] = []
        if self.handoff is not None:
            notice = self.replies.handoff(self.turn.now)
            text = f"{answer} {notice}" if answer else notice
            says = [Say(TextContent(text))]
        else:
            assert answer is not None
            text = answer
            says = [Say(TextContent(part)) for part in _messages(answer)]
        # The PDF as a WhatsApp document, as the offline engine sends it: a link in the text
        # is neither opened by every customer nor sealed if the model rewrote it.
        says += [Say(document) for document in self.documents]
        actions += says
        if self.handoff is not None:
            actions.append(Handoff(f"llm: {self.handoff[:150]}"))
        shown = "\n\n".join([text, *(history_text(d) for d in self.documents)])
        history = [
            *self.state.agent.history,
            ChatMessage(role="user", content=user),
            ChatMessage(role="assistant", content=self.hide(shown)),
        ]
        self.state.agent.history = history[-HISTORY:]
        self.state.agent.specialist = self.specialist
        if self.config.redact_pii:
            self.state.agent.pii = self.redactor.state()
        actions.append(Remember(self.state))
        if self.embedding is not None:
            actions.append(
                Memorize(
                    memory_text(user, self.hide(text)),
                    self.embedding,
                    self.config.embedding_model,
                )
            )
        audit: dict[str, Any] = {
            "intent": self.attempt.intent,
            "specialist": self.specialist,
            "tools": [call.name for call in self.attempt.calls],
        }
        if self.recall_status is not None:
            audit["recall"] = self.recall_status
        actions.append(Audit(audit))
        return actions


#: Intents an order number may come with; with any other, the number is the request itself.
ORDER_NUMBER_INTENTS = frozenset(
    {"order_status", "delivery_tracking", "invoice_copy", "open_invoices", "human_handoff"}
)
#: A numbered option in an answer ("1. R$ 184,85, venceu em…").
_OPTION = re.compile(r"^\s*\d{1,2}[.)]\s", re.MULTILINE)
#: Words of a message that may be a pick among options ("2", "o de 189,35", "a segunda").
CHOICE_WORDS = 4
#: WhatsApp messages one answer may become (further paragraphs stay in the last one).
MAX_MESSAGES = 6


def _answers_options(state: SessionMemory, text: str) -> bool:
    """Whether ``text`` is short and the previous answer offered numbered options."""
    history = state.agent.history
    last = history[-1] if history else None
    if last is None or last.role != "assistant":
        return False
    offered = len(_OPTION.findall(last.content)) >= 2
    return offered and len(text.split()) <= CHOICE_WORDS


def _messages(answer: str) -> list[str]:
    """One WhatsApp message per paragraph, as the offline engine writes (one idea per message):
    a linha digitável or a PIX code in its own paragraph is then copied with a long press."""
    parts = [part.strip() for part in re.split(r"\n\s*\n", answer) if part.strip()]
    if len(parts) > MAX_MESSAGES:
        parts[MAX_MESSAGES - 1 :] = ["\n\n".join(parts[MAX_MESSAGES - 1 :])]
    return parts or [answer]


def _retry_after(error: BaseException) -> float | None:
    if not isinstance(error, openai.APIStatusError):
        return None
    value = error.response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _summary(result: dict[str, Any]) -> str:
    """A masked, short description of a tool result for the audit trail."""
    keys = ",".join(sorted(result))[:80]
    sizes = {k: len(v) for k, v in result.items() if isinstance(v, list)}
    return mask_text(f"keys={keys} lists={sizes}" if sizes else f"keys={keys}")
