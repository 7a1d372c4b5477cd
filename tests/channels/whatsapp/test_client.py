"""The Graph API client against a real HTTP server: the local FakeGraph."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from atende.channels.types import (
    ChannelRuntime,
    Recipient,
    SendError,
    SendResult,
    TextContent,
)
from atende.channels.whatsapp.client import GraphClient
from atende.channels.whatsapp.payloads import PayloadLimitError, build_message
from atende.channels.whatsapp.sender import WhatsAppSender
from atende.devtools.fake_graph import FakeGraph, Reply

TOKEN = "EAAG-test-token"
PHONE_NUMBER_ID = "106540352242922"
CUSTOMER = "5511999990000"


@pytest.fixture
async def fake() -> AsyncIterator[FakeGraph]:
    async with FakeGraph(access_token=TOKEN) as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[GraphClient]:
    graph = GraphClient(timeout_seconds=5.0)
    yield graph
    await graph.close()


def channel_for(fake: FakeGraph, *, token: str = TOKEN, **config: Any) -> ChannelRuntime:
    return ChannelRuntime(
        id="ch_1",
        tenant_id="t_1",
        slug="loja",
        kind="whatsapp",
        config={"phone_number_id": PHONE_NUMBER_ID, "graph_url": fake.url, **config},
        secrets={"access_token": token},
    )


def text_payload(body: str = "Olá!") -> dict[str, Any]:
    return build_message(Recipient(wa_id=CUSTOMER), TextContent(body))


async def send_error(client: GraphClient, channel: ChannelRuntime) -> SendError:
    with pytest.raises(SendError) as caught:
        await client.post_message(channel, text_payload())
    return caught.value


# -- success ----------------------------------------------------------------------------------


async def test_post_message_returns_the_wamid_and_sends_exact_json_with_bearer_token(
    fake: FakeGraph, client: GraphClient
) -> None:
    payload = text_payload("Seu pedido saiu para entrega")

    wamid = await client.post_message(channel_for(fake), payload)

    assert wamid.startswith("wamid.")
    [recorded] = fake.messages
    assert recorded.json == payload
    assert recorded.header("Authorization") == f"Bearer {TOKEN}"
    assert recorded.path == f"/v23.0/{PHONE_NUMBER_ID}/messages"
    assert recorded.status == 200
    assert recorded.message_id == wamid


async def test_api_version_comes_from_channel_config(fake: FakeGraph, client: GraphClient) -> None:
    await client.post_message(channel_for(fake, api_version="v24.0"), text_payload())
    assert fake.messages[0].path == f"/v24.0/{PHONE_NUMBER_ID}/messages"


async def test_each_send_gets_a_unique_wamid(fake: FakeGraph, client: GraphClient) -> None:
    channel = channel_for(fake)
    ids = {await client.post_message(channel, text_payload()) for _ in range(5)}
    assert len(ids) == 5


async def test_hundreds_of_concurrent_sends_all_succeed(fake: FakeGraph) -> None:
    fake.latency = 0.05
    graph = GraphClient(timeout_seconds=10.0, max_connections=100)
    try:
        channel = channel_for(fake)
        ids = await asyncio.gather(
            *(graph.post_message(channel, text_payload(f"msg {i}")) for i in range(300))
        )
    finally:
        await graph.close()
    assert len(set(ids)) == 300
    assert len(fake.messages) == 300


async def test_mark_read_with_typing_sends_the_typing_indicator(
    fake: FakeGraph, client: GraphClient
) -> None:
    await client.mark_read(channel_for(fake), "wamid.INBOUND1", typing=True)

    assert fake.messages == []
    [read] = fake.reads
    assert read.json == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.INBOUND1",
        "typing_indicator": {"type": "text"},
    }


async def test_mark_read_without_typing_sends_no_typing_indicator(
    fake: FakeGraph, client: GraphClient
) -> None:
    await client.mark_read(channel_for(fake), "wamid.INBOUND1", typing=False)
    assert fake.reads[0].json == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.INBOUND1",
    }


async def test_upload_media_returns_the_media_id_and_sends_multipart(
    fake: FakeGraph, client: GraphClient
) -> None:
    data = b"%PDF-1.7 fake boleto"

    media_id = await client.upload_media(channel_for(fake), data, "application/pdf", "boleto.pdf")

    assert media_id.isdigit()
    assert fake.uploaded[media_id] == data
    [upload] = fake.uploads
    assert upload.path == f"/v23.0/{PHONE_NUMBER_ID}/media"
    assert upload.header("Authorization") == f"Bearer {TOKEN}"
    assert upload.form == {
        "messaging_product": "whatsapp",
        "type": "application/pdf",
        "file": {"filename": "boleto.pdf", "content_type": "application/pdf", "size": len(data)},
    }


# -- errors -----------------------------------------------------------------------------------


async def test_server_error_is_transient_with_status_and_meta_code(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.script(Reply.meta_error(500, 131000, "Something went wrong"))

    error = await send_error(client, channel_for(fake))

    assert error.transient is True
    assert error.http_status == 500
    assert error.code == "131000"
    assert "Something went wrong" in error.detail


async def test_server_error_without_json_body_is_transient(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.script(Reply(502, raw=b"<html>Bad Gateway</html>", headers={"Content-Type": "text/html"}))

    error = await send_error(client, channel_for(fake))

    assert error.transient is True
    assert error.http_status == 502
    assert error.code is None


async def test_429_is_transient_with_retry_after_seconds(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.script(Reply.meta_error(429, 80007, "Rate limit issues", headers={"Retry-After": "7"}))

    error = await send_error(client, channel_for(fake))

    assert error.transient is True
    assert error.http_status == 429
    assert error.code == "80007"
    assert error.retry_after == 7.0


async def test_retry_after_as_http_date_becomes_seconds(
    fake: FakeGraph, client: GraphClient
) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    fake.script(
        Reply.meta_error(429, 4, "Application request limit reached", headers={"Retry-After": when})
    )

    error = await send_error(client, channel_for(fake))

    assert error.retry_after is not None
    assert 50 <= error.retry_after <= 60


async def test_429_without_retry_after_leaves_it_unset(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.script(Reply.meta_error(429, 130429, "Rate limit hit"))
    error = await send_error(client, channel_for(fake))
    assert error.transient is True
    assert error.retry_after is None


async def test_re_engagement_error_is_permanent_with_its_code(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.script(
        Reply.meta_error(
            400,
            131047,
            "Re-engagement message",
            details="More than 24 hours have passed since the recipient last replied.",
        )
    )

    error = await send_error(client, channel_for(fake))

    assert error.transient is False
    assert error.http_status == 400
    assert error.code == "131047"
    assert "Re-engagement message" in error.detail
    assert "24 hours" in error.detail


@pytest.mark.parametrize("code", [4, 80007, 130429, 131048, 131056])
async def test_rate_limit_codes_sent_with_400_are_transient(
    fake: FakeGraph, client: GraphClient, code: int
) -> None:
    fake.script(Reply.meta_error(400, code, "rate limit hit"))

    error = await send_error(client, channel_for(fake))

    assert error.transient is True
    assert error.http_status == 400
    assert error.code == str(code)


async def test_reply_slower_than_client_timeout_is_a_transient_timeout(fake: FakeGraph) -> None:
    fake.script(Reply(200, delay=30.0))
    graph = GraphClient(timeout_seconds=0.2)
    try:
        error = await send_error(graph, channel_for(fake))
    finally:
        await graph.close()

    assert error.transient is True
    assert error.http_status is None
    assert "timed out" in error.detail


async def test_unreachable_server_is_transient(client: GraphClient) -> None:
    stopped = FakeGraph()
    await stopped.start()
    channel = channel_for(stopped)
    await stopped.stop()

    error = await send_error(client, channel)

    assert error.transient is True
    assert error.http_status is None
    assert "unreachable" in error.detail


async def test_wrong_token_is_permanent_401_with_code_190(
    fake: FakeGraph, client: GraphClient
) -> None:
    error = await send_error(client, channel_for(fake, token="EAAG-wrong"))

    assert error.transient is False
    assert error.http_status == 401
    assert error.code == "190"
    assert fake.messages[0].status == 401


async def test_success_status_with_unparsable_body_is_permanent(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.script(Reply(200, raw=b"this is not json"))

    error = await send_error(client, channel_for(fake))

    assert error.transient is False
    assert error.http_status == 200


async def test_success_without_message_id_is_permanent(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.script(Reply(200, body={"messaging_product": "whatsapp", "messages": []}))
    error = await send_error(client, channel_for(fake))
    assert error.transient is False


async def test_malformed_payload_is_refused_by_the_fake_like_meta(
    fake: FakeGraph, client: GraphClient
) -> None:
    payload = {"messaging_product": "whatsapp", "to": CUSTOMER, "text": {"body": "oi"}}

    with pytest.raises(SendError) as caught:
        await client.post_message(channel_for(fake), payload)

    assert caught.value.transient is False
    assert caught.value.code == "100"
    assert "type is required" in caught.value.detail


async def test_channel_without_access_token_fails_permanently_without_a_request(
    fake: FakeGraph, client: GraphClient
) -> None:
    error = await send_error(client, channel_for(fake, token=""))
    assert error.transient is False
    assert fake.requests == []


async def test_errors_never_reveal_the_token_or_the_recipient(
    fake: FakeGraph,
    client: GraphClient,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.script(
        Reply.meta_error(400, 131047, "Re-engagement message"),
        Reply.meta_error(500, 131000, "Something went wrong"),
    )
    errors = [await send_error(client, channel_for(fake)) for _ in range(2)]

    captured = capsys.readouterr()
    for text in [*(str(e) for e in errors), captured.out, captured.err, caplog.text]:
        assert TOKEN not in text
        assert CUSTOMER not in text


async def test_client_reopens_its_pool_after_close(fake: FakeGraph, client: GraphClient) -> None:
    channel = channel_for(fake)
    await client.post_message(channel, text_payload())
    await client.close()
    await client.post_message(channel, text_payload())
    assert len(fake.messages) == 2


# -- the sender -------------------------------------------------------------------------------


async def test_sender_sends_content_and_returns_the_provider_message_id(
    fake: FakeGraph,
) -> None:
    sender = WhatsAppSender(GraphClient(timeout_seconds=5.0))
    try:
        result = await sender.send(
            channel_for(fake), Recipient(bsuid="BR.1502576394655843"), TextContent("Oi!")
        )
        await sender.mark_read(channel_for(fake), "wamid.IN", typing=False)
    finally:
        await sender.close()

    assert result == SendResult(fake.messages[0].message_id or "")
    assert fake.messages[0].json is not None
    assert fake.messages[0].json["recipient"] == "BR.1502576394655843"
    assert len(fake.reads) == 1


async def test_sender_refuses_text_over_4096_characters_without_a_request(
    fake: FakeGraph,
) -> None:
    sender = WhatsAppSender()
    try:
        with pytest.raises(PayloadLimitError):
            await sender.send(channel_for(fake), Recipient(wa_id=CUSTOMER), TextContent("a" * 4097))
    finally:
        await sender.close()
    assert fake.requests == []


# -- the fake itself --------------------------------------------------------------------------


async def test_scripted_replies_are_consumed_in_order_then_sends_succeed(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.script(Reply.meta_error(500, 131000, "boom"), Reply.meta_error(429, 130429, "slow"))
    channel = channel_for(fake)

    first = await send_error(client, channel)
    second = await send_error(client, channel)
    third = await client.post_message(channel, text_payload())

    assert (first.http_status, second.http_status) == (500, 429)
    assert third.startswith("wamid.")
    assert [m.status for m in fake.messages] == [500, 429, 200]


async def test_wait_for_messages_returns_once_enough_messages_arrived(
    fake: FakeGraph, client: GraphClient
) -> None:
    channel = channel_for(fake)
    waiter = asyncio.create_task(fake.wait_for_messages(3, timeout=5.0))
    await asyncio.gather(*(client.post_message(channel, text_payload()) for _ in range(3)))

    received = await waiter

    assert len(received) == 3


async def test_wait_for_messages_times_out_when_fewer_arrive(
    fake: FakeGraph, client: GraphClient
) -> None:
    await client.post_message(channel_for(fake), text_payload())

    with pytest.raises(TimeoutError, match=r"expected at least 2 messages within 0\.2s, got 1"):
        await fake.wait_for_messages(2, timeout=0.2)


async def test_wait_for_returns_the_predicate_value(fake: FakeGraph, client: GraphClient) -> None:
    waiter = asyncio.create_task(fake.wait_for(lambda f: f.reads, timeout=5.0))
    await client.mark_read(channel_for(fake), "wamid.X", typing=False)

    reads = await waiter

    assert [r.json["message_id"] for r in reads if r.json] == ["wamid.X"]


async def test_fake_answers_unknown_paths_with_a_meta_error(
    fake: FakeGraph, client: GraphClient
) -> None:
    channel = channel_for(fake, graph_url=fake.url + "/wrong")
    error = await send_error(client, channel)
    assert error.code == "100"
    assert fake.requests[0].kind == "other"
