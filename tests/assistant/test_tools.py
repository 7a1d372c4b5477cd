"""The business tools against the demo ERP: data only for a verified customer, orders only
after a confirmation in a later turn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from atende.assistant.tools.core import BusinessTools, NotVerified, ToolContext, ToolError
from atende.assistant.tools.models import (
    AnswerChallenge,
    ConfirmOrder,
    IdentifyCustomer,
    OrderLine,
    OrderQuery,
    PrepareOrder,
    RecentOrders,
    RequestSecondCopy,
    StockQuery,
)
from atende.assistant.tools.verification import Challenge
from atende.connectors.demo import DemoErp, seed_demo_erp

MARIA_CPF = "529.982.247-25"
MARIA_PHONE = "+5511987654321"
STRANGER_PHONE = "+5531900000000"
TODAY = date(2026, 11, 22)


@pytest.fixture
async def erp(tmp_path: Path) -> AsyncIterator[DemoErp]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'erp.db'}"
    await seed_demo_erp(url, today=TODAY)
    demo = DemoErp(url, today=lambda: TODAY)
    yield demo
    await demo.aclose()


def tools_for(
    erp: DemoErp, phone: str | None, challenge: Challenge = Challenge.birth_date
) -> BusinessTools:
    return BusinessTools(
        ToolContext(
            tenant_id="t",
            conversation_id="conv-1",
            erp=erp,
            contact_phone=phone,
            challenge=challenge,
        )
    )


async def test_that_the_customers_own_phone_verifies_at_once(erp: DemoErp) -> None:
    tools = tools_for(erp, MARIA_PHONE)
    result = await tools.identify_customer(IdentifyCustomer(document="52998224725"))
    assert result.status == "verified"
    assert result.first_name == "Maria"
    titulos = await tools.open_titulos()
    assert {t.id for t in titulos.titulos} == {"TIT-1001", "TIT-1002"}


async def test_that_a_strangers_phone_cannot_see_anyones_data_by_typing_their_cpf(
    erp: DemoErp,
) -> None:
    tools = tools_for(erp, STRANGER_PHONE)
    result = await tools.identify_customer(IdentifyCustomer(document=MARIA_CPF))
    assert result.status == "challenge"
    assert result.first_name is None  # not even the name
    with pytest.raises(NotVerified):
        await tools.open_titulos()
    with pytest.raises(NotVerified):
        await tools.second_copy(RequestSecondCopy(titulo_id="TIT-1002"))
    with pytest.raises(NotVerified):
        await tools.recent_orders(RecentOrders())
    with pytest.raises(NotVerified):
        await tools.delivery_tracking(OrderQuery())


async def test_that_wrong_answers_lock_the_challenge(erp: DemoErp) -> None:
    tools = tools_for(erp, STRANGER_PHONE)
    await tools.identify_customer(IdentifyCustomer(document=MARIA_CPF))
    results = [await tools.answer_challenge(AnswerChallenge(answer="01/01/1990")) for _ in range(4)]
    assert [r.status for r in results] == ["wrong", "wrong", "locked", "locked"]
    again = await tools.identify_customer(IdentifyCustomer(document=MARIA_CPF))
    assert again.status == "locked"
    # Even the right answer does not open a locked challenge in this session.
    right = await tools.answer_challenge(AnswerChallenge(answer="12/04/1986"))
    assert right.status == "locked"
    with pytest.raises(NotVerified):
        await tools.open_titulos()


@pytest.mark.parametrize(
    ("challenge", "answer"),
    [(Challenge.birth_date, "nasci em 12/04/1986"), (Challenge.cep, "01310-100")],
)
async def test_that_the_right_challenge_answer_verifies_for_the_session(
    erp: DemoErp, challenge: Challenge, answer: str
) -> None:
    tools = tools_for(erp, None, challenge=challenge)  # a username user: no phone at all
    assert (await tools.identify_customer(IdentifyCustomer(document=MARIA_CPF))).status == (
        "challenge"
    )
    assert (await tools.answer_challenge(AnswerChallenge(answer=answer))).status == "verified"
    copy = await tools.second_copy(RequestSecondCopy(titulo_id="TIT-1002"))
    assert len(copy.linha_digitavel) == 47
    # Verification is for this customer only: another document is not covered by it.
    other = await tools.identify_customer(IdentifyCustomer(document="11.222.333/0001-81"))
    assert other.status == "challenge"


async def test_that_an_invalid_document_says_which_check_failed(erp: DemoErp) -> None:
    tools = tools_for(erp, MARIA_PHONE)
    result = await tools.identify_customer(IdentifyCustomer(document="529.982.247-24"))
    assert (result.status, result.reason) == ("invalid_document", "check_digits")


async def test_that_orders_and_tracking_come_from_the_erp(erp: DemoErp) -> None:
    tools = tools_for(erp, MARIA_PHONE)
    await tools.identify_customer(IdentifyCustomer(document=MARIA_CPF))
    orders = await tools.recent_orders(RecentOrders())
    assert {o.status for o in orders.orders} == {"processing", "shipped", "delivered"}
    tracking = await tools.delivery_tracking(OrderQuery())
    assert tracking.tracking_code == "BR123456789BR"
    with pytest.raises(ToolError) as missing:
        await tools.order_status(OrderQuery(order_id="PED-5101"))  # someone else's order
    assert missing.value.code == "not_found"


async def test_that_stock_needs_no_verification(erp: DemoErp) -> None:
    tools = tools_for(erp, STRANGER_PHONE)
    found = await tools.stock(StockQuery(sku="cam-003"))
    assert found.products[0].available is False


async def test_that_an_order_is_placed_only_after_a_confirmation_in_a_later_turn(
    erp: DemoErp,
) -> None:
    context_tools = tools_for(erp, MARIA_PHONE)
    ctx = context_tools.ctx
    await context_tools.identify_customer(IdentifyCustomer(document=MARIA_CPF))
    summary = await context_tools.prepare_order(
        PrepareOrder(items=[OrderLine(sku="CAM-001", quantity=2)])
    )
    assert summary.total_cents > 0
    with pytest.raises(ToolError) as same_turn:
        await context_tools.confirm_order(ConfirmOrder(summary_id=summary.summary_id))
    assert same_turn.value.code == "unconfirmed"
    ctx.turn_number += 1  # the customer answered "sim"
    placed = await context_tools.confirm_order(ConfirmOrder(summary_id=summary.summary_id))
    assert placed.status == "created"
    with pytest.raises(ToolError):  # the summary is used up: no second order
        await context_tools.confirm_order(ConfirmOrder(summary_id=summary.summary_id))
    product = await erp.get_product("CAM-001")
    assert product.stock == 23


async def test_that_an_order_beyond_the_stock_is_refused_politely(erp: DemoErp) -> None:
    tools = tools_for(erp, MARIA_PHONE)
    await tools.identify_customer(IdentifyCustomer(document=MARIA_CPF))
    with pytest.raises(ToolError) as error:
        await tools.prepare_order(PrepareOrder(items=[OrderLine(sku="CAM-003", quantity=1)]))
    assert error.value.code == "no_stock"


@pytest.mark.parametrize("written", ["PED-5002", "5002", "#5002", "ped5002"])
async def test_that_an_order_is_found_by_its_number_as_the_customer_writes_it(
    erp: DemoErp, written: str
) -> None:
    tools = tools_for(erp, MARIA_PHONE)
    await tools.identify_customer(IdentifyCustomer(document=MARIA_CPF))
    assert (await tools.order_status(OrderQuery(order_id=written))).id == "PED-5002"
    assert (await tools.delivery_tracking(OrderQuery(order_id=written))).id == "PED-5002"


async def test_that_a_number_that_is_not_the_customers_order_is_named_in_the_answer(
    erp: DemoErp,
) -> None:
    tools = tools_for(erp, MARIA_PHONE)
    await tools.identify_customer(IdentifyCustomer(document=MARIA_CPF))
    with pytest.raises(ToolError) as missing:
        await tools.delivery_tracking(OrderQuery(order_id="5101"))
    assert missing.value.code == "not_found"
    assert missing.value.message.startswith("Não encontrei o pedido 5101 no seu cadastro.")
