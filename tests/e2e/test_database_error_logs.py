"""Database errors, however they are logged, carry none of the statement's values: no customer
name, message body, document, phone or e-mail, on either engine (issue 10, point 3)."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import Column, Table, insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.assistant.port import Action, Engine, Turn
from atende.channels.models import ProviderEvent
from atende.config import Settings
from atende.devtools.fake_graph import FakeGraph
from atende.kit.clock import utcnow
from atende.kit.db import Base
from atende.kit.logging import configure_logging, get_logger
from atende.main import Container
from tests.support.app import running, seed, signed
from tests.support.payloads import body, text_message, webhook
from tests.support.waiting import idle, until

NAME = "Maria Aparecida Souza"
BODY = "quero pagar o boleto da loja nova"
CPF = "529.982.247-25"
EMAIL = "maria.souza@exemplo.com.br"
PHONE = "5511987654321"
ALL_PII = f"{NAME} | {BODY} | {CPF} | {EMAIL} | {PHONE}"


def leaks(output: str) -> list[str]:
    needles = [NAME, "Aparecida", BODY, "boleto da loja", CPF, EMAIL, PHONE]
    found = [needle for needle in needles if needle in output]
    digits = re.sub(r"\D", "", output)
    found += [n for n in ("52998224725", "11987654321") if n in digits]
    return found


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(level="DEBUG", json=True, stream=stream)
    yield stream
    configure_logging(level="WARNING", json=False)


def _value(column: Column[Any]) -> Any:
    """Personal data in every column that can hold it; something plausible elsewhere."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return None
    if kind is str:
        return ALL_PII
    if kind is dict:
        return {"name": NAME, "text": BODY, "cpf": CPF, "email": EMAIL, "wa_id": PHONE}
    if kind is list:
        return [NAME, BODY, CPF]
    if kind is bool:
        return True
    if kind is int or kind is float:
        return 1
    if kind is bytes:
        return ALL_PII.encode()
    if kind is date:
        return date(2026, 1, 2)
    return utcnow() if "date" in kind.__name__.lower() else None


async def _failed_insert(sessions: async_sessionmaker[AsyncSession], table: Table) -> bool:
    row = {column.name: _value(column) for column in table.columns}
    async with sessions() as session:
        try:
            # The same row twice: a duplicate key at the latest, if nothing failed before (a
            # foreign key to no tenant, a value longer than its column).
            await session.execute(insert(table), [row, row])
            await session.commit()
        except SQLAlchemyError:
            log = get_logger("atende.tests.database")
            log.exception("database error", table=table.name)
            logging.getLogger("sqlalchemy.tests").error("database error", exc_info=True)
            return True
    return False


async def test_that_a_failed_statement_on_any_table_logs_none_of_its_values(
    container: Container, captured: io.StringIO
) -> None:
    tables = list(Base.metadata.sorted_tables)
    failed = [table.name for table in tables if await _failed_insert(container.sessions, table)]

    assert failed == [table.name for table in tables]  # every insert did fail
    output = captured.getvalue()
    assert output.count("database error") == 2 * len(tables)
    assert "IntegrityError" in output or "DBAPIError" in output  # the errors themselves are kept
    assert "[parameters:" not in output
    assert leaks(output) == []


class FailingWrite:
    """On the first turn, writes the customer's name and words into a row the database refuses,
    and fails with them in its own message, as a buggy tool might; then answers normally."""

    name = "failing-write"

    def __init__(self, inner: Engine, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.inner = inner
        self.sessions = sessions
        self.failed = False

    async def reply(self, turn: Turn) -> Sequence[Action]:
        if self.failed:
            return await self.inner.reply(turn)
        self.failed = True
        try:
            async with self.sessions() as session:
                await session.execute(
                    insert(ProviderEvent).values(
                        tenant_id="no-such-tenant",
                        channel_id="no-such-channel",
                        kind="note",
                        payload={"name": turn.contact_name, "text": turn.text},
                        created_at=turn.now,
                    )
                )
                await session.commit()
        except SQLAlchemyError as error:
            raise RuntimeError(f"could not note {turn.text!r} from {turn.contact_name}") from error
        raise AssertionError("the insert should have failed")


async def test_that_a_turn_failing_on_the_database_logs_no_name_nor_message(
    settings: Settings, graph: FakeGraph, captured: io.StringIO
) -> None:
    container = Container(settings)
    engine = FailingWrite(container.turns.engine, container.sessions)
    container.turns.engine = engine
    await seed(container, graph.url)
    raw = body(webhook([text_message(PHONE, BODY)], name=NAME))
    async with running(container) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.post(
            "/webhooks/whatsapp/acme-whatsapp", content=raw, headers=signed(raw)
        )
        assert response.status_code == 200

        async def answered() -> bool:
            return engine.failed and await idle(container)

        await until(container, answered, timeout=20)
    output = captured.getvalue()
    assert "job failed; retrying" in output
    assert "IntegrityError" in output  # the traceback is there, chained, without the values
    assert "could not note '[redacted]' from [redacted]" in output
    assert "[parameters:" not in output
    assert leaks(output) == []
