"""Cancelling is not opting out (issue 9): the offline engine's answers to "cancelar ..."
phrasings, which the classifier reads as opt_out, as scripts played like `atende test` does."""

from __future__ import annotations

import pytest

from atende.demo import seed_demo
from atende.main import Container
from atende.scenarios import ScriptRunner

SCRIPTS = {
    "quero cancelar durante um passo cancela o passo": """
phone: "+55 11 98765-4321"
steps:
  - customer: "2a via do boleto"
    expect:
      say: ["CPF ou CNPJ"]
  - customer: "quero cancelar"
    expect:
      say: ["cancelei"]
      not_say: ["não quer mais receber"]
  - customer: "529.982.247-25"
    expect:
      not_say: ["boleto"]
""",
    "cancelar o pedido que está sendo montado cancela o pedido": """
phone: "+55 11 98765-4321"
steps:
  - customer: "quero comprar 2 CAM-001"
    expect:
      say: ["CPF ou CNPJ"]
  - customer: "cancela esse pedido"
    expect:
      say: ["cancelei"]
      not_say: ["não quer mais receber"]
""",
    "cancelar um pedido feito oferece um atendente": """
phone: "+55 11 98765-4321"
steps:
  - customer: "quero cancelar meu pedido"
    expect:
      say: ["Cancelar um pedido eu não consigo por aqui", "atendente"]
      not_say: ["não quer mais receber", "cancelei"]
      handoff: false
""",
    "opt_out sem falar de mensagens pede confirmação": """
phone: "+55 11 98765-4321"
steps:
  - customer: "quero cancelar"
    expect:
      say: ["O que você quer cancelar", "sair da lista"]
  - customer: "sair da lista"
    expect:
      say: ["não quer mais receber"]
""",
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
async def test_that_cancelling_never_opts_out(container: Container, name: str) -> None:
    await seed_demo(container.sessions, container.box, container.settings)
    await container.start_workers(recover_pending=False)
    result = await ScriptRunner(container).run_script(name, f"name: {name}\n" + SCRIPTS[name])
    assert result.failures == []
