"""The business tools against the demo ERP: data only for a verified customer, orders only
after a confirmation in a later turn."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest

from atende.assistant.agent.toolbox import TOOLS
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
from atende.assistant.tools.verification import Challenge, ChallengePolicy
from atende.connectors.demo import DemoErp, seed_demo_erp
from atende.connectors.port import ConnectorError, ErpConnector

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
            challenge=ChallengePolicy.from_setting(challenge),
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


class CountingErp:
    """The demo ERP, counting the calls each method gets (a stranger must not be able to tell a
    customer's document from an unknown one by how much work the answer took)."""

    def __init__(self, erp: DemoErp) -> None:
        self._erp = erp
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._erp, name)
        if not callable(method):
            return method

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return method(*args, **kwargs)

        return counted


UNKNOWN_CPF = "111.444.777-35"  # valid check digits, not a customer of the demo
UNKNOWN_CNPJ = "11.444.777/0001-61"  # the demo shop's own CNPJ: valid, not a customer


async def _play_a_stranger(
    erp: DemoErp, document: str, policy: ChallengePolicy
) -> tuple[list[str], list[str]]:
    """Identify with ``document`` from a stranger's phone and answer wrong until locked, through
    the agent's tool runners; the JSON the model would see, and the ERP calls made."""
    counting = CountingErp(erp)
    tools = BusinessTools(
        ToolContext(
            tenant_id="t",
            conversation_id="c",
            erp=cast(ErpConnector, counting),
            contact_phone=None,
            challenge=policy,
        )
    )
    seen: list[str] = []

    async def call(name: str, arguments: dict[str, Any]) -> None:
        tool = TOOLS[name]
        assert tool.run is not None
        result = await tool.run(tools, tool.args.model_validate(arguments))
        seen.append(json.dumps(result.model_dump(mode="json"), ensure_ascii=False))

    await call("identify_customer", {"document": document})
    for _ in range(3):
        await call("answer_challenge", {"answer": "01/01/1990"})
    await call("identify_customer", {"document": document})
    await call("answer_challenge", {"answer": "01/01/1990"})
    return seen, counting.calls


@pytest.mark.parametrize(
    "policy",
    [
        ChallengePolicy(),
        ChallengePolicy(Challenge.invoice_amount, Challenge.invoice_amount),
    ],
)
@pytest.mark.parametrize(
    ("customer", "unknown"), [(MARIA_CPF, UNKNOWN_CPF), ("11.222.333/0001-81", UNKNOWN_CNPJ)]
)
async def test_that_a_stranger_cannot_tell_a_customers_document_from_an_unknown_one(
    erp: DemoErp, customer: str, unknown: str, policy: ChallengePolicy
) -> None:
    customers, customer_calls = await _play_a_stranger(erp, customer, policy)
    strangers, stranger_calls = await _play_a_stranger(erp, unknown, policy)
    assert customers == strangers
    assert customer_calls == stranger_calls
    assert json.loads(customers[0])["status"] == "challenge"
    assert [json.loads(r)["status"] for r in customers[1:]] == [
        "wrong",
        "wrong",
        "locked",
        "locked",
        "locked",
    ]


async def test_that_a_company_is_asked_for_its_cep_and_passes_with_it(erp: DemoErp) -> None:
    tools = tools_for(erp, STRANGER_PHONE)
    asked = await tools.identify_customer(IdentifyCustomer(document="11.222.333/0001-81"))
    assert asked.status == "challenge"
    assert asked.question is not None
    assert "CEP" in asked.question
    verified = await tools.answer_challenge(AnswerChallenge(answer="o cep é 20040-002"))
    assert verified.status == "verified"
    assert {t.id for t in (await tools.open_titulos()).titulos} == {"TIT-2001", "TIT-2002"}


async def test_that_a_company_may_be_asked_for_an_amount_only_it_knows(erp: DemoErp) -> None:
    policy = ChallengePolicy.from_setting({"company": "invoice_amount"})
    tools = tools_for(erp, STRANGER_PHONE)
    tools.ctx.challenge = policy
    asked = await tools.identify_customer(IdentifyCustomer(document="11.222.333/0001-81"))
    assert asked.question is not None
    assert "valor" in asked.question
    # A round guess, the CEP and another customer's amount do not pass; its boleto's does.
    answers = [
        (await tools.answer_challenge(AnswerChallenge(answer=wrong))).status
        for wrong in ("707", "20040-002", "184,85")
    ]
    assert answers == ["wrong", "wrong", "locked"]
    tools = tools_for(erp, STRANGER_PHONE)
    tools.ctx.challenge = policy
    await tools.identify_customer(IdentifyCustomer(document="11.222.333/0001-81"))
    right = await tools.answer_challenge(AnswerChallenge(answer="o boleto é de R$ 707,00"))
    assert right.status == "verified"


@pytest.mark.parametrize(
    ("setting", "person", "company"),
    [
        (None, Challenge.birth_date, Challenge.cep),
        ("birth_date", Challenge.birth_date, Challenge.cep),  # companies have no birth date
        ("cep", Challenge.cep, Challenge.cep),
        ({"person": "cep", "company": "cep"}, Challenge.cep, Challenge.cep),
        ({"company": "birth_date"}, Challenge.birth_date, Challenge.cep),
        ({"company": "invoice_amount"}, Challenge.birth_date, Challenge.invoice_amount),
        ("typo", Challenge.birth_date, Challenge.cep),
    ],
)
def test_that_the_challenge_setting_reads_both_forms(
    setting: object, person: Challenge, company: Challenge
) -> None:
    policy = ChallengePolicy.from_setting(setting)
    assert (policy.person, policy.company) == (person, company)


async def test_that_each_tool_says_what_it_did_not_find(erp: DemoErp) -> None:
    tools = tools_for(erp, MARIA_PHONE)
    await tools.identify_customer(IdentifyCustomer(document=MARIA_CPF))
    with pytest.raises(ToolError) as boleto:
        await tools.second_copy(RequestSecondCopy(titulo_id="TIT-2001"))  # the padaria's
    assert "boleto" in boleto.value.message
    with pytest.raises(ToolError) as product:
        await tools.stock(StockQuery(sku="XYZ-999"))
    assert product.value.code == "not_found"
    assert "cadastro" not in product.value.message
    assert "produto *XYZ-999*" in product.value.message


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


class BrokenErp:
    """An ERP that answers outside its contract (a connector's generic ConnectorError)."""

    def __getattr__(self, name: str) -> Any:
        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise ConnectorError("adapter answered 200 without a JSON body")

        return broken


async def test_that_an_erp_answering_outside_its_contract_is_a_tool_error_not_a_crash() -> None:
    tools = tools_for(cast(ErpConnector, BrokenErp()), None)
    with pytest.raises(ToolError) as raised:
        await tools.stock(StockQuery(query="caneca"))
    assert raised.value.code == "broken"
    assert "atendente" in raised.value.message
