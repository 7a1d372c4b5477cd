"""pt-BR plural agreement for counts shown to customers: "1 boleto", "2 boletos", never
"2 boleto(s)".

Hand-written: the regular rules below cover the nouns the assistant counts, and an irregular one
("pão", "pães") is passed in full. No maintained library inflects pt-BR (``inflection`` and
``inflect`` are English only).
"""

from __future__ import annotations

__all__ = ["count_of", "plural_of"]


def plural_of(word: str) -> str:
    """The regular pt-BR plural of ``word``: boleto → boletos, item → itens, real → reais,
    mês → meses, pedido → pedidos. Words ending in "ão" take "ões" (the most common form);
    pass the plural explicitly for the others."""
    if word.endswith("ão"):
        return word[:-2] + "ões"
    if word.endswith("m"):
        return word[:-1] + "ns"
    if word.endswith(("r", "z")):
        return word + "es"
    if word.endswith("ês"):
        return word[:-2] + "eses"
    if word.endswith("s"):
        return word
    if word.endswith(("al", "el", "ol", "ul")):
        return word[:-1] + "is"
    return word + "s"


def count_of(count: int, singular: str, plural: str | None = None) -> str:
    """``count`` and the noun agreeing with it: ``count_of(1, "boleto")`` → "1 boleto",
    ``count_of(2, "boleto")`` → "2 boletos", ``count_of(0, "boleto")`` → "0 boletos"."""
    return f"{count} {singular if abs(count) == 1 else plural or plural_of(singular)}"
