"""``atende nlu``: the intent and entities of a message, as JSON, for trying the NLU by hand."""

from __future__ import annotations

import json
import sys

import click

from atende.assistant.nlu.classifier import Understanding, default_nlu


def _line(understanding: Understanding) -> str:
    return json.dumps(understanding.to_json(), ensure_ascii=False)


@click.command("nlu")
@click.argument("text", required=False)
def nlu_command(text: str | None) -> None:
    """Print the intent and entities of TEXT as one JSON object.

    Without TEXT, read one message per line from standard input and print one JSON object per
    line, in order (an empty line gives an out_of_scope object, so lines stay aligned).
    """
    nlu = default_nlu()
    if text is not None:
        click.echo(_line(nlu.understand(text)))
        return
    for line in sys.stdin:
        click.echo(_line(nlu.understand(line.rstrip("\r\n"))))
