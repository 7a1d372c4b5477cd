"""What every part of the offline engine shares within one turn: the turn, the session
memory, the replies said so far and the business tools (``Conversation``), and the few
rules more than one part reads.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from atende.assistant.dialogue.choice import Choice, Option
from atende.assistant.dialogue.replies import Replies
from atende.assistant.nlu import Understanding
from atende.assistant.port import Action, Handoff, Say, Turn
from atende.assistant.tools.core import BusinessTools, ToolContext
from atende.assistant.tools.verification import ChallengePolicy
from atende.channels.types import OutboundContent, TextContent

if TYPE_CHECKING:
    from atende.assistant.dialogue.engine import DialogueEngine

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
GREETS = re.compile(r"^\W*(oi+e?|ola|bom dia|boa tarde|boa noite|e ai|eae|opa|hey)\b")


class Conversation:
    """One turn's worth of dialogue; collects actions and the new session memory. The engine's
    ``_Conversation`` puts the flows (each a subclass of this) together."""

    def __init__(
        self, engine: DialogueEngine, turn: Turn, replies: Replies, settings: dict[str, Any]
    ) -> None:
        self.engine = engine
        self.turn = turn
        self.replies = replies
        self.settings = settings
        self.state = turn.state.clone()
        self.state.turn += 1
        self.actions: list[Action] = []
        self.tools_called: list[str] = []
        self._tools: BusinessTools | None = None
        #: The intent of the turn's first request, once understood.
        self.first_intent: str | None = None
        #: The step that calls the business's system, kept to be resumed if the system is down.
        self.step: dict[str, Any] = {}

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

    # -- what a flow asks of another (the engine and the flows define them) --------------------

    async def _goal(self) -> None:
        raise NotImplementedError

    async def _dispatch(self, nlu: Understanding) -> None:
        raise NotImplementedError

    def _titulo_options(self) -> list[Option]:
        raise NotImplementedError

    def _ask_titulo_again(self, options: list[Option], choice: Choice) -> None:
        raise NotImplementedError


def entity(nlu: Understanding, *types: str) -> str | None:
    for entity in nlu.entities:
        if entity.type in types:
            return entity.value
    return None
