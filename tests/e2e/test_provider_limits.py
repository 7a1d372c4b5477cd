"""Provider values at and beyond every column they are stored in, through the whole pipeline.

PostgreSQL enforces ``varchar(n)`` where SQLite does not, so each case runs on both engines: a
value that does not fit is cut to fit (names, error codes) or, when it is an identifier that
cannot be cut, the message is kept as a provider event; never a 500, never a turn that fails and
is retried forever.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from atende.assistant.port import Action, Say, Turn
from atende.audit.models import AdminNotice
from atende.channels.models import Channel, ProviderEvent
from atende.channels.types import (
    ChannelRuntime,
    ChannelSender,
    FetchedMedia,
    OutboundContent,
    Recipient,
    SendResult,
    TextContent,
)
from atende.config import Settings
from atende.contacts.models import Contact, ContactIdentity
from atende.conversations.models import Conversation, Message
from atende.conversations.service import RESUME
from atende.deferred.models import DeferredKind, DeferredRequest, DeferredStatus
from atende.deferred.orders import ORDER
from atende.devtools.fake_graph import FakeGraph, Reply
from atende.ingest import service as ingest_service
from atende.ingest.service import turn_key
from atende.main import Container
from atende.outbox.models import DeliveryAttempt
from atende.queue.port import Job
from atende.tenancy.scope import ALL_TENANTS
from tests.support.app import running, seed, signed
from tests.support.payloads import body, status, text_message, webhook
from tests.support.waiting import idle, until

PATH = "/webhooks/whatsapp/acme-whatsapp"
PHONE = "5511987654321"


class Echo:
    """Answers every turn with what it was told; raises on "veneno" (a turn that always fails)."""

    name = "echo"

    def __init__(self) -> None:
        self.turns: list[str] = []

    async def reply(self, turn: Turn) -> Sequence[Action]:
        self.turns.append(turn.text)
        if "veneno" in turn.text or "veneno" in str(turn.resume or ""):
            raise RuntimeError("this turn always fails")
        return [Say(TextContent(f"eco: {turn.text}"))]


@dataclass
class App:
    container: Container
    client: httpx.AsyncClient
    graph: FakeGraph
    echo: Echo

    async def post(self, payload: dict[str, Any], **headers: str) -> httpx.Response:
        raw = body(payload)
        return await self.client.post(PATH, content=raw, headers={**signed(raw), **headers})

    async def rows(self, model: Any) -> list[Any]:
        async with self.container.sessions() as session:
            return list(await session.scalars(select(model), execution_options={ALL_TENANTS: True}))


@pytest.fixture
async def app(settings: Settings, graph: FakeGraph) -> AsyncIterator[App]:
    echo = Echo()
    tight = settings.model_copy(
        update={
            "job_retry_base_seconds": 0.01,
            "job_retry_max_seconds": 0.02,
            "job_max_attempts": 3,
        }
    )
    container = Container(tight, engine=echo)
    await seed(container, graph.url)
    async with running(container) as url, httpx.AsyncClient(base_url=url) as client:
        yield App(container, client, graph, echo)


def one_message(
    *,
    wa_id: str | None = PHONE,
    bsuid: str | None = None,
    name: str = "Maria Silva",
    username: str | None = None,
    message_id: str | None = None,
    text: str = "oi",
) -> dict[str, Any]:
    message = text_message(wa_id or "", text, message_id=message_id)
    if wa_id is None:
        del message["from"]
    if bsuid is not None:
        message["from_user_id"] = bsuid
    payload = webhook([message])
    value = payload["entry"][0]["changes"][0]["value"]
    contact: dict[str, Any] = {"profile": {"name": name}}
    if username is not None:
        contact["profile"]["username"] = username
    if wa_id is not None:
        contact["wa_id"] = wa_id
    if bsuid is not None:
        contact["user_id"] = bsuid
    value["contacts"] = [contact]
    return payload


def digits(n: int) -> str:
    return ("5511" + "9" * n)[:n]


#: (case, payload, answered?) — answered: the customer gets a reply; otherwise the message is
#: kept as a provider event.
CASES: list[tuple[str, Callable[[], dict[str, Any]], bool]] = [
    ("name at 200", lambda: one_message(name="M" * 200), True),
    ("name at 201", lambda: one_message(name="M" * 201), True),
    ("name at 5000", lambda: one_message(name="M" * 5000), True),
    ("username at 100", lambda: one_message(username="u" * 100), True),
    ("username at 101", lambda: one_message(username="u" * 101), True),
    ("username at 2000", lambda: one_message(username="u" * 2000), True),
    ("wa_id at 15 digits", lambda: one_message(wa_id=digits(15)), True),
    ("wa_id at 31 digits", lambda: one_message(wa_id=digits(31)), True),
    ("wa_id at 32 digits", lambda: one_message(wa_id=digits(32)), True),
    ("wa_id at 160 digits", lambda: one_message(wa_id=digits(160)), True),
    ("wa_id at 161 digits", lambda: one_message(wa_id=digits(161)), False),
    ("bsuid at 160", lambda: one_message(wa_id=None, bsuid="BR." + "1" * 157), True),
    ("bsuid at 161", lambda: one_message(wa_id=None, bsuid="BR." + "1" * 158), False),
    (
        "long wa_id beside a good bsuid",
        lambda: one_message(wa_id=digits(400), bsuid="BR.1502576394655843"),
        True,
    ),
    (
        "long bsuid beside a good wa_id",
        lambda: one_message(bsuid="BR." + "1" * 400),
        True,
    ),
    ("message id at 255", lambda: one_message(message_id="w" * 255), True),
    ("message id at 256", lambda: one_message(message_id="w" * 256), False),
    ("text at 100000", lambda: one_message(text="a" * 100_000), True),
]


@pytest.mark.parametrize(("payload", "answered"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_that_provider_fields_at_and_beyond_their_columns_never_fail_a_turn(
    app: App, payload: Callable[[], dict[str, Any]], answered: bool
) -> None:
    response = await app.post(payload())
    assert response.status_code == 200
    await until(app.container, lambda: idle(app.container))
    inbound = [m for m in await app.rows(Message) if m.direction == "in"]
    if answered:
        assert [m.status for m in inbound] == ["processed"]
        assert app.graph.messages  # answered (a long echo goes out in several parts)
        (contact,) = await app.rows(Contact)
        assert contact.name is None or len(contact.name) <= 200
        assert contact.username is None or len(contact.username) <= 100
        # A phone is an E.164 number (at most 15 digits), not whatever wa_id was sent.
        assert contact.phone is None or len(contact.phone) <= 16
        assert all(len(i.value) <= 160 for i in await app.rows(ContactIdentity))
    else:
        assert inbound == []
        assert app.graph.messages == []
        kinds = [e.kind for e in await app.rows(ProviderEvent)]
        assert kinds == ["oversized_identifier"]


async def test_that_a_long_name_is_cut_to_fit(app: App) -> None:
    await app.post(one_message(name="Maria " + "M" * 400, username="u" * 300))
    await until(app.container, lambda: idle(app.container))
    (contact,) = await app.rows(Contact)
    assert contact.name == ("Maria " + "M" * 400)[:200]
    assert contact.username == "u" * 100
    assert contact.phone == f"+{PHONE}"


async def test_that_a_wa_id_longer_than_e164_is_no_phone(app: App) -> None:
    await app.post(one_message(wa_id=digits(32)))
    await until(app.container, lambda: idle(app.container))
    (contact,) = await app.rows(Contact)
    assert contact.phone is None
    assert [i.value for i in await app.rows(ContactIdentity)] == [digits(32)]


async def answered_once(app: App) -> Message:
    await app.post(webhook([text_message(PHONE, "oi")]))
    await until(app.container, lambda: idle(app.container))
    (out,) = [m for m in await app.rows(Message) if m.direction == "out"]
    assert out.status == "sent"
    return out


async def test_that_a_failed_status_with_a_long_code_costs_nothing_else(app: App) -> None:
    out = await answered_once(app)
    failed = status(str(out.provider_message_id), "failed")
    failed["errors"] = [{"code": "E" * 300, "title": "T" * 5000}]
    payload = webhook([text_message(PHONE, "segunda")], statuses=[failed])
    response = await app.post(payload)
    assert response.status_code == 200
    await until(app.container, lambda: idle(app.container))
    rows = {m.text: m for m in await app.rows(Message) if m.direction == "in"}
    assert rows["segunda"].status == "processed"
    first = next(m for m in await app.rows(Message) if m.id == out.id)
    assert first.status == "failed"
    assert first.error_code == "E" * 32
    assert first.error_title == "T" * 5000


async def test_that_a_send_error_with_a_long_code_fails_the_message_once(app: App) -> None:
    app.graph.script(Reply(400, {"error": {"message": "no", "type": "X", "code": "C" * 500}}))
    await app.post(webhook([text_message(PHONE, "oi")]))
    await until(app.container, lambda: idle(app.container))
    (out,) = [m for m in await app.rows(Message) if m.direction == "out"]
    assert out.status == "failed"
    assert out.error_code == "C" * 32
    (attempt,) = await app.rows(DeliveryAttempt)
    assert (attempt.outcome, attempt.error_code) == ("failed", "C" * 32)
    assert len(app.graph.messages) == 1


async def test_that_one_item_the_database_refuses_costs_no_other(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever makes the database refuse one item (here a row that breaks NOT NULL), the rest
    of the delivery is stored and answered, the refused item is kept as a provider event, and
    Meta gets a 200 (a 500 would make it redeliver the same failing payload for days)."""
    real_row = ingest_service._message_row

    def refused_for_poison(*args: Any) -> dict[str, Any]:
        row = real_row(*args)
        if row["text"] == "poison":
            row["direction"] = None
        return row

    monkeypatch.setattr(ingest_service, "_message_row", refused_for_poison)
    out = await answered_once(app)
    payload = webhook(
        [text_message("5511900000001", "poison"), text_message("5511900000002", "boa")],
        statuses=[status(str(out.provider_message_id), "delivered")],
    )
    response = await app.post(payload)
    assert response.status_code == 200
    await until(app.container, lambda: idle(app.container))
    texts = sorted(m.text for m in await app.rows(Message) if m.direction == "in")
    assert texts == ["boa", "oi"]
    assert [m.status for m in await app.rows(Message) if m.id == out.id] == ["delivered"]
    events = [e for e in await app.rows(ProviderEvent) if e.kind == "unstorable_message"]
    assert len(events) == 1
    assert events[0].payload["text"] == "poison"
    assert "eco: boa" in str([m.json for m in app.graph.messages])


# -- a turn that always fails: capped, visible, and later messages still answered --------------


async def test_that_a_turn_that_always_fails_gives_up_and_later_messages_are_answered(
    app: App,
) -> None:
    await app.post(webhook([text_message(PHONE, "veneno")]))
    await until(app.container, lambda: idle(app.container))
    (poisoned,) = [m for m in await app.rows(Message) if m.direction == "in"]
    assert poisoned.status == "failed"
    assert app.echo.turns == ["veneno"] * 3  # job_max_attempts
    notices = await app.rows(AdminNotice)
    assert [n.kind for n in notices] == ["turn_failed"]
    assert "veneno" not in notices[0].message  # no message body in a notice

    await app.post(webhook([text_message(PHONE, "oi de novo")]))
    await until(app.container, lambda: idle(app.container))
    assert app.echo.turns[-1] == "oi de novo"
    assert [m.json["text"]["body"] for m in app.graph.messages if m.json] == ["eco: oi de novo"]


# -- the 24-hour window: it follows the latest customer message, never a future one -----------


async def test_that_a_late_old_message_does_not_close_the_window(app: App) -> None:
    now = int(time.time())
    await app.post(webhook([text_message(PHONE, "agora", timestamp=now)]))
    await until(app.container, lambda: idle(app.container))
    late = text_message(PHONE, "de ontem", timestamp=now - 26 * 3600)
    await app.post(webhook([late]))
    await until(app.container, lambda: idle(app.container))
    outs = [m for m in await app.rows(Message) if m.direction == "out"]
    assert [m.status for m in outs] == ["sent", "sent"]
    (conversation,) = await app.rows(Conversation)
    assert conversation.last_inbound_at is not None
    assert conversation.last_inbound_at >= datetime.fromtimestamp(now, UTC)


@pytest.mark.parametrize("ahead", [timedelta(days=365), datetime(2999, 1, 1, tzinfo=UTC)])
async def test_that_a_future_timestamp_is_clamped_to_the_arrival(
    app: App, ahead: timedelta | datetime
) -> None:
    stamp = ahead if isinstance(ahead, datetime) else datetime.now(UTC) + ahead
    message = text_message(PHONE, "do futuro", timestamp=int(stamp.timestamp()))
    before = datetime.now(UTC)
    await app.post(webhook([message]))
    await until(app.container, lambda: idle(app.container))
    (inbound,) = [m for m in await app.rows(Message) if m.direction == "in"]
    assert inbound.provider_timestamp == inbound.created_at
    assert inbound.content["provider_timestamp_clamped"] == stamp.replace(microsecond=0).isoformat()
    (conversation,) = await app.rows(Conversation)
    assert conversation.last_inbound_at is not None
    assert before <= conversation.last_inbound_at <= datetime.now(UTC)


async def test_that_a_wamid_is_unique_even_when_posted_twice(app: App) -> None:
    # Guard for the cases above: the clipped columns never merge two distinct identifiers.
    first, second = "w" * 255, "w" * 254 + "x"
    await app.post(one_message(message_id=first))
    await app.post(one_message(message_id=second, text="outra"))
    await until(app.container, lambda: idle(app.container))
    ids = sorted(m.provider_message_id for m in await app.rows(Message) if m.direction == "in")
    assert ids == sorted([first, second])


class PoisonSend:
    """A sender that raises (not a provider error: a bug) for one reply, and delegates the rest."""

    def __init__(self, inner: ChannelSender) -> None:
        self.inner = inner
        self.poisoned = 0

    async def send(
        self, channel: ChannelRuntime, recipient: Recipient, content: OutboundContent
    ) -> SendResult:
        if isinstance(content, TextContent) and "explode" in content.body:
            self.poisoned += 1
            raise RuntimeError("this send always fails")
        return await self.inner.send(channel, recipient, content)

    async def mark_read(self, channel: ChannelRuntime, message_id: str, *, typing: bool) -> None:
        await self.inner.mark_read(channel, message_id, typing=typing)

    async def fetch_media(
        self, channel: ChannelRuntime, media_id: str, *, max_bytes: int
    ) -> FetchedMedia:
        return await self.inner.fetch_media(channel, media_id, max_bytes=max_bytes)


async def test_that_a_send_that_always_fails_gives_up_and_the_next_reply_goes_out(
    app: App,
) -> None:
    poison = PoisonSend(app.container.senders["whatsapp"])
    app.container.senders["whatsapp"] = poison
    await app.post(webhook([text_message(PHONE, "explode")]))
    await until(app.container, lambda: idle(app.container))
    (out,) = [m for m in await app.rows(Message) if m.direction == "out"]
    assert out.status == "failed"
    assert poison.poisoned == 3  # job_max_attempts
    await app.post(webhook([text_message(PHONE, "oi")]))
    await until(app.container, lambda: idle(app.container))
    assert [m.json["text"]["body"] for m in app.graph.messages if m.json] == ["eco: oi"]


@pytest.mark.parametrize("length", [64, 65, 1000])
async def test_that_event_kinds_beyond_their_column_are_cut(app: App, length: int) -> None:
    payload = webhook([text_message(PHONE, "oi")])
    payload["entry"][0]["changes"].append({"field": "k" * length, "value": {"x": 1}})
    payload["entry"][0]["changes"][0]["value"]["e" * length] = {"y": 2}
    response = await app.post(payload)
    assert response.status_code == 200
    kinds = sorted(e.kind for e in await app.rows(ProviderEvent))
    assert kinds == sorted(["k" * min(length, 64), ("messages." + "e" * length)[:64]])
    await until(app.container, lambda: idle(app.container))
    assert app.graph.messages


@pytest.mark.parametrize("length", [255, 256, 10_000])
async def test_that_a_status_for_an_unknown_long_id_is_kept(app: App, length: int) -> None:
    failed = status("s" * length, "failed")
    failed["errors"] = [{"code": "E" * 300, "title": "T" * 300}]
    payload = webhook([text_message(PHONE, "oi")], statuses=[failed])
    response = await app.post(payload)
    assert response.status_code == 200
    (event,) = await app.rows(ProviderEvent)
    assert (event.kind, event.payload["id"]) == ("status_unknown_message", "s" * length)
    await until(app.container, lambda: idle(app.container))
    assert app.graph.messages


@pytest.mark.parametrize("length", [64, 65, 5000])
async def test_that_a_request_id_of_any_length_is_stored_or_replaced(app: App, length: int) -> None:
    request_id = "r" * length
    response = await app.post(webhook([text_message(PHONE, "oi")]), **{"X-Request-ID": request_id})
    assert response.status_code == 200
    await until(app.container, lambda: idle(app.container))
    (inbound,) = [m for m in await app.rows(Message) if m.direction == "in"]
    assert inbound.correlation_id is not None
    assert (inbound.correlation_id == request_id) is (length <= 64)


async def test_that_a_kept_request_that_always_fails_to_resume_is_given_up(app: App) -> None:
    await answered_once(app)
    (conversation,) = await app.rows(Conversation)
    now = datetime.now(UTC)
    key = turn_key(conversation.channel_id, conversation.address)
    async with app.container.sessions() as session:
        session.add(
            DeferredRequest(
                tenant_id=conversation.tenant_id,
                kind=DeferredKind.turn.value,
                conversation_id=conversation.id,
                session_id=conversation.session_id,
                queue_key=key,
                payload={"step": {"do": "veneno"}},
                status=DeferredStatus.pending.value,
                next_attempt_at=now,
                created_at=now,
            )
        )
        await session.commit()
    await app.container.queue.enqueue(Job(RESUME, key, conversation.tenant_id))
    await until(app.container, lambda: deferred_settled(app))
    (row,) = await app.rows(DeferredRequest)
    assert row.status == "failed"
    assert row.last_error is not None
    assert "gave up" in row.last_error


async def test_that_a_kept_order_that_always_fails_is_given_up(app: App) -> None:
    (channel,) = [c for c in await app.rows(Channel) if c.kind == "whatsapp"]
    now = datetime.now(UTC)
    async with app.container.sessions() as session:
        row = DeferredRequest(
            tenant_id=channel.tenant_id,
            kind=DeferredKind.order.value,
            idempotency_key="pedido-1",
            # Not an order request at all: placing it raises, every time.
            payload={"itens": "nenhum"},
            status=DeferredStatus.pending.value,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(row)
        await session.commit()
    await app.container.queue.enqueue(Job(ORDER, row.id, channel.tenant_id))
    await until(app.container, lambda: deferred_settled(app))
    (stored,) = await app.rows(DeferredRequest)
    assert stored.status == "failed"
    assert stored.result == {"reason": "internal_error"}


async def deferred_settled(app: App) -> bool:
    return all(row.status != "pending" for row in await app.rows(DeferredRequest))
