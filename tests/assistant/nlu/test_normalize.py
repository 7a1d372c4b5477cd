from __future__ import annotations

import pytest

from atende.assistant.nlu.normalize import normalize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Olá!!!", "ola !"),
        ("OIIII", "oi"),
        ("Nãooo", "nao"),
        ("simmm", "sim"),
        # Portuguese double letters survive; only emphasis is collapsed.
        ("isso", "isso"),
        ("carro", "carro"),
        ("vc pode me ajudar pfv?", "voce pode me ajudar por favor ?"),
        ("obg, vlw", "obrigado valeu"),
        ("qro a 2a via", "quero a segunda via"),
        ("2ª via", "segunda via"),
        ("preciso da 2 via", "preciso da segunda via"),
        ("seg via da nf", "segunda via da nota fiscal"),
        ("kkkkk", "risos"),
        ("rsrs que isso", "risos que isso"),
        (
            "qto vcs cobram? ngm me respondeu dnv",
            "quanto voces cobram ? ninguem me respondeu de novo",
        ),
    ],
)
def test_words(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("👍", "EMOJI_THUMBS"),
        ("👍🏽👍🏽👍🏽", "EMOJI_THUMBS"),  # skin tones and repetition add nothing
        ("obrigado 🙏", "obrigado EMOJI_PRAY"),
        ("oi 👋", "oi EMOJI_WAVE"),
        ("😡😡 absurdo", "EMOJI_ANGRY absurdo"),
        ("oi 🌻", "oi"),  # emoji without a meaning for intents are dropped
        ("ok ✅", "ok EMOJI_THUMBS"),
    ],
)
def test_emoji(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("meu cpf é 529.982.247-25", "meu cpf e DOC"),
        # Shape, not validity: an invalid CPF still tells the classifier a document was sent.
        ("meu cpf é 529.982.247-24", "meu cpf e DOC"),
        ("cnpj 11.222.333/0001-81", "cnpj DOC"),
        ("cnpj 12.ABC.345/01DE-35", "cnpj DOC"),
        ("me liga no (11) 98765-4321", "me liga no PHONE"),
        ("cep 01310-100", "cep CEP"),
        ("manda pro FULANO@Gmail.com", "manda pro EMAIL"),
        ("tem o CAM-001?", "tem o SKU ?"),
        ("pedido #12345", "pedido NUM"),
        ("quero 3x", "quero NUM x"),
        ("o boleto de R$ 150,00", "o boleto de MONEY"),
        ("entrega dia 10/12 às 14h", "entrega dia DATE as TIME"),
        ("quero duas", "quero duas"),
    ],
)
def test_placeholders(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_blank() -> None:
    assert normalize("  \n ") == ""
    assert normalize("🌻") == ""
