"""Downloading media customers sent: GraphClient against the FakeGraph over real HTTP.

Meta's flow has two steps (a lookup by media id answers a short-lived URL, then the URL serves
the bytes), both with the channel's token; these tests drive both through the fake.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from atende.channels.sandbox.sender import SandboxSender
from atende.channels.types import ChannelRuntime, FetchedMedia, MediaFetchError, SendError
from atende.channels.whatsapp.client import GraphClient
from atende.channels.whatsapp.sender import WhatsAppSender
from atende.devtools.fake_graph import FakeGraph, Reply

TOKEN = "EAAG-media-token"
PHONE_NUMBER_ID = "106540352242922"
MEDIA_ID = "1234567890123456"
#: Starts like an Ogg/Opus voice note; the content itself does not matter to the client.
VOICE = b"OggS\x00\x02" + bytes(range(256)) * 40
VOICE_TYPE = "audio/ogg; codecs=opus"


@pytest.fixture
async def fake() -> AsyncIterator[FakeGraph]:
    async with FakeGraph(access_token=TOKEN) as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[GraphClient]:
    graph = GraphClient(timeout_seconds=5.0)
    yield graph
    await graph.close()


def channel_for(fake: FakeGraph, *, token: str = TOKEN) -> ChannelRuntime:
    return ChannelRuntime(
        id="ch_1",
        tenant_id="t_1",
        slug="loja",
        kind="whatsapp",
        config={"phone_number_id": PHONE_NUMBER_ID, "graph_url": fake.url},
        secrets={"access_token": token},
    )


async def fetch_error(
    client: GraphClient, channel: ChannelRuntime, media_id: str = MEDIA_ID, max_bytes: int = 10**6
) -> SendError:
    with pytest.raises(SendError) as caught:
        await client.download_media(channel, media_id, max_bytes=max_bytes)
    return caught.value


# -- success ----------------------------------------------------------------------------------


async def test_download_follows_meta_two_steps_with_the_token_and_verifies_sha256(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.add_media(MEDIA_ID, VOICE, VOICE_TYPE)

    media = await client.download_media(channel_for(fake), MEDIA_ID, max_bytes=len(VOICE))

    assert media == FetchedMedia(
        data=VOICE,
        mime_type=VOICE_TYPE,
        filename=None,
        sha256=hashlib.sha256(VOICE).hexdigest(),
    )
    [lookup] = fake.media_lookups
    [download] = fake.downloads
    assert lookup.path == f"/v23.0/{MEDIA_ID}"
    assert download.path.startswith("/media-download/")
    assert lookup.header("Authorization") == f"Bearer {TOKEN}"
    assert download.header("Authorization") == f"Bearer {TOKEN}"
    assert (lookup.status, download.status) == (200, 200)


async def test_filename_comes_from_the_download_and_a_base64_checksum_is_accepted(
    fake: FakeGraph, client: GraphClient
) -> None:
    data = b"%PDF-1.7 comprovante"
    # Webhooks carry the checksum base64-encoded; lookups hex-encoded. Both must verify.
    checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
    fake.add_media("42", data, "application/pdf", filename="comprovante.pdf", sha256=checksum)

    media = await client.download_media(channel_for(fake), "42", max_bytes=1024)

    assert media.data == data
    assert media.filename == "comprovante.pdf"
    assert media.sha256 == checksum


async def test_media_bytes_stay_out_of_repr(fake: FakeGraph, client: GraphClient) -> None:
    fake.add_media(MEDIA_ID, b"segredo-do-cliente", "audio/ogg")

    media = await client.download_media(channel_for(fake), MEDIA_ID, max_bytes=1024)

    assert "segredo" not in repr(media)


async def test_whatsapp_sender_fetches_media_through_its_client(fake: FakeGraph) -> None:
    fake.add_media(MEDIA_ID, VOICE, VOICE_TYPE)
    sender = WhatsAppSender(GraphClient(timeout_seconds=5.0))
    try:
        media = await sender.fetch_media(channel_for(fake), MEDIA_ID, max_bytes=len(VOICE))
    finally:
        await sender.close()

    assert media.data == VOICE


async def test_sandbox_sender_has_no_media() -> None:
    channel = ChannelRuntime(
        id="ch_s", tenant_id="t_1", slug="demo-sandbox", kind="sandbox", config={}, secrets={}
    )

    with pytest.raises(MediaFetchError) as caught:
        await SandboxSender().fetch_media(channel, MEDIA_ID, max_bytes=1024)

    assert caught.value.reason == MediaFetchError.NOT_SUPPORTED
    assert caught.value.transient is False


# -- the provider refuses ---------------------------------------------------------------------


async def test_wrong_token_is_meta_401_and_permanent(fake: FakeGraph, client: GraphClient) -> None:
    fake.add_media(MEDIA_ID, VOICE, VOICE_TYPE)

    error = await fetch_error(client, channel_for(fake, token="EAAG-wrong"))

    assert (error.http_status, error.code, error.transient) == (401, "190", False)
    assert "EAAG" not in str(error)
    assert fake.downloads == []


async def test_unknown_media_id_is_meta_unknown_object_error(
    fake: FakeGraph, client: GraphClient
) -> None:
    error = await fetch_error(client, channel_for(fake), media_id="999")

    assert (error.http_status, error.code, error.transient) == (400, "100", False)
    assert "subcode 33" in str(error)
    assert not isinstance(error, MediaFetchError)


async def test_expired_download_url_is_a_permanent_404_without_the_url(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.add_media(MEDIA_ID, VOICE, VOICE_TYPE)
    fake.media_url_ttl = 0.0  # every URL has expired by the time it is used

    error = await fetch_error(client, channel_for(fake))

    assert (error.http_status, error.transient) == (404, False)
    [download] = fake.downloads
    token = download.path.rsplit("/", 1)[1]
    assert token not in str(error)


async def test_download_5xx_is_transient(fake: FakeGraph, client: GraphClient) -> None:
    fake.add_media(MEDIA_ID, VOICE, VOICE_TYPE)
    fake.script_media_download(Reply(503, raw=b"<html>busy</html>", headers={"Retry-After": "2"}))

    error = await fetch_error(client, channel_for(fake))

    assert (error.http_status, error.transient, error.retry_after) == (503, True, 2.0)


async def test_throttled_lookup_is_transient(fake: FakeGraph, client: GraphClient) -> None:
    fake.add_media(MEDIA_ID, VOICE, VOICE_TYPE)
    fake.script_media_info(Reply.meta_error(400, 4, "(#4) Application request limit reached"))

    error = await fetch_error(client, channel_for(fake))

    assert (error.code, error.transient) == ("4", True)
    assert fake.downloads == []


async def test_stalled_download_is_a_transient_timeout(fake: FakeGraph) -> None:
    fake.add_media(MEDIA_ID, VOICE, VOICE_TYPE)
    fake.script_media_download(Reply(200, delay=30.0))
    graph = GraphClient(timeout_seconds=0.2)
    try:
        error = await fetch_error(graph, channel_for(fake))
    finally:
        await graph.close()

    assert error.transient is True
    assert "timed out" in str(error)


# -- what the client refuses ------------------------------------------------------------------


async def test_file_declared_too_large_is_refused_before_downloading(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.add_media(MEDIA_ID, VOICE, VOICE_TYPE)

    error = await fetch_error(client, channel_for(fake), max_bytes=len(VOICE) - 1)

    assert isinstance(error, MediaFetchError)
    assert (error.reason, error.transient) == (MediaFetchError.TOO_LARGE, False)
    assert fake.downloads == []


async def test_content_length_above_the_limit_is_refused_even_if_the_lookup_lied(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.add_media(MEDIA_ID, VOICE, VOICE_TYPE, file_size=10)

    error = await fetch_error(client, channel_for(fake), max_bytes=100)

    assert isinstance(error, MediaFetchError)
    assert error.reason == MediaFetchError.TOO_LARGE
    assert len(fake.downloads) == 1


async def test_chunked_body_beyond_the_limit_stops_the_download(
    fake: FakeGraph, client: GraphClient
) -> None:
    """Without a Content-Length the client counts bytes and hangs up past the limit."""
    sent: list[int] = []

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "audio/ogg"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for _ in range(1000):  # 64 MiB if nobody stopped reading
                await response.write(b"\x00" * 65536)
                sent.append(65536)
        except (ConnectionError, aiohttp.ClientConnectionResetError):
            pass
        return response

    app = web.Application()
    app.router.add_get("/stream", endless)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.add_media(MEDIA_ID, b"", "audio/ogg")
    fake.script_media_info(Reply(200, _lookup_body(f"http://127.0.0.1:{port}/stream")))
    try:
        error = await fetch_error(client, channel_for(fake), max_bytes=200_000)
    finally:
        await runner.cleanup()

    assert isinstance(error, MediaFetchError)
    assert error.reason == MediaFetchError.TOO_LARGE
    assert sum(sent) < 1000 * 65536


async def test_checksum_mismatch_is_refused(fake: FakeGraph, client: GraphClient) -> None:
    fake.add_media(MEDIA_ID, VOICE, VOICE_TYPE, sha256=hashlib.sha256(b"other").hexdigest())

    error = await fetch_error(client, channel_for(fake))

    assert isinstance(error, MediaFetchError)
    assert (error.reason, error.transient) == (MediaFetchError.CHECKSUM_MISMATCH, False)


async def test_lookup_without_url_is_an_invalid_response(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.add_media(MEDIA_ID, VOICE, VOICE_TYPE)
    fake.script_media_info(Reply(200, {"id": MEDIA_ID, "messaging_product": "whatsapp"}))

    error = await fetch_error(client, channel_for(fake))

    assert isinstance(error, MediaFetchError)
    assert error.reason == MediaFetchError.INVALID_RESPONSE


@pytest.mark.parametrize("media_id", ["", "../../100/messages", "12?fields=url", "a b"])
async def test_something_that_is_not_a_media_id_never_reaches_the_network(
    fake: FakeGraph, client: GraphClient, media_id: str
) -> None:
    error = await fetch_error(client, channel_for(fake), media_id=media_id)

    assert isinstance(error, MediaFetchError)
    assert error.reason == MediaFetchError.INVALID_MEDIA_ID
    assert fake.requests == []


# -- the fake itself --------------------------------------------------------------------------


async def test_fake_download_urls_refuse_anonymous_and_wrong_tokens(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.add_media(MEDIA_ID, VOICE, VOICE_TYPE)
    async with aiohttp.ClientSession() as session:
        async with session.get(
            f"{fake.url}/v23.0/{MEDIA_ID}", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as response:
            url = (await response.json())["url"]
        async with session.get(url) as anonymous:
            assert anonymous.status == 401
        async with session.get(url, headers={"Authorization": "Bearer EAAG-wrong"}) as wrong:
            assert wrong.status == 401
        async with session.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) as right:
            assert right.status == 200
            assert await right.read() == VOICE


async def test_fake_clear_forgets_download_urls_but_keeps_registered_media(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.add_media(MEDIA_ID, VOICE, VOICE_TYPE)
    await client.download_media(channel_for(fake), MEDIA_ID, max_bytes=len(VOICE))

    fake.clear()

    assert fake.requests == []
    media = await client.download_media(channel_for(fake), MEDIA_ID, max_bytes=len(VOICE))
    assert media.data == VOICE


def _lookup_body(url: str) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "id": MEDIA_ID, "url": url, "mime_type": "audio/ogg"}
