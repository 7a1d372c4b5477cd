"""The offline pt-BR engine: understands with the NLU, fills slots across turns, calls the
business tools (which enforce who may see what), and answers with pt-BR templates.

Session memory (``turn.state``) is :class:`atende.assistant.memory.SessionMemory`: this engine
keeps its slots in ``dialogue`` (goal, the question ``awaiting`` an answer, the boletos offered,
misunderstandings, requests kept from a burst) and ``order`` (see ``orders``); the tools keep the
verification proof in ``identity`` and the order summary in ``order.summary``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import Sequence
from typing import Any

import phonenumbers
from unidecode import unidecode

from atende.assistant.dialogue.burst import split_requests
from atende.assistant.dialogue.choice import Choice, ChoiceStatus, Option, choose
from atende.assistant.dialogue.orders import (
    ORDER_AWAITING,
    RequestedLine,
    amended_quantities,
    product_option,
    read_quantity,
    requested_lines,
)
from atende.assistant.dialogue.replies import (
    PHONE_NOT_DOCUMENT,
    Replies,
    boleto_document,
    challenge_wrong,
    mistyped_document,
    option_line,
    order_text,
    orders_text,
    second_copy_intro,
    titulo_line,
    titulo_option,
    titulos_heading,
    wrong_length,
)
from atende.assistant.faq import FaqIndex
from atende.assistant.memory import (
    AskedLine,
    Dialogue,
    ListOption,
    OpenLine,
    OrderItem,
    OrderSlots,
    ProductOption,
    load_memory,
)
from atende.assistant.nlu import Nlu, Understanding
from atende.assistant.nlu.entities import extract
from atende.assistant.port import (
    Action,
    AiRecord,
    Audit,
    Defer,
    DropDeferred,
    Handoff,
    OptOut,
    Remember,
    Say,
    ToolCallRecord,
    Turn,
    TurnMessage,
)
from atende.assistant.tools.core import BusinessTools, PdfLinks, ToolContext, ToolError
from atende.assistant.tools.models import (
    AnswerChallenge,
    ConfirmOrder,
    IdentifyCustomer,
    OrderLine,
    OrderQuery,
    PrepareOrder,
    ProductView,
    RecentOrders,
    RequestSecondCopy,
    StockQuery,
)
from atende.assistant.tools.verification import ChallengePolicy
from atende.assistant.voice import VOICE_FALLBACK_REPLY
from atende.brazil.documents import DocumentKind, check_document
from atende.brazil.money import format_brl
from atende.brazil.plural import count_of
from atende.channels.types import (
    Button,
    ButtonsContent,
    ListContent,
    ListRow,
    ListSection,
    OutboundContent,
    TextContent,
)
from atende.connectors.port import ConnectorResolver
from atende.kit.errors import AtendeError
from atende.tenancy.profiles import TenantProfiles

#: Intents that need to know (and verify) who the customer is.
NEEDS_CUSTOMER = frozenset(
    {
        "invoice_copy",
        "open_invoices",
        "order_status",
        "order_history",
        "delivery_tracking",
        "place_order",
    }
)
_DOCUMENT_WORDS = re.compile(r"\b(cpf|cnpj|documento|doc)\b")
#: A run of digits with the punctuation documents and phones are written with.
_DIGIT_RUN = re.compile(r"(?<![\w+])\+?\(?\d[\d.\-/() ]{6,24}\d(?!\w)")
_CANCEL = re.compile(r"^\s*(cancelar|cancela|cancel|esquece|deixa pra la)\W*$")
# "quero cancelar", "cancela isso": cancelling something, which is not opting out of messages.
_CANCEL_VERB = re.compile(r"\b(cancel(ar|a|e|em|o)?|cancelamento)\b")
# Opting out is sticky, so it needs the customer to name what they want to stop (messages, the
# list, being contacted): the classifier reads "quero cancelar" as opt_out. Checked against
# every opt_out example of the training and both held-out sets; bare "manda"/"envia" are left
# out ("me manda uma caixa" is an order), only their negation ("não me mande mais") counts.
_OPT_OUT_CUE = re.compile(
    r"\b(mensage\w*|msgs?|sms|notifica\w*|promo\w*|ofertas?|propagandas?|spam|newsletter|"
    r"listas?|inscri\w*|descadastr\w*|desinscrev\w*|receb\w*|recebr|comunica\w*|contat\w*|"
    r"whats\w*|zap|numero|telefone|celular|nao (me )?(mand|envi)\w*|stop|opt-?out|bloque\w*|"
    r"incomod\w*|dados|lgpd|parar|pare|parem|para (de|com)|sair|sai|"
    r"me (tira|tire|remov\w*|exclu\w*))\b"
)
_OPT_OUT_CONFIRM = (
    "Você quer parar de receber nossas mensagens? Se for isso, escreva *sair da lista*."
)
_ORDER_WORD = re.compile(r"\b(pedidos?|compras?|encomendas?|ped-?\d+)\b")
_CANCEL_WHAT = (
    "O que você quer cancelar? Se for um pedido, posso te passar para um atendente. Se quiser "
    "parar de receber nossas mensagens, escreva *sair da lista*."
)
_CANCEL_ORDER = (
    "Cancelar um pedido eu não consigo por aqui, mas um atendente pode. Quer falar com um? "
    "Responda *atendente* que eu transfiro."
)
_GREETS = re.compile(r"^\W*(oi+e?|ola|bom dia|boa tarde|boa noite|e ai|eae|opa|hey)\b")


def is_cancellation(text: str, intent: str) -> bool:
    """Whether this engine answers ``text`` as a cancellation (see ``_dispatch``): the flow's
    slots cleared ("cancelar", "esquece"), or, since no tool cancels an order, a person offered
    ("quero cancelar meu pedido"). The LLM agent hands these turns to this engine, so that both
    engines agree and nothing of a flow outlives its cancelling."""
    folded = unidecode(text).lower().strip()
    if _CANCEL.match(folded):
        return True
    cancelling = bool(_CANCEL_VERB.search(folded)) and not _OPT_OUT_CUE.search(folded)
    return cancelling and intent != OUT_OF_SCOPE_INTENT


_BACK = re.compile(r"^\s*(voltar|volta|menu|inicio)\W*$")


class DialogueEngine:
    name = "offline"

    def __init__(
        self,
        *,
        nlu: Nlu,
        registry: ConnectorResolver,
        profiles: TenantProfiles,
        faq: FaqIndex,
        pdf_links: PdfLinks | None = None,
    ) -> None:
        self._nlu = nlu
        self._registry = registry
        self._profiles = profiles
        self._faq = faq
        self.pdf_links = pdf_links

    async def reply(self, turn: Turn) -> Sequence[Action]:
        profile = await self._profiles.get(turn.tenant_id)
        conversation = _Conversation(
            self, turn, Replies(profile.name, profile.settings), profile.settings
        )
        await conversation.run()
        return conversation.actions


class _Conversation:
    """One turn's worth of dialogue; collects actions and the new session memory."""

    def __init__(
        self, engine: DialogueEngine, turn: Turn, replies: Replies, settings: dict[str, Any]
    ) -> None:
        self.engine = engine
        self.turn = turn
        self.replies = replies
        self.settings = settings
        self.state = turn.state.model_copy(deep=True)
        self.state.turn += 1
        self.actions: list[Action] = []
        self.tools_called: list[str] = []
        self._tools: BusinessTools | None = None
        #: The intent of the turn's first request, once understood.
        self.first_intent: str | None = None
        #: The step that calls the business's system, kept to be resumed if the system is down.
        self.step: dict[str, Any] = {}

    # -- plumbing --------------------------------------------------------------------------

    def say(self, content: OutboundContent | str) -> None:
        self.actions.append(Say(TextContent(content) if isinstance(content, str) else content))

    async def tools(self) -> BusinessTools:
        if self._tools is None:
            erp = await self.engine._registry.erp(self.turn.tenant_id)
            challenge = ChallengePolicy.from_setting(self.settings.get("verification_challenge"))
            self._tools = BusinessTools(
                ToolContext(
                    tenant_id=self.turn.tenant_id,
                    conversation_id=self.turn.conversation_id,
                    erp=erp,
                    contact_phone=self.turn.contact_phone,
                    state=self.state,
                    challenge=challenge,
                    turn_number=self.state.turn,
                    pdf_links=self.engine.pdf_links,
                )
            )
        return self._tools

    def handoff(self, reason: str, text: str | None = None) -> None:
        self.say(text or self.replies.handoff(self.turn.now))
        self.actions.append(Handoff(reason))
        self.state.dialogue.awaiting = None
        self.state.dialogue.goal = None

    async def run(self) -> None:
        started = time.perf_counter()
        intent = "resume"
        try:
            if self.turn.resume is not None:
                await self._resume(self.turn.resume)
            elif not self.turn.text.strip() and any(
                m.type in VOICE_TYPES for m in self.turn.messages
            ):
                # A voice note nobody could transcribe (no provider, or it failed).
                intent = "voice_note"
                self.say(VOICE_FALLBACK_REPLY)
            else:
                intent = await self._answer_turn()
                if intent != "greeting" and _GREETS.match(unidecode(self.turn.text).lower()):
                    self._greet_first()
        except ToolError as error:
            if error.code == "unavailable" and self.step:
                self._defer()
            else:
                self.say(error.message)
                if error.code == "unavailable":
                    self.state.dialogue.awaiting = None
        except AtendeError:
            # No connector for this tenant, or the like: be honest and offer a person.
            self.say(
                "Ainda não consigo consultar isso por aqui. Quer falar com um atendente? "
                "Responda *atendente*."
            )
        if intent == "resume" and self.first_intent is not None:
            intent = self.first_intent
        self.actions.append(Audit({"intent": intent, "tools": self.tools_called}))
        self.actions.append(
            AiRecord(
                engine=self.engine.name,
                tool_calls=tuple(ToolCallRecord(name, {}, True, "") for name in self.tools_called),
                latency_ms=(time.perf_counter() - started) * 1000,
            )
        )
        self.actions.append(Remember(self.state))

    # -- the requests of a turn ---------------------------------------------------------------

    async def _answer_turn(self) -> str:
        """Answer each request the turn carries, in the order asked (``dialogue/burst.py``),
        then the requests kept from an earlier turn if nothing is left open. The intent of
        the turn's first request is returned."""
        whole = self.turn
        # CPU-bound (a few ms a fragment): in a thread, so the event loop keeps acknowledging
        # webhooks.
        requests = await asyncio.to_thread(
            split_requests,
            whole.messages,
            self.engine._nlu.understand,
            answering=bool(self.state.dialogue.awaiting),
        )
        try:
            if len(requests) > 1:
                intent = await self._answer_requests(
                    [(request.text, tuple(request.messages)) for request in requests]
                )
            else:
                intent = await self._answer_one(whole.text, whole.messages)
            kept = list(self.state.dialogue.kept_requests)
            if kept and not self.state.dialogue.awaiting and not self._stopped():
                self.state.dialogue.kept_requests = []
                await self._answer_requests([(text, _as_messages(text)) for text in kept])
        finally:
            self.turn = whole
        return intent

    async def _answer_one(self, text: str, messages: tuple[TurnMessage, ...]) -> str:
        self.turn = dataclasses.replace(self.turn, text=text, messages=messages)
        # A flood of long fragments is read from its end, where the latest request is.
        understanding = await asyncio.to_thread(self.engine._nlu.understand, text[-NLU_MAX_CHARS:])
        # Kept before acting: a request that fails (no connector…) is still audited with it.
        self.first_intent = self.first_intent or understanding.intent
        await self._dispatch(understanding)
        return understanding.intent

    async def _answer_requests(self, requests: list[tuple[str, tuple[TurnMessage, ...]]]) -> str:
        """One request after the other; when one leaves a question open (a CPF, a choice),
        the rest are kept for when it is done, and the customer is told so."""
        first = ""
        for index, (text, messages) in enumerate(requests):
            try:
                intent = await self._answer_one(text, messages)
            except ToolError as error:
                if error.code == "unavailable":
                    raise
                self.say(error.message)
                intent = "error"
            first = first or intent
            rest = [later for later, _ in requests[index + 1 :]]
            if not rest or self._stopped():
                break
            if self.state.dialogue.awaiting:
                self.state.dialogue.kept_requests = rest
                self.say(_kept_text(rest))
                break
        return first

    def _stopped(self) -> bool:
        """A person takes over, or the customer opted out: nothing more to answer."""
        return any(isinstance(action, Handoff | OptOut) for action in self.actions)

    def _greet_first(self) -> None:
        """ "Oi, quero a 2ª via": answer the request, greeting back in its first message."""
        for index, action in enumerate(self.actions):
            if not isinstance(action, Say):
                continue
            content = action.content
            if isinstance(content, TextContent | ButtonsContent | ListContent):
                hello = self.replies.hello(self.turn.contact_name)
                body = f"{hello} {content.body}"
                self.actions[index] = Say(dataclasses.replace(content, body=body))
            return

    def _back(self) -> None:
        """``voltar``: one step back in the flow under way, or the menu when there is none."""
        dialogue = self.state.dialogue
        awaiting, dialogue.awaiting = dialogue.awaiting, None
        dialogue.options = []
        # At the CPF asked for an order, the step before is choosing the products.
        ordering = awaiting == "document" and dialogue.goal == "place_order"
        if awaiting in ORDER_AWAITING or ordering:
            self._end_order()
            dialogue.goal = "place_order"
            dialogue.awaiting = "order_items"
            self.say("Tudo bem, voltando. " + _ASK_PRODUCT)
        elif awaiting == "challenge" or (
            awaiting == "titulo" and self.state.identity.verified is None
        ):
            self.state.identity.pending = None
            dialogue.awaiting = "document"
            self.say("Tudo bem, voltando. " + self.replies.text("ask_document"))
        else:
            dialogue.goal = None
            self.say(self.replies.greeting(None))

    # -- outages -----------------------------------------------------------------------------

    def _defer(self) -> None:
        """The business's system is down mid-step: keep the step and the memory it needs, and
        tell the customer the answer will come here. A resumed step that fails again is kept
        again, silently: the customer was told once."""
        self.state.dialogue.awaiting = None
        if self.turn.resume is not None:
            self.actions = [action for action in self.actions if not isinstance(action, Say)]
        else:
            self.say(self.replies.text("deferred"))
        snapshot = self.state.resumable().dump()
        self.actions.append(Defer({"step": self.step, "state": snapshot}))

    async def _resume(self, request: Any) -> None:
        """Run a step kept during an outage, in the memory it had (the turn's state merges it)."""
        step = dict(request.get("step") or {})
        # Kept by this release (SessionMemory.resumable) or by an earlier one (a flat dict).
        self.state.fill_missing(load_memory(request.get("state")))
        self.say(self.replies.text("resumed"))
        do = step.get("do")
        if do == "identify":
            await self._identify(str(step["document"]))
        elif do == "challenge":
            await self._answer_challenge(str(step.get("answer", "")))
        elif do == "goal":
            self.state.dialogue.goal = step.get("goal")
            if step.get("order_id"):
                self.state.dialogue.order_id = str(step["order_id"])
            await self._goal()
        elif do == "second_copy":
            await self._second_copy(str(step["titulo_id"]))
        elif do == "stock":
            await self._stock_lookup(step.get("sku"), step.get("query"))
        elif do == "confirm_order":
            # The customer confirmed in the turn that was kept: that earlier turn is the one the
            # summary must precede, not this resumed one (which may be a new session's first).
            summary = self.state.order.summary
            if summary is not None:
                summary.turn = min(summary.turn, self.state.turn - 1)
            self.state.order.summary_id = step.get("summary_id")
            await self._confirm_order(True)
        else:
            self.actions = [a for a in self.actions if not isinstance(a, Say)]

    # -- the dialogue ----------------------------------------------------------------------

    async def _dispatch(self, nlu: Understanding) -> None:
        text = unidecode(self.turn.text).lower().strip()
        cancelling = bool(_CANCEL_VERB.search(text)) and not _OPT_OUT_CUE.search(text)
        # "quero cancelar" during a step is the bare "cancelar"; "cancelar meu pedido" is too
        # while ordering, but not during a lookup (the order would seem cancelled).
        dialogue = self.state.dialogue
        in_step = bool(dialogue.awaiting or dialogue.goal)
        order_step = dialogue.awaiting in ORDER_AWAITING or dialogue.goal == "place_order"
        if _CANCEL.match(text) or (
            cancelling and in_step and (order_step or not _ORDER_WORD.search(text))
        ):
            # Every slot of every flow: one left behind would answer the next request.
            self.state.dialogue = Dialogue(misunderstood=dialogue.misunderstood)
            self.state.order = OrderSlots()
            self.actions.append(DropDeferred())
            self.say(self.replies.text("cancelled"))
            return
        if _BACK.match(text):
            self._back()
            return
        if nlu.intent == "human_handoff":
            self.handoff("customer asked for a human")
            return
        if nlu.intent == "complaint":
            self.handoff(f"complaint: {self.turn.text[:200]}", self.replies.text("complaint"))
            return
        if cancelling and nlu.intent != "out_of_scope":
            # No tool cancels an order; nothing here may read as if it was cancelled. ("como
            # cancelo meu netflix" is out of scope and answered as such.)
            dialogue.awaiting = dialogue.goal = None
            dialogue.options = []
            self.state.order = OrderSlots()
            self.say(_CANCEL_ORDER if _ORDER_WORD.search(text) else _CANCEL_WHAT)
            return
        if nlu.intent == "opt_out" and not _OPT_OUT_CUE.search(text):
            self.say(_OPT_OUT_CONFIRM)
            return
        if nlu.intent == "opt_out":
            self.actions.append(OptOut())
            self.say(self.replies.text("opt_out"))
            return
        nlu = _order_number_means_status(nlu)
        awaiting = dialogue.awaiting
        typed_document = bool(_entity(nlu, "cpf", "cnpj") or nlu.invalid_documents)
        if awaiting == "challenge" and not typed_document:
            await self._answer_challenge(self.turn.text[:100])
            return
        if awaiting == "document" and not typed_document and self._still_awaiting_document(nlu):
            return
        if awaiting == "titulo" and await self._choose_titulo(nlu):
            return
        if awaiting == "order_confirm" and nlu.intent in {"affirm", "deny"}:
            await self._confirm_order(nlu.intent == "affirm")
            return
        if awaiting in _ORDER_QUESTIONS and await self._order_answer(nlu, str(awaiting)):
            return
        document = _entity(nlu, "cpf", "cnpj")
        if nlu.intent in NEEDS_CUSTOMER:
            dialogue.goal = nlu.intent
            self._remember_order_items(nlu)
        if document is not None:
            await self._identify(document)
            return
        mistyped = self._mistyped_document(nlu, awaiting == "document")
        if mistyped is not None:
            dialogue.awaiting = "document"
            self.say(mistyped)
            return
        if awaiting == "document" and nlu.intent in {"provide_document", OUT_OF_SCOPE_INTENT}:
            self.say(
                "Não consegui identificar um CPF ou CNPJ na sua mensagem. Pode digitar só os "
                "números?"
            )
            return
        await self._intent(nlu)

    def _mistyped_document(self, nlu: Understanding, awaiting_document: bool) -> str | None:
        """What to say when the customer meant to type a CPF or CNPJ and it came out wrong: a
        check digit off, or a digit missing or too many. A phone number is not a mistyped CPF;
        it is told apart by its shape, unless the customer called it a document."""
        folded = unidecode(self.turn.text).lower()
        called_document = bool(_DOCUMENT_WORDS.search(folded))
        for invalid in nlu.invalid_documents:
            if invalid.kind == "cpf" and not called_document and _is_phone(invalid.value):
                return PHONE_NOT_DOCUMENT if awaiting_document else None
            kind = DocumentKind.cpf if invalid.kind == "cpf" else DocumentKind.cnpj
            return mistyped_document(kind, invalid.reason)
        if not (awaiting_document or called_document):
            return None
        for match in _DIGIT_RUN.finditer(self.turn.text):
            digits = re.sub(r"\D", "", match.group())
            if not called_document and _is_phone(match.group()):
                return PHONE_NOT_DOCUMENT
            if len(digits) in {11, 14} or not 9 <= len(digits) <= 16:
                continue
            return wrong_length(len(digits))
        return None

    async def _intent(self, nlu: Understanding) -> None:
        intent = nlu.intent
        if intent == "place_order":
            # Products are public: matched before asking who the customer is.
            await self._order_next()
        elif intent in NEEDS_CUSTOMER:
            await self._goal()
        elif intent == "stock_check":
            await self._stock(nlu)
        elif intent == "business_info":
            await self._faq()
        elif intent == "greeting":
            self.state.dialogue.misunderstood = 0
            self.say(self.replies.greeting(self.turn.contact_name))
        elif intent == "thanks":
            self.say(self.replies.text("thanks"))
        elif intent == "goodbye":
            self.say(self.replies.text("sign_off"))
        elif intent in {"affirm", "deny", "provide_document"}:
            self.say(
                "Como posso ajudar? Posso enviar *2ª via de boleto*, ver *pedidos* ou *estoque*."
            )
        else:
            await self._not_understood()

    async def _not_understood(self) -> None:
        # A business question the classifier missed may still be in the FAQ.
        hit = await self.engine._faq.answer(self.turn.tenant_id, self.turn.text)
        if hit is not None:
            self.tools_called.append("answer_faq")
            self.say(hit.body)
            return
        misses = self.state.dialogue.misunderstood + 1
        self.state.dialogue.misunderstood = misses
        if misses >= 2:
            self.state.dialogue.misunderstood = 0
            self.say(
                ButtonsContent(
                    body=self.replies.text("offer_human").split(" Responda")[0],
                    buttons=(
                        Button("handoff", "Falar com atendente"),
                        Button("menu", "Voltar ao menu"),
                    ),
                )
                if self.turn.interactive
                else self.replies.text("offer_human")
            )
            return
        self.say(self.replies.text("not_understood"))

    # -- identification --------------------------------------------------------------------

    async def _identify(self, document: str) -> None:
        tools = await self.tools()
        self.step = {"do": "identify", "document": document}
        self.tools_called.append("identify_customer")
        result = await tools.identify_customer(IdentifyCustomer(document=document))
        if result.status == "verified":
            if self.state.dialogue.awaiting == "titulo" and not self.state.dialogue.goal:
                # The document again while choosing a boleto: the list still stands.
                self._ask_titulo_again(self._titulo_options(), Choice(ChoiceStatus.none))
                return
            self.state.dialogue.awaiting = None
            await self._goal()
        elif result.status == "challenge":
            self.state.dialogue.awaiting = "challenge"
            self.say(result.question or "Para sua segurança, confirme um dado do cadastro.")
        elif result.status == "invalid_document":
            self.state.dialogue.awaiting = "document"
            self.say(mistyped_document(check_document(document).kind, result.reason))
        else:
            self.handoff("verification locked")

    async def _answer_challenge(self, answer: str) -> None:
        tools = await self.tools()
        self.step = {"do": "challenge", "answer": answer}
        self.tools_called.append("answer_challenge")
        result = await tools.answer_challenge(AnswerChallenge(answer=answer))
        if result.status == "verified":
            self.state.dialogue.awaiting = None
            self.say("Obrigada, identidade confirmada! ✅")
            await self._goal()
        elif result.status == "wrong":
            left = result.attempts_left
            self.say(challenge_wrong(left))
        else:
            self.handoff(
                "verification failed",
                "Não consegui confirmar seus dados. " + self.replies.handoff(self.turn.now),
            )

    # -- goals -----------------------------------------------------------------------------

    async def _goal(self) -> None:
        goal = self.state.dialogue.goal
        tools = await self.tools()
        if tools.ctx.state.identity.verified is None:
            self.state.dialogue.awaiting = "document"
            self.say(self.replies.text("ask_document"))
            return
        self.step = {"do": "goal", "goal": goal, "order_id": self.state.dialogue.order_id}
        if goal in {"invoice_copy", "open_invoices"}:
            await self._titulos(goal)
        elif goal in {"order_status", "delivery_tracking"}:
            self.tools_called.append(goal)
            call = tools.delivery_tracking if goal == "delivery_tracking" else tools.order_status
            order_id, self.state.dialogue.order_id = self.state.dialogue.order_id, None
            order = await call(OrderQuery(order_id=order_id))
            self.say(order_text(order))
        elif goal == "order_history":
            self.tools_called.append("recent_orders")
            orders = (await tools.recent_orders(RecentOrders())).orders
            self.say(orders_text(orders) if orders else self.replies.text("no_orders"))
        elif goal == "place_order":
            await self._prepare_order()
        else:
            self.say("Identificação confirmada. Como posso ajudar?")
        self.state.dialogue.goal = None

    async def _titulos(self, goal: str) -> None:
        tools = await self.tools()
        self.tools_called.append("open_titulos")
        titulos = (await tools.open_titulos()).titulos
        if not titulos:
            self.say(self.replies.text("no_titulos"))
            return
        if len(titulos) == 1 and goal == "invoice_copy":
            await self._second_copy(titulos[0].id)
            return
        options = [titulo_option(t) for t in titulos]
        self.state.dialogue.options = [
            ListOption(**dataclasses.asdict(option)) for option in options
        ]
        self.state.dialogue.awaiting = "titulo"
        heading = titulos_heading(titulos, goal)
        if goal == "invoice_copy":
            ending = "Responda com o número."
        elif len(titulos) == 1:
            ending = "Quer a 2ª via? Responda *1*."
        else:
            ending = "Quer a 2ª via de algum? Responda com o número."
        if self.turn.interactive and len(titulos) <= 10:
            rows = tuple(ListRow(t.id, format_brl(t.amount_cents), titulo_line(t)) for t in titulos)
            self.say(
                ListContent(body=heading, button="Ver boletos", sections=(ListSection(None, rows),))
            )
        else:
            lines = [f"{n}. {titulo_line(t)}" for n, t in enumerate(titulos, 1)]
            self.say(heading + "\n" + "\n".join(lines) + "\n" + ending)

    async def _choose_titulo(self, nlu: Understanding) -> bool:
        """The customer's answer to the list of títulos: the 2ª via of the one chosen, or the
        list again when the answer fits several or none. False: not an answer to the list."""
        options = self._titulo_options()
        choice = self._choice(options)
        if choice.status is ChoiceStatus.none and len(options) == 1 and nlu.intent == "affirm":
            choice = Choice(ChoiceStatus.chosen, (options[0],))
        if choice.status is ChoiceStatus.every:
            # "os dois", "todos": each second copy, in the order listed.
            for option in choice.candidates:
                await self._second_copy(option.id)
            return True
        chosen = choice.chosen
        if chosen is not None:
            await self._second_copy(chosen.id)
            return True
        # "o 7" is a wrong answer to the list; a long message with a number in it is more
        # likely a new request.
        short = len(self.turn.text.split()) <= 5
        if choice.status is ChoiceStatus.ambiguous or (
            choice.status is ChoiceStatus.unmatched and short
        ):
            self._ask_titulo_again(options, choice)
            return True
        return False

    def _titulo_options(self) -> list[Option]:
        return [Option(**option.model_dump()) for option in self.state.dialogue.options]

    def _choice(self, options: list[Option]) -> Choice:
        replies = (
            m.content.get("id")
            for m in self.turn.messages
            if m.type in {"list_reply", "button_reply"}
        )
        return choose(options, self.turn.text, replies)

    def _ask_titulo_again(self, options: list[Option], choice: Choice) -> None:
        if choice.status is ChoiceStatus.ambiguous:
            shown = list(choice.candidates)
            body = f"Encontrei {count_of(len(shown), 'boleto')} assim. Qual deles?"
        elif choice.status is ChoiceStatus.none:
            shown = options
            body = "Certo, identificação confirmada. De qual boleto você quer a 2ª via?"
        else:
            shown = options
            body = "Não achei esse boleto na lista. Qual deles você quer?"
        if self.turn.interactive and len(shown) <= 10:
            rows = tuple(
                ListRow(o.id, format_brl(o.amount_cents or 0), option_line(o)) for o in shown
            )
            self.say(
                ListContent(body=body, button="Ver boletos", sections=(ListSection(None, rows),))
            )
            return
        lines = [f"{options.index(o) + 1}. {option_line(o)}" for o in shown]
        self.say(body + "\n" + "\n".join(lines) + "\nResponda com o número.")

    async def _second_copy(self, titulo_id: str) -> None:
        tools = await self.tools()
        self.step = {"do": "second_copy", "titulo_id": titulo_id}
        self.tools_called.append("second_copy")
        copy = await tools.second_copy(RequestSecondCopy(titulo_id=titulo_id))
        self.state.dialogue.awaiting = None
        self.state.dialogue.options = []
        self.say(second_copy_intro(copy))
        self.say(copy.linha_digitavel)
        if (document := boleto_document(copy)) is not None:
            self.say(document)
        if copy.pix_copia_e_cola:
            self.say("Se preferir pagar com PIX, use o copia e cola abaixo:")
            self.say(copy.pix_copia_e_cola)

    # -- stock and orders ------------------------------------------------------------------

    async def _stock(self, nlu: Understanding) -> None:
        asks = _stock_asks(self.turn.text)
        if not asks:
            self.say("Qual produto você procura? Pode mandar o nome ou o código.")
        elif len(asks) == 1:
            await self._stock_lookup(*asks[0])
        else:
            await self._stock_many(asks)

    async def _stock_many(self, asks: list[tuple[str | None, str | None]]) -> None:
        """Several products in one request ("tem CAM-001, CAM-002 e CAF-001?", or one a line):
        one line each, in the order asked, in one reply (the outbox splits it at WhatsApp's
        4096 characters, between lines)."""
        tools = await self.tools()
        self.tools_called.append("stock")
        lines: list[str] = []
        for sku, query in asks:
            try:
                products = (await tools.stock(StockQuery(sku=sku, query=query))).products
            except ToolError as error:
                if error.code != "not_found":
                    raise
                products = []
            if not products:
                lines.append(f"{sku or query}: não encontrei no catálogo.")
            lines += [_stock_line(product) for product in products]
        self.say("\n".join(lines))

    async def _stock_lookup(self, sku: str | None, query: str | None) -> None:
        tools = await self.tools()
        self.step = {"do": "stock", "sku": sku, "query": query}
        self.tools_called.append("stock")
        products = (await tools.stock(StockQuery(sku=sku, query=query))).products
        if not products:
            self.say("Não encontrei esse produto no catálogo.")
            return
        self.say("\n".join(_stock_line(p) for p in products))

    def _end_order(self) -> None:
        """The order flow is over (placed, refused, cancelled, replaced): none of its slots may
        reach the next request."""
        self.state.order = OrderSlots()
        if self.state.dialogue.awaiting in ORDER_AWAITING:
            self.state.dialogue.awaiting = None

    def _remember_order_items(self, nlu: Understanding) -> None:
        """What a request for the customer's data carries into its flow; a request for
        something else ends the flow under way (its slots go with it)."""
        order_id = _entity(nlu, "order_id")
        if order_id is None and nlu.intent in {"order_status", "delivery_tracking"}:
            # "status do 5003": about an order, a bare number is its number.
            bare = _BARE_ORDER_NUMBER.findall(self.turn.text)
            order_id = bare[0] if len(bare) == 1 else None
        self.state.dialogue.order_id = order_id or None
        # While the order is being built, a product adds to it; once its summary is shown, a
        # new request for products starts another order (the customer restated it).
        building = self.state.dialogue.awaiting in _ORDER_QUESTIONS
        if nlu.intent != "place_order" or not building:
            self._end_order()
        if nlu.intent == "place_order":
            self._add_order_lines(requested_lines(self.turn.text))

    def _still_awaiting_document(self, nlu: Understanding) -> bool:
        """A message sent while the CPF is awaited that keeps the request on: a correction of
        the order under way, or "sim", "isso", "pode ser" (the CPF is asked again)."""
        if self.state.dialogue.goal == "place_order" and self._amend_order():
            return True
        # Digits may be a CPF mistyped: told so further on.
        digits = any(char.isdigit() for char in self.turn.text)
        if nlu.intent == "affirm" and self.state.dialogue.goal and not digits:
            self.say(self.replies.text("ask_document"))
            return True
        return False

    def _amend_order(self) -> bool:
        """While the CPF is awaited for an order, a message that restates or corrects its
        quantities ("CAF-002" again, "3", "na verdade quero 5") amends it and asks for the CPF
        again; it is neither a stock question nor a new order."""
        items = {item.sku: item.quantity for item in self.state.order.items}
        amended = amended_quantities(items, requested_lines(self.turn.text))
        if amended is None:
            return False
        self.state.order.items = [OrderItem(sku=sku, quantity=n) for sku, n in amended.items()]
        listed = ", ".join(f"{n}x {sku}" for sku, n in amended.items())
        self.say(
            f"Certo, anotei: *{listed}*. Para fechar o pedido, me informe o *CPF ou CNPJ* do "
            "cadastro, por favor."
        )
        return True

    def _add_order_lines(self, lines: list[RequestedLine]) -> None:
        pending = [_requested(line) for line in self.state.order.pending]
        if pending and lines:
            # "quero 2" and then "caneca térmica": one line.
            last, first = pending[-1], lines[0]
            if last.sku is None and last.query is None and first.quantity is None:
                pending[-1] = RequestedLine(first.sku, first.query, last.quantity)
                lines = lines[1:]
        pending += lines
        if pending:
            self.state.order.pending = [_asked(line) for line in pending]

    async def _order_answer(self, nlu: Understanding, awaiting: str) -> bool:
        """The customer's answer to a question of the order flow; False when the message is
        another request (which then replaces the order)."""
        other_request = (
            nlu.intent in NEEDS_CUSTOMER - {"place_order"}
            or nlu.intent in _OTHER_REQUESTS
            # A CPF sent meanwhile identifies the customer; the question is asked again after.
            or _entity(nlu, "cpf", "cnpj") is not None
        )
        if nlu.intent in {"affirm", "deny"} and not _entity(nlu, "sku", "quantity"):
            lines = []  # "sim", "ok": no product in it
        else:
            lines = requested_lines(self.turn.text)
        named = [line for line in lines if line.sku or line.query]
        current = self.state.order.line or OpenLine()
        if awaiting == "order_choice":
            options = [product_option(option.model_dump()) for option in current.options]
            picked = self._choice(options).chosen
            if picked is not None:
                sku = picked.id
                quantity = current.quantity or read_quantity(self.turn.text)
                chosen = RequestedLine(sku, None, quantity)
                self.state.order.pending = [_asked(chosen), *self.state.order.pending]
                self.state.order.line = None
                await self._order_next()
                return True
        elif awaiting == "order_quantity":
            quantity = read_quantity(self.turn.text)
            if quantity is not None and not named:
                line = RequestedLine(str(current.sku), None, quantity)
                self.state.order.pending = [_asked(line), *self.state.order.pending]
                self.state.order.line = None
                await self._order_next()
                return True
        if other_request:
            # Checked after the answers: "a segunda" reads as "2ª via" to the classifier.
            return False
        if named or (awaiting == "order_items" and lines):
            # A product (a code alone included) while ordering is the next item, not a stock
            # question; it replaces a line still waiting for "qual?" or "quantas?".
            self.state.order.line = None
            self._add_order_lines(lines)
            await self._order_next()
            return True
        if awaiting == "order_choice":
            count = len(current.options)
            self.say(f"Não entendi qual. Responda com o número da opção (1 a {count}).")
            return True
        if awaiting == "order_quantity":
            self.say(f"Quantas unidades de *{current.name}*? Responda só com o número.")
            return True
        if nlu.intent == "deny":
            self._end_order()
            self.state.dialogue.goal = None
            self.say("Tudo bem. Posso ajudar com mais alguma coisa?")
            return True
        self.say(_ASK_PRODUCT + " Se preferir desistir, responda *cancelar*.")
        return True

    async def _order_next(self) -> None:
        """Resolve what is left of the order; once every line is a product and a quantity, go
        on as for any goal: identify the customer, then summarise."""
        self.state.dialogue.goal = "place_order"
        if await self._resolve_order():
            await self._goal()

    async def _resolve_order(self) -> bool:
        """Match each pending line to one product with a quantity, asking "qual?" or
        "quantas?" when the customer's words leave it open. True when the order is complete."""
        if self._ask_open_line():
            return False
        order = self.state.order
        pending = [_requested(line) for line in order.pending]
        items = list(order.items)
        tools = await self.tools()
        while pending:
            line = pending[0]
            order.pending = [_asked(rest) for rest in pending[1:]]
            if line.sku is None and line.query is None:
                self.state.dialogue.awaiting = "order_items"
                self.say(f"Certo, {line.quantity}. E qual produto? Pode mandar o nome ou o código.")
                order.pending = [_asked(line) for line in pending]
                return False
            self.tools_called.append("order_products")
            try:
                found = (
                    await tools.order_products(StockQuery(sku=line.sku, query=line.query))
                ).products
            except ToolError as error:
                if error.code != "not_found":
                    raise
                found = []
            pending.pop(0)
            what = line.sku or line.query
            available = [product for product in found if product.available]
            if not found:
                self.say(f"Não encontrei *{what}* no catálogo.")
                continue
            if not available:
                self.say(f"*{found[0].name}* está sem estoque no momento.")
                continue
            if len(available) > 1:
                order.line = OpenLine(
                    query=line.query,
                    quantity=line.quantity,
                    options=[
                        ProductOption(sku=p.sku, name=p.name, price_cents=p.price_cents)
                        for p in available
                    ],
                )
                self.state.dialogue.awaiting = "order_choice"
                self._offer_products(str(line.query), available)
                return False
            product = available[0]
            if line.quantity is None or line.quantity > product.stock:
                order.line = OpenLine(sku=product.sku, name=product.name)
                self.state.dialogue.awaiting = "order_quantity"
                if line.quantity is None:
                    # With the price: "quanto custa a caneca térmica?" may be what got here.
                    price = format_brl(product.price_cents)
                    self.say(f"Quantas unidades de *{product.name}* ({price} cada) você quer?")
                else:
                    units = "unidade" if product.stock == 1 else "unidades"
                    self.say(
                        f"Temos só {product.stock} {units} de *{product.name}* no momento. "
                        "Quantas você quer?"
                    )
                return False
            items.append(OrderItem(sku=product.sku, quantity=line.quantity))
            order.items = items
        order.pending = []
        if not items:
            self.state.dialogue.awaiting = "order_items"
            self.say(_ASK_PRODUCT)
            return False
        return True

    def _ask_open_line(self) -> bool:
        """A line still waiting for "qual delas?" or "quantas?" (the customer sent something
        else meanwhile, such as the CPF): ask it again instead of starting the order over."""
        line = self.state.order.line
        if line is None:
            return False
        if line.options:
            self.state.dialogue.awaiting = "order_choice"
            self._offer_products(line.query or "o que você pediu", line.options)
            return True
        if line.sku:
            self.state.dialogue.awaiting = "order_quantity"
            self.say(f"Quantas unidades de *{line.name or line.sku}* você quer?")
            return True
        return False

    def _offer_products(
        self, query: str, products: Sequence[ProductView] | Sequence[ProductOption]
    ) -> None:
        # Memory written before prices were kept with the choice has none: shown as R$ 0,00
        # would mislead, so those rows show the code alone.
        offered = [(p.sku, p.name, p.price_cents) for p in products]
        body = f"Encontrei {len(offered)} opções para *{query}*. Qual delas você quer?"
        if self.turn.interactive:
            rows = tuple(
                ListRow(
                    sku, f"{sku} • {format_brl(price)}" if price is not None else sku, name[:72]
                )
                for sku, name, price in offered
            )
            self.say(
                ListContent(body=body, button="Ver opções", sections=(ListSection(None, rows),))
            )
            return
        lines = [
            f"{number}. {name} ({sku})" + (f": {format_brl(price)}" if price is not None else "")
            for number, (sku, name, price) in enumerate(offered, 1)
        ]
        self.say(body + "\n" + "\n".join(lines) + "\nResponda com o número.")

    async def _prepare_order(self) -> None:
        if not await self._resolve_order():
            return
        items = self.state.order.items
        tools = await self.tools()
        self.tools_called.append("prepare_order")
        summary = await tools.prepare_order(
            PrepareOrder(items=[OrderLine(sku=i.sku, quantity=i.quantity) for i in items])
        )
        self.state.dialogue.awaiting = "order_confirm"
        self.state.order.summary_id = summary.summary_id
        body = (
            "Resumo do pedido:\n"
            + "\n".join(summary.lines)
            + f"\nTotal: *{format_brl(summary.total_cents)}*\nPosso confirmar?"
        )
        if self.turn.interactive:
            self.say(
                ButtonsContent(
                    body=body, buttons=(Button("sim", "Confirmar"), Button("nao", "Cancelar"))
                )
            )
        else:
            self.say(body + " (responda *sim* ou *não*)")

    async def _confirm_order(self, confirmed: bool) -> None:
        summary_id = self.state.order.summary_id or ""
        if not confirmed:
            self._end_order()
            self.say("Pedido cancelado. Posso ajudar com mais alguma coisa?")
            return
        tools = await self.tools()
        self.step = {"do": "confirm_order", "summary_id": summary_id}
        self.tools_called.append("confirm_order")
        placed = await tools.confirm_order(ConfirmOrder(summary_id=summary_id))
        self._end_order()
        self.say(_placed_text(placed.message, placed.order_id))

    async def _faq(self) -> None:
        self.tools_called.append("answer_faq")
        hit = await self.engine._faq.answer(self.turn.tenant_id, self.turn.text)
        self.say(hit.body if hit is not None else self.replies.text("faq_missing"))


OUT_OF_SCOPE_INTENT = "out_of_scope"
VOICE_TYPES = frozenset({"audio", "voice"})
#: The order flow's questions before its summary ("qual produto?", "qual delas?", "quantas?").
_ORDER_QUESTIONS = ORDER_AWAITING - {"order_confirm"}
_ASK_PRODUCT = "Qual produto e quantas unidades você quer? Pode mandar o nome ou o código."
#: Requests that end an order under way when they come instead of an answer to its question.
_OTHER_REQUESTS = frozenset({"business_info", "greeting", "thanks", "goodbye", "opt_out"})


def _placed_text(message: str, order_id: str) -> str:
    """The ERP's own words about the order, with its number once, in bold."""
    if order_id in message:
        return message.replace(order_id, f"*{order_id}*", 1)
    return f"{message} Número do pedido: *{order_id}*."


#: Characters of a turn the NLU reads (a burst of long messages can add up to tens of KB).
NLU_MAX_CHARS = 2000
_PRODUCT_FILLER = re.compile(
    r"\b(tem|voces|vcs|vc|voce|estoque|disponivel|disponiveis|ainda|quanto|custa|preco|valor|"
    r"o|a|os|as|de|do|da|um|uma|no|na|ai|pra|para|gostaria|saber|se|queria|quero|ver|e|mais)\b"
)


def _stock_line(product: ProductView) -> str:
    return f"*{product.name}* ({product.sku}): {format_brl(product.price_cents)} • " + (
        f"{product.stock} em estoque" if product.available else "sem estoque no momento"
    )


def _stock_asks(text: str) -> list[tuple[str | None, str | None]]:
    """The products a stock question asks about, in order: every code, or, on a line without
    one, the words that may name a product."""
    asks: list[tuple[str | None, str | None]] = []
    for line in text.splitlines():
        skus = [entity.value for entity in extract(line).entities if entity.type == "sku"]
        # A line of greeting or asking ("oi", "queria saber") names no product.
        query = None if skus else _product_words(_GREETS.sub("", unidecode(line).lower()))
        asks += [(sku, None) for sku in skus] + ([(None, query)] if query else [])
    return list(dict.fromkeys(asks))


_BARE_ORDER_NUMBER = re.compile(r"(?<![\w.,/$#-])\d{3,12}(?![\w%]|[.,/:-]\d)")


def _asked(line: RequestedLine) -> AskedLine:
    return AskedLine(sku=line.sku, query=line.query, quantity=line.quantity)


def _requested(line: AskedLine) -> RequestedLine:
    return RequestedLine(line.sku, line.query, line.quantity)


def _kept_text(kept: list[str]) -> str:
    if len(kept) == 1:
        quoted = kept[0] if len(kept[0]) <= 80 else kept[0][:77] + "..."
        return f"Vamos por partes: depois disso eu respondo também “{quoted}”."
    return (
        f"Vamos por partes: anotei as outras {len(kept)} perguntas e respondo na ordem, "
        "assim que terminarmos esta."
    )


def _as_messages(text: str) -> tuple[TurnMessage, ...]:
    return (TurnMessage("text", text, {"body": text}),)


def _product_words(text: str) -> str | None:
    words = _PRODUCT_FILLER.sub(" ", re.sub(r"[^\w\s]", " ", unidecode(text).lower()))
    query = " ".join(words.split())
    return query or None


def _is_phone(text: str) -> bool:
    """A Brazilian phone number (with or without +55, area code and punctuation)."""
    try:
        number = phonenumbers.parse(text, "BR")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


#: Intents an order number may come with; with any other, the number is the request itself.
_ORDER_NUMBER_INTENTS = frozenset(
    {"order_status", "delivery_tracking", "invoice_copy", "open_invoices", "human_handoff"}
)


def _order_number_means_status(nlu: Understanding) -> Understanding:
    """ "#5001" or "pedido n° 5001" alone: the classifier may read an order (or a "no") in so
    few words, but an existing order's number asks about that order."""
    if _entity(nlu, "order_id") and nlu.intent not in _ORDER_NUMBER_INTENTS:
        return dataclasses.replace(nlu, intent="order_status")
    return nlu


def _entity(nlu: Understanding, *types: str) -> str | None:
    for entity in nlu.entities:
        if entity.type in types:
            return entity.value
    return None
