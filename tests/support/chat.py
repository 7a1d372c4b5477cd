"""A customer talking through a sandbox channel, the same pipeline WhatsApp uses, in-process."""

from __future__ import annotations

from dataclasses import dataclass, field

from atende.channels.types import ChannelRuntime
from atende.main import Container
from tests.support.waiting import until


@dataclass
class SandboxChat:
    container: Container
    channel: ChannelRuntime
    phone: str
    after: int = 0
    #: Every reply text received so far, in order.
    seen: list[str] = field(default_factory=list)

    async def say(self, text: str) -> str:
        """Send ``text`` and return the replies to it, once the turn is answered."""
        sandbox = self.container.sandbox
        message_id = await sandbox.submit(self.channel, self.phone, text)
        answer = await sandbox.replies(
            self.channel, self.phone, message_id=message_id, after=self.after, wait=15
        )
        assert answer.answered, "the turn was not answered in time"
        return self._take(answer.replies, answer.last_id)

    async def wait_for(self, fragment: str) -> str:
        """Replies that arrive without the customer writing (a resumed request), up to the one
        containing ``fragment``."""
        got: list[str] = []

        async def arrived() -> bool:
            answer = await self.container.sandbox.replies(
                self.channel, self.phone, message_id=None, after=self.after, wait=0
            )
            got.append(self._take(answer.replies, answer.last_id))
            return fragment in "\n".join(got)

        await until(self.container, arrived, timeout=15)
        return "\n".join(got)

    def _take(self, replies: list[dict[str, object]], last_id: int) -> str:
        self.after = last_id
        texts = [str(r.get("text") or "") for r in replies]
        self.seen += texts
        return "\n".join(texts)
