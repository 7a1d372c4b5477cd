"""The offline pt-BR engine: understands with the NLU, fills slots across turns, calls the
business tools (which enforce who may see what), and answers with pt-BR templates.

Session memory (``turn.state``) is :class:`atende.assistant.memory.SessionMemory`: this engine
keeps its slots in ``dialogue`` (goal, the question ``awaiting`` an answer, the boletos offered,
misunderstandings, requests kept from a burst) and ``order`` (see ``orders``); the tools keep the
verification proof in ``identity`` and the order summary in ``order.summary``.

This module routes what the customer said to its flow and keeps what every turn does (outages,
"voltar", "cancelar", the goal once the customer is known). The flows, each a subclass of
``conversation.Conversation`` put together in :class:`_Conversation`: ``requests`` (the several
requests of a turn, in order), ``identity`` (CPF/CNPJ and the challenge), ``invoices`` (boletos
and their second copy), ``order_flow`` (a new order) and ``stock``.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Sequence
from typing import Any

from unidecode import unidecode

from atende.assistant.dialogue.conversation import GREETS, NEEDS_CUSTOMER, entity
from atende.assistant.dialogue.identity import IdentityFlow
from atende.assistant.dialogue.invoices import InvoiceFlow
from atende.assistant.dialogue.order_flow import ASK_PRODUCT, ORDER_QUESTIONS, OrderFlow
from atende.assistant.dialogue.orders import ORDER_AWAITING
from atende.assistant.dialogue.replies import Replies, order_history_text, order_text
from atende.assistant.dialogue.requests import RequestsFlow
from atende.assistant.dialogue.stock import StockFlow
from atende.assistant.faq import FaqIndex
from atende.assistant.memory import Dialogue, OrderSlots, load_memory
from atende.assistant.nlu import Nlu, Understanding
from atende.assistant.port import (
    Action,
    AiRecord,
    Audit,
    Defer,
    DropDeferred,
    OptOut,
    Remember,
    Say,
    ToolCallRecord,
    Turn,
)
from atende.assistant.tools.core import PdfLinks, ToolError
from atende.assistant.tools.models import OrderQuery, RecentOrders
from atende.assistant.voice import VOICE_FALLBACK_REPLY
from atende.channels.types import Button, ButtonsContent, ListContent, TextContent
from atende.connectors.port import ConnectorResolver
from atende.kit.errors import AtendeError
from atende.tenancy.profiles import TenantProfiles

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


class _Conversation(RequestsFlow, IdentityFlow, InvoiceFlow, OrderFlow, StockFlow):
    """One turn's worth of dialogue: what the customer said routed to its flow."""

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
                if intent != "greeting" and GREETS.match(unidecode(self.turn.text).lower()):
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
            self.state.dialogue.awaiting = "human_offer"
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
            self.say("Tudo bem, voltando. " + ASK_PRODUCT)
        elif awaiting == "challenge" or (
            awaiting == "titulo" and self.state.identity.verified is None
        ):
            self.state.identity.pending = None
            dialogue.awaiting = "document"
            self.say("Tudo bem, voltando. " + self.replies.text("ask_document"))
        else:
            dialogue.goal = None
            self.say(self.replies.greeting(None))

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
            self._cannot_cancel(text)
            return
        if nlu.intent == "opt_out" and not _OPT_OUT_CUE.search(text):
            self.say(_OPT_OUT_CONFIRM)
            return
        if nlu.intent == "opt_out":
            self.actions.append(OptOut())
            self.say(self.replies.text("opt_out"))
            return
        if dialogue.awaiting == "human_offer" and self._answer_human_offer(nlu):
            return
        nlu = _order_number_means_status(nlu)
        awaiting = dialogue.awaiting
        typed_document = bool(entity(nlu, "cpf", "cnpj") or nlu.invalid_documents)
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
        if awaiting in ORDER_QUESTIONS and await self._order_answer(nlu, str(awaiting)):
            return
        document = entity(nlu, "cpf", "cnpj")
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

    def _cannot_cancel(self, text: str) -> None:
        dialogue = self.state.dialogue
        dialogue.awaiting = dialogue.goal = None
        dialogue.options = []
        self.state.order = OrderSlots()
        if _ORDER_WORD.search(text):
            self.say(_CANCEL_ORDER)
            dialogue.awaiting = "human_offer"
        else:
            self.say(_CANCEL_WHAT)

    def _answer_human_offer(self, nlu: Understanding) -> bool:
        """A yes or no to "Quer falar com um atendente?". The offer stands for one answer
        only: anything else is a new request (False)."""
        self.state.dialogue.awaiting = None
        if nlu.intent == "affirm":
            self.handoff("customer accepted the offer of a human")
            return True
        if nlu.intent == "deny":
            self.say("Tudo bem! Se precisar, é só chamar. Posso ajudar em algo mais?")
            return True
        return False

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
            self.state.dialogue.awaiting = "human_offer"
            return
        self.say(self.replies.text("not_understood"))

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
            self.say(order_history_text(orders) if orders else self.replies.text("no_orders"))
        elif goal == "place_order":
            await self._prepare_order()
        else:
            self.say("Identificação confirmada. Como posso ajudar?")
        self.state.dialogue.goal = None

    async def _faq(self) -> None:
        self.tools_called.append("answer_faq")
        hit = await self.engine._faq.answer(self.turn.tenant_id, self.turn.text)
        if hit is not None:
            self.say(hit.body)
            return
        self.say(self.replies.text("faq_missing"))
        self.state.dialogue.awaiting = "human_offer"


OUT_OF_SCOPE_INTENT = "out_of_scope"
VOICE_TYPES = frozenset({"audio", "voice"})
#: Intents an order number may come with; with any other, the number is the request itself.
_ORDER_NUMBER_INTENTS = frozenset(
    {"order_status", "delivery_tracking", "invoice_copy", "open_invoices", "human_handoff"}
)


def _order_number_means_status(nlu: Understanding) -> Understanding:
    """ "#5001" or "pedido n° 5001" alone: the classifier may read an order (or a "no") in so
    few words, but an existing order's number asks about that order."""
    if entity(nlu, "order_id") and nlu.intent not in _ORDER_NUMBER_INTENTS:
        return dataclasses.replace(nlu, intent="order_status")
    return nlu
