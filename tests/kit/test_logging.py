from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime

import pytest
import structlog

from atende.kit.logging import configure_logging, get_logger

CPF = "529.982.247-25"
EMAIL = "maria.souza@example.com"
PHONE = "+55 11 98765-4321"
WA_ID = 5511987654321
RAW_PII = (CPF, "52998224725", EMAIL, "98765-4321", "5511987654321", "987654321")
_NOISY = ("aiosqlite", "asyncio", "hpack", "httpcore", "httpx")


def _ours(handler: logging.Handler) -> bool:
    # pytest attaches its own capture handlers per test phase; leave those to pytest.
    return not type(handler).__module__.startswith("_pytest")


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """A stream to configure logging with; the previous logging setup is restored afterwards."""
    root = logging.getLogger()
    handlers = [h for h in root.handlers if _ours(h)]
    level = root.level
    noisy = {name: logging.getLogger(name).level for name in _NOISY}
    was_configured = structlog.is_configured()
    config = structlog.get_config()

    yield io.StringIO()

    for handler in [h for h in root.handlers if _ours(h)]:
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, noisy_level in noisy.items():
        logging.getLogger(name).setLevel(noisy_level)
    if was_configured:
        structlog.configure(**config)
    else:
        structlog.reset_defaults()


def _emit_everything() -> None:
    log = get_logger("atende.tests.logging")
    with structlog.contextvars.bound_contextvars(phone=PHONE, correlation_id="9f8e7d6c5b4a3921"):
        log.info("customer wrote", cpf=CPF, email=EMAIL, nested={"wa_id": WA_ID, "ids": [WA_ID]})
        logging.getLogger("x").warning("cpf %s", CPF)
    try:
        raise RuntimeError(f"could not reach {EMAIL}")
    except RuntimeError:
        log.exception("send failed")
    try:
        raise ValueError(f"bad document {CPF}")
    except ValueError:
        logging.getLogger("x").exception("stdlib failed")


def _assert_no_raw_pii(output: str) -> None:
    for raw in RAW_PII:
        assert raw not in output, raw


def test_that_every_json_line_parses_and_carries_no_raw_pii(stream: io.StringIO) -> None:
    configure_logging(level="INFO", json=True, stream=stream)

    _emit_everything()

    output = stream.getvalue()
    _assert_no_raw_pii(output)
    lines = output.splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["event"] for e in events] == [
        "customer wrote",
        "cpf [cpf:…25]",
        "send failed",
        "stdlib failed",
    ]
    assert all(isinstance(e, dict) for e in events)


def test_that_json_lines_keep_context_logger_level_and_an_intact_timestamp(
    stream: io.StringIO,
) -> None:
    configure_logging(level="INFO", json=True, stream=stream)

    _emit_everything()

    first, stdlib, failed, stdlib_failed = (json.loads(x) for x in stream.getvalue().splitlines())
    # Bound context reaches structlog and stdlib records alike, masked; hex ids are untouched.
    assert first["correlation_id"] == "9f8e7d6c5b4a3921"
    assert stdlib["correlation_id"] == "9f8e7d6c5b4a3921"
    assert first["phone"].startswith("[phone:")
    assert stdlib["phone"].startswith("[phone:")
    assert first["email"] == "[email]"
    assert first["nested"]["wa_id"].startswith("[phone:")
    assert first["logger"] == "atende.tests.logging"
    assert stdlib["logger"] == "x"
    assert (first["level"], stdlib["level"], failed["level"]) == ("info", "warning", "error")
    assert datetime.fromisoformat(first["timestamp"].replace("Z", "+00:00")).tzinfo is not None
    # Tracebacks are rendered into the line, masked.
    assert "RuntimeError: could not reach [email]" in failed["exception"]
    assert "ValueError: bad document [cpf:…25]" in stdlib_failed["exception"]
    assert "correlation_id" not in failed  # the context ended with the with-block


def test_that_the_console_renderer_also_masks(stream: io.StringIO) -> None:
    configure_logging(level="INFO", json=False, stream=stream)

    _emit_everything()

    output = stream.getvalue()
    _assert_no_raw_pii(output)
    assert "customer wrote" in output
    assert "[cpf:…25]" in output
    assert "RuntimeError: could not reach [email]" in output
    assert "\x1b[" not in output  # no colours when writing to a given stream
    with pytest.raises(json.JSONDecodeError):
        json.loads(output.splitlines()[0])


def test_that_records_below_the_level_are_dropped(stream: io.StringIO) -> None:
    configure_logging(level="WARNING", json=True, stream=stream)
    log = get_logger("atende.tests.logging")

    log.info("quiet")
    logging.getLogger("x").info("quiet too")
    log.warning("loud")

    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == ["loud"]


def test_that_noisy_libraries_are_raised_to_warning(stream: io.StringIO) -> None:
    configure_logging(level="DEBUG", json=True, stream=stream)

    logging.getLogger("httpx").info("HTTP Request: GET /")
    logging.getLogger("atende.x").debug("kept")

    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == ["kept"]


def test_that_configuring_twice_leaves_a_single_handler(stream: io.StringIO) -> None:
    configure_logging(level="INFO", json=True, stream=io.StringIO())
    configure_logging(level="INFO", json=True, stream=stream)

    get_logger("atende.tests.logging").info("once")

    assert len([h for h in logging.getLogger().handlers if _ours(h)]) == 1
    assert len(stream.getvalue().splitlines()) == 1


@pytest.mark.parametrize("json_lines", [True, False])
def test_that_an_all_digit_correlation_id_is_not_masked_as_a_phone(
    stream: io.StringIO, json_lines: bool
) -> None:
    configure_logging(level="INFO", json=json_lines, stream=stream)
    log = get_logger("atende.tests.logging")

    with structlog.contextvars.bound_contextvars(correlation_id="20261207190000123"):
        log.info("turn done", phone=PHONE)
        logging.getLogger("x").warning("stdlib line")

    output = stream.getvalue()
    assert output.count("20261207190000123") == 2
    assert "98765-4321" not in output
