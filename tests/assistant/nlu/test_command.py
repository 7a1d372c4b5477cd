from __future__ import annotations

import json

from click.testing import CliRunner

from atende.assistant.nlu import Nlu
from atende.assistant.nlu.command import nlu_command


def test_argument(nlu: Nlu) -> None:
    result = CliRunner().invoke(nlu_command, ["quero duas camisetas CAM-001, cep 01310-100"])
    assert result.exit_code == 0, result.output
    [line] = result.output.splitlines()
    output = json.loads(line)
    assert output["intent"] == "place_order"
    assert output["entities"] == [
        {"type": "quantity", "value": "2", "text": "duas"},
        {"type": "sku", "value": "CAM-001", "text": "CAM-001"},
        {"type": "cep", "value": "01310100", "text": "01310-100"},
    ]
    assert set(output) == {"intent", "confidence", "entities"}


def test_non_ascii_is_printed_as_is(nlu: Nlu) -> None:
    result = CliRunner().invoke(nlu_command, ["meu número é o pedido nº 12345"])
    assert result.exit_code == 0, result.output
    assert '"text": "12345"' in result.output


def test_stdin_lines(nlu: Nlu) -> None:
    lines = ["oi, boa tarde", "meu cpf é 529.982.247-25", "", "tchau, até mais"]
    result = CliRunner().invoke(nlu_command, input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    outputs = [json.loads(line) for line in result.output.splitlines()]
    assert [o["intent"] for o in outputs] == [
        "greeting",
        "provide_document",
        "out_of_scope",
        "goodbye",
    ]
    assert outputs[1]["entities"] == [
        {"type": "cpf", "value": "52998224725", "text": "529.982.247-25"}
    ]
