"""Corrections to an order sent while the CPF is awaited, and an order sent with a greeting and
the CPF in one message, played with the offline engine as `atende test` plays scripts.

Not in `scenarios/`: the fake model's stand-in (`devtools/fake_llm/orders.py`) does not read a
correction sent after its CPF question, and every script there must pass with it too."""

from __future__ import annotations

import pytest

from atende.demo import seed_demo
from atende.main import Container
from atende.scenarios import ScriptRunner

SCRIPTS = {
    "o cliente repete o código, muda a quantidade e diz isso antes de mandar o CPF": """
phone: "+55 11 98765-4321"
steps:
  - customer: "quero pedir 3 cafe moido"
    expect:
      say: ["CPF ou CNPJ"]
  - customer: "CAF-002"
    expect:
      say: ["3x CAF-002", "CPF ou CNPJ"]
      not_say: ["em estoque", "qual produto"]
  - customer: "na verdade quero 5"
    expect:
      say: ["5x CAF-002", "CPF ou CNPJ"]
      not_say: ["catálogo"]
  - customer: "isso"
    expect:
      say: ["CPF ou CNPJ"]
      not_say: ["Como posso ajudar"]
  - customer: "529.982.247-25"
    expect:
      say: ["Resumo do pedido", "5x Café Moído Tradicional 500 g"]
  - customer: "isso"
    expect:
      say: ["registrado"]
      call: [confirm_order]
""",
    "cumprimento, pedido e CPF na mesma mensagem": """
phone: "+55 11 98765-4321"
steps:
  - customer: "oi td bem? queria 2 canecas termicas e meu cpf eh 52998224725"
    expect:
      say: ["Resumo do pedido", "2x Caneca Térmica Inox 500 ml"]
      not_say: ["Como posso ajudar"]
  - customer: "sim pfv"
    expect:
      say: ["registrado"]
      call: [confirm_order]
""",
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
async def test_that_the_order_survives_what_customers_send_around_the_cpf(
    container: Container, name: str
) -> None:
    await seed_demo(container.sessions, container.box, container.settings)
    await container.start_workers(recover_pending=False)
    result = await ScriptRunner(container).run_script(name, f"name: {name}\n" + SCRIPTS[name])
    assert result.failures == []
