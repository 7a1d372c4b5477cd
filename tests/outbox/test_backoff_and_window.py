from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atende.channels.types import (
    Button,
    ButtonsContent,
    MediaContent,
    OutboundContent,
    Recipient,
    TemplateContent,
    TextContent,
)
from atende.outbox.sender import SendSettings, backoff, recipient_for
from atende.outbox.window import OUTSIDE_WINDOW, WINDOW, refusal

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SAMPLES = 200


def _ceiling(attempt: int, send: SendSettings) -> float:
    return min(send.backoff_max, send.backoff_base * 2 ** max(0, attempt - 1))


@pytest.mark.parametrize("attempt", range(1, 13))
def test_that_backoff_stays_within_half_and_full_ceiling(attempt: int) -> None:
    send = SendSettings(backoff_base=0.5, backoff_max=60.0)
    ceiling = _ceiling(attempt, send)

    delays = [backoff(attempt, send) for _ in range(SAMPLES)]

    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 1  # jittered, not a fixed delay


def test_that_backoff_doubles_per_attempt_then_caps_at_backoff_max() -> None:
    send = SendSettings(backoff_base=0.5, backoff_max=60.0)

    ranges = [
        (min(ds), max(ds))
        for ds in ([backoff(a, send) for _ in range(SAMPLES)] for a in range(1, 15))
    ]

    assert ranges[0][1] <= 0.5
    assert ranges[1][0] >= 0.5  # attempt 2 never shorter than attempt 1's ceiling
    assert ranges[6][0] >= 16.0  # attempt 7: ceiling 32
    for low, high in ranges[7:]:  # attempt 8 onwards: 64 capped to 60
        assert low >= 30.0
        assert high <= 60.0


def test_that_attempt_zero_is_treated_as_the_first() -> None:
    send = SendSettings(backoff_base=1.0, backoff_max=60.0)

    assert all(0.5 <= backoff(0, send) <= 1.0 for _ in range(SAMPLES))


@settings(max_examples=100, deadline=None, database=None)
@given(
    attempt=st.integers(1, 50),
    retry_after=st.floats(0.0, 3600.0, allow_nan=False),
)
def test_that_retry_after_is_a_floor_for_any_attempt(attempt: int, retry_after: float) -> None:
    send = SendSettings(backoff_base=0.5, backoff_max=60.0)

    delay = backoff(attempt, send, retry_after)

    assert delay >= retry_after
    assert delay <= max(retry_after, _ceiling(attempt, send))


def test_that_a_long_retry_after_overrides_the_jitter() -> None:
    send = SendSettings(backoff_base=0.5, backoff_max=60.0)

    assert backoff(1, send, retry_after=30.0) == 30.0


@pytest.mark.parametrize("retry_after", [None, 0.0])
def test_that_no_retry_after_leaves_the_jitter_alone(retry_after: float | None) -> None:
    send = SendSettings(backoff_base=0.5, backoff_max=60.0)

    assert all(0.25 <= backoff(1, send, retry_after) <= 0.5 for _ in range(SAMPLES))


@pytest.mark.parametrize("address", ["5511987654321", "551140028922"])
def test_that_a_digits_address_is_a_whatsapp_id(address: str) -> None:
    assert recipient_for(address) == Recipient(wa_id=address)


FULLWIDTH = "5511987654321".translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
ARABIC_INDIC = "5511987654321".translate({ord(d): 0x0660 + int(d) for d in "0123456789"})


@pytest.mark.parametrize("address", ["BR.1502576394655843", "US.1234", FULLWIDTH, ARABIC_INDIC])
def test_that_a_bsuid_address_is_a_business_scoped_id(address: str) -> None:
    assert recipient_for(address) == Recipient(bsuid=address)


async def _text() -> TextContent:
    return TextContent("Seu pedido saiu para entrega.")


async def _windowed_contents() -> list[OutboundContent]:
    return [
        await _text(),
        ButtonsContent("Posso ajudar?", (Button("sim", "Sim"), Button("nao", "Não"))),
        MediaContent("document", link="https://example.com/nota.pdf", filename="nota.pdf"),
    ]


@pytest.mark.parametrize(
    "ago", [timedelta(0), timedelta(minutes=5), timedelta(hours=23, minutes=59), WINDOW]
)
async def test_that_text_inside_the_24_hour_window_is_allowed(ago: timedelta) -> None:
    assert refusal("whatsapp", await _text(), NOW - ago, NOW) is None


@pytest.mark.parametrize(
    "ago", [WINDOW + timedelta(seconds=1), timedelta(hours=25), timedelta(days=30)]
)
async def test_that_free_form_content_after_24_hours_is_refused(ago: timedelta) -> None:
    for content in await _windowed_contents():
        assert refusal("whatsapp", content, NOW - ago, NOW) == OUTSIDE_WINDOW


async def test_that_free_form_content_is_refused_when_the_customer_never_wrote() -> None:
    reason = refusal("whatsapp", await _text(), None, NOW)

    assert reason == OUTSIDE_WINDOW
    assert "24-hour" in reason
    assert "template" in reason


@pytest.mark.parametrize("last_inbound", [None, NOW - timedelta(days=90), NOW])
async def test_that_a_template_is_always_allowed(last_inbound: datetime | None) -> None:
    template = TemplateContent("pedido_enviado", body_parameters=("Maria", "#123"))

    assert refusal("whatsapp", template, last_inbound, NOW) is None


@pytest.mark.parametrize("last_inbound", [None, NOW - timedelta(days=90)])
async def test_that_the_sandbox_channel_is_never_refused(last_inbound: datetime | None) -> None:
    for content in await _windowed_contents():
        assert refusal("sandbox", content, last_inbound, NOW) is None


@pytest.mark.parametrize("ahead", [timedelta(hours=1), timedelta(days=365)])
async def test_that_a_last_inbound_time_in_the_future_opens_no_window(ahead: timedelta) -> None:
    # Stored before provider stamps were clamped: nobody wrote from the future.
    assert refusal("whatsapp", await _text(), NOW + ahead, NOW) == OUTSIDE_WINDOW
