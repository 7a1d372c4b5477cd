"""Conversations the offline engine carries and the fake model's stand-in does not (yet), played
as `atende test` plays scripts: corrections to an order sent while the CPF is awaited, an order
sent with a greeting and the CPF in one message, a price asked while ordering, "os dois" to a
list of boletos, "duas canecas, a térmica", "voltar" at the CPF asked for an order, two
requests in one sentence ("quero a 2a via, ah e também saber do meu pedido").

Not in `scenarios/`: every script there must also pass with the agent on the stand-in
(`devtools/fake_llm/`), which does not read these yet."""

from __future__ import annotations

import pytest

from atende.demo import seed_demo
from atende.main import Container
from atende.scenarios import ScriptRunner

SCRIPTS = {
    "dois pedidos na mesma frase (… ah e também …) são respondidos os dois, na ordem": """
phone: "+55 11 98765-4321"
steps:
  - customer: "oi quero 2a via, ah e tambem saber do meu pedido"
    expect:
      say: ["CPF ou CNPJ", "depois disso eu respondo também “saber do meu pedido”"]
  - customer: "529.982.247-25"
    expect:
      say: ["boletos em aberto"]
  - customer: "o primeiro"
    expect:
      say: ["2ª via", "Pedido *PED-"]
""",
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
    "perguntar o preço quando o bot pergunta qual produto mostra o preço": """
phone: "+55 11 98765-4321"
steps:
  - customer: "quero pedir"
    expect:
      say: ["Qual produto"]
  - customer: "quanto custa a caneca termica?"
    expect:
      say: ["Quantas unidades de *Caneca Térmica Inox 500 ml*", "R$ 89,90"]
""",
    "os dois boletos pedidos de uma vez": """
phone: "+55 11 98765-4321"
steps:
  - customer: "quero o boleto"
    expect:
      say: ["CPF ou CNPJ"]
  - customer: "529.982.247-25"
    expect:
      say: ["2 boletos em aberto"]
  - customer: "os dois"
    expect:
      say: ["boleto de *R$ 189,35*", "boleto de *R$ 184,85*"]
      not_say: ["não entendi"]
      call: [second_copy]
""",
    "o produto estreitado depois da vírgula": """
phone: "+55 11 98765-4321"
steps:
  - customer: "duas canecas, a termica"
    expect:
      say: ["CPF ou CNPJ"]
      not_say: ["Qual delas"]
  - customer: "529.982.247-25"
    expect:
      say: ["Resumo do pedido", "2x Caneca Térmica Inox 500 ml"]
""",
    "cumprimento, produto estreitado e CPF na mesma mensagem": """
phone: "+55 11 98765-4321"
steps:
  - customer: "oi td bem? queria duas canecas, a termica e meu cpf eh 52998224725"
    expect:
      say: ["Resumo do pedido", "2x Caneca Térmica Inox 500 ml"]
      not_say: ["catálogo", "Qual delas"]
  - customer: "pode ser"
    expect:
      say: ["registrado"]
      call: [confirm_order]
""",
    "voltar no CPF do pedido volta à escolha do produto": """
phone: "+55 11 98765-4321"
steps:
  - customer: "quero pedir 2 caneca"
    expect:
      say: ["Qual delas"]
  - customer: "2"
    expect:
      say: ["CPF ou CNPJ"]
  - customer: "voltar"
    expect:
      say: ["Qual produto"]
  - customer: "2 canecas de ceramica"
    expect:
      say: ["CPF ou CNPJ"]
  - customer: "529.982.247-25"
    expect:
      say: ["Resumo do pedido", "2x Caneca de Cerâmica Café Coado 350 ml"]
      not_say: ["Térmica"]
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
async def test_that_the_offline_engine_carries_the_conversation(
    container: Container, name: str
) -> None:
    await seed_demo(container.sessions, container.box, container.settings)
    await container.start_workers(recover_pending=False)
    result = await ScriptRunner(container).run_script(name, f"name: {name}\n" + SCRIPTS[name])
    assert result.failures == []
