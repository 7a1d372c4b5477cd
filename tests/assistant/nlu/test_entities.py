from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from atende.assistant.nlu.entities import Entity, extract


def _found(text: str) -> list[tuple[str, str, str]]:
    return [(e.type, e.value, e.text) for e in extract(text).entities]


def _of_type(text: str, kind: str) -> list[Entity]:
    return [e for e in extract(text).entities if e.type == kind]


# --- documents --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "meu cpf é 529.982.247-25",
        "cpf: 52998224725",
        "o cpf 529982247-25 é do titular",
        "anota aí: 529 982 247 25",
        "Segue o CPF (529.982.247-25).",
    ],
)
def test_valid_cpf(text: str) -> None:
    [cpf] = _of_type(text, "cpf")
    assert cpf.value == "52998224725"
    assert text[cpf.start : cpf.end] == cpf.text


def test_invalid_cpf_is_never_an_entity_but_is_reported() -> None:
    result = extract("meu cpf é 529.982.247-24")
    assert result.entities == ()
    [invalid] = result.invalid_documents
    assert (invalid.kind, invalid.value, invalid.text) == ("cpf", "52998224724", "529.982.247-24")
    assert invalid.reason == "check_digits"


def test_repeated_digits_cpf_is_not_a_cpf() -> None:
    assert _of_type("cpf 111.111.111-11", "cpf") == []


def test_numeric_cnpj() -> None:
    assert _found("o cnpj da empresa é 11.222.333/0001-81") == [
        ("cnpj", "11222333000181", "11.222.333/0001-81")
    ]
    assert _found("cnpj 11222333000181")[0][:2] == ("cnpj", "11222333000181")


@pytest.mark.parametrize(
    "text",
    [
        "cnpj novo 12.ABC.345/01DE-35",
        "12ABC34501DE35",
        "o cnpj é 12.abc.345/01de-35",
        "cnpj 12abc34501de35",
    ],
)
def test_alphanumeric_cnpj(text: str) -> None:
    [cnpj] = _of_type(text, "cnpj")
    assert cnpj.value == "12ABC34501DE35"


def test_invalid_cnpj_is_never_an_entity() -> None:
    result = extract("cnpj 11.222.333/0001-82")
    assert result.entities == ()
    assert [d.kind for d in result.invalid_documents] == ["cnpj"]


def test_cpf_inside_a_longer_number_is_not_a_cpf() -> None:
    # A 14-digit CNPJ contains 11-digit runs; none of them is a CPF.
    assert [e.type for e in extract("11222333000181").entities] == ["cnpj"]
    assert _of_type("boleto 3419152998224725000", "cpf") == []


@pytest.mark.parametrize(
    "text",
    [
        "cpf 529,982,247-25",
        "anota aí 529.982.247 - 25",
        "pode usar o cpf 529-982-247-25",
        "cpf 529.982.247 25",
        # Voice transcripts group the digits as they were spoken.
        "é o cpf é 52 99 822 47 25",
        "o cpf 5 2 9 9 8 2 2 4 7 2 5 é do meu marido",
        # Four-digit groups are also how a landline is written: the document word decides.
        "meu cpf é 5299 8224 725",
        "então o meu cpf é cinco dois nove nove oito dois dois quatro sete dois cinco",
        "cpf cinco dois nove ponto nove oito dois ponto dois quatro sete traço dois cinco",
        # Dictated with no document word, answering "qual o seu CPF?": digit by digit, or in
        # the groups it is printed in, as a voice note's transcript writes it.
        "cinco dois nove nove oito dois dois quatro sete dois cinco",
        "cinco dois nove, nove oito dois, dois quatro sete, dois cinco",
        "5 2 9 9 8 2 2 4 7 2 5",
        "o cpf é 529, 982, 247, 25",
    ],
)
def test_loosely_written_cpf(text: str) -> None:
    [cpf] = _of_type(text, "cpf")
    assert cpf.value == "52998224725"
    assert text[cpf.start : cpf.end] == cpf.text


def test_dictated_six_is_meia() -> None:
    # 007.766.047-16, dictated as Brazilians say six in a number.
    text = "cpf zero zero sete sete meia meia zero quatro sete um meia"
    assert [(e.type, e.value) for e in extract(text).entities] == [("cpf", "00776604716")]


@pytest.mark.parametrize(
    "text", ["cnpj 11 222 333 0001 81", "cnpj 11.222.333.0001-81", "o cnpj é 11222333 0001 81"]
)
def test_loosely_written_cnpj(text: str) -> None:
    assert [(e.type, e.value) for e in extract(text).entities] == [("cnpj", "11222333000181")]


def test_letters_only_cnpj_next_to_a_document_word() -> None:
    assert _found("ABCDEFGHJKLM50 é o documento") == [("cnpj", "ABCDEFGHJKLM50", "ABCDEFGHJKLM50")]
    assert _found("ABCDEFGHJKLM50") == []


def test_loose_document_with_wrong_check_digits_is_reported() -> None:
    result = extract("meu cpf é 52 99 822 47 24")
    assert result.entities == ()
    assert [(d.kind, d.value) for d in result.invalid_documents] == [("cpf", "52998224724")]
    spoken = extract("cpf cinco dois nove nove oito dois dois quatro sete dois quatro")
    assert [d.value for d in spoken.invalid_documents] == ["52998224724"]


@pytest.mark.parametrize(
    "text",
    [
        # Grouped unlike a document, and no document word: just numbers.
        "anota aí 52 99 822 47 25",
        "3 4 5 6 7 8 9 1 2 3 4",
        # Dictated phone numbers are not documents.
        "me liga no nove nove oito sete seis cinco quatro tres dois um zero",
        "cpf já mandei, meu celular é 11 98 765 43 74",
        # A document grouping whose check digits fail, with no document word: not a document.
        "anota aí 529.982.247 - 24",
    ],
)
def test_loose_numbers_that_are_not_documents(text: str) -> None:
    result = extract(text)
    assert not [e for e in result.entities if e.type in {"cpf", "cnpj"}]
    assert result.invalid_documents == ()


def test_a_list_of_numbers_yields_no_document_from_its_tail() -> None:
    # 30 single digits next to "cpf": the run is 30 digits long, neither 11 nor 14.
    text = "cpf " + " ".join(str(i % 10) for i in range(30))
    assert extract(text).entities == ()
    assert extract(text).invalid_documents == ()
    spoken = "cpf " + " ".join(["um", "dois", "tres", "quatro", "cinco", "seis"] * 5)
    assert extract(spoken).invalid_documents == ()


def test_loose_document_then_a_phone_after_a_comma() -> None:
    result = extract("cpf 52 99 822 47 25, 11 98765-4321")
    assert [(e.type, e.value) for e in result.entities] == [("cpf", "52998224725")]


def test_cep_and_house_number_after_a_document_are_not_a_document() -> None:
    result = extract("meu cpf é 529.982.247-25 cep 01310-100 157")
    assert [(e.type, e.value) for e in result.entities] == [
        ("cpf", "52998224725"),
        ("cep", "01310100"),
    ]
    assert result.invalid_documents == ()


def test_landline_after_a_document_stays_a_phone() -> None:
    result = extract("cpf 529.982.247-25, fixo 3456 7890")
    assert [(e.type, e.value) for e in result.entities] == [("cpf", "52998224725")]
    assert result.invalid_documents == ()


# --- phones are not CPFs ----------------------------------------------------------------------

# 119.876.543-74 has valid CPF check digits and is also shaped like a São Paulo mobile number.
PHONE_SHAPED_CPF = "11987654374"


@pytest.mark.parametrize(
    "text",
    [
        "me liga no (11) 98765-4321",
        "meu celular é (11) 98765-4374",
        "whats 11 98765-4374",
        "+55 11 98765-4374",
        "+5511987654374",
        f"meu telefone é {PHONE_SHAPED_CPF}",
        f"me chama no zap {PHONE_SHAPED_CPF}",
        f"{PHONE_SHAPED_CPF} é meu whatsapp",
    ],
)
def test_phone_is_not_a_cpf(text: str) -> None:
    result = extract(text)
    assert result.entities == ()
    assert result.invalid_documents == ()


def test_phone_shaped_cpf_is_a_cpf_when_said_so() -> None:
    [cpf] = _of_type(f"meu cpf é {PHONE_SHAPED_CPF}", "cpf")
    assert cpf.value == PHONE_SHAPED_CPF


def test_cpf_and_phone_in_one_message() -> None:
    text = f"cpf 529.982.247-25 e celular {PHONE_SHAPED_CPF}"
    assert [(e.type, e.value) for e in extract(text).entities] == [("cpf", "52998224725")]


# --- other entities ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "span"),
    [
        ("meu cep é 01310-100", "01310100", "01310-100"),
        ("CEP 01.310-100", "01310100", "01.310-100"),
        ("cep: 01310100", "01310100", "01310100"),
    ],
)
def test_cep(text: str, value: str, span: str) -> None:
    assert _found(text) == [("cep", value, span)]


def test_bare_eight_digits_are_not_a_cep() -> None:
    assert _of_type("pedido 01310100", "cep") == []
    assert _of_type("cep 00000-000", "cep") == []


@pytest.mark.parametrize(
    ("text", "value", "span"),
    [
        ("quero duas camisetas", "2", "duas"),
        ("quero 2 unidades do CAM-001", "2", "2"),
        ("manda 3x", "3", "3x"),
        ("me vê três", "3", "três"),
        ("uma dúzia de canecas", "12", "uma dúzia"),
        ("meia dúzia", "6", "meia dúzia"),
        ("vinte e cinco caixas", "25", "vinte e cinco"),
        ("10 unidades", "10", "10"),
        ("comprei 2 camisetas", "2", "2"),
        # Written after the product, as on a shopping list.
        ("camiseta x2", "2", "x2"),
        ("CAM-001 x 3", "3", "x 3"),
    ],
)
def test_quantity(text: str, value: str, span: str) -> None:
    [quantity] = _of_type(text, "quantity")
    assert (quantity.value, quantity.text) == (value, span)


@pytest.mark.parametrize(
    "text",
    [
        "preciso da 2a via",
        "preciso da 2 via do boleto",
        "faz 3 dias que espero",
        "paguei R$ 50",
        "vence dia 15 de maio",
        "chega às 10h",
        "parcelar em 3x",
        "quero um atendente",
        "tem a bota 38 preta?",
        "1920x1080",
    ],
)
def test_not_a_quantity(text: str) -> None:
    assert _of_type(text, "quantity") == []


@pytest.mark.parametrize(
    ("text", "value", "span"),
    [
        ("tem o CAM-001?", "CAM-001", "CAM-001"),
        ("quero 2 do ABC123", "ABC123", "ABC123"),
        ("tem cam-001 no M?", "CAM-001", "cam-001"),
        ("código abc123", "ABC123", "abc123"),
    ],
)
def test_sku(text: str, value: str, span: str) -> None:
    [sku] = _of_type(text, "sku")
    assert (sku.value, sku.text) == (value, span)


@pytest.mark.parametrize(
    "text",
    ["tive covid19", "o cpf12345", "meu pedido PED-2026-0001", "meu pedido OV-1234 chegou?"],
)
def test_not_a_sku(text: str) -> None:
    assert _of_type(text, "sku") == []


@pytest.mark.parametrize(
    ("text", "value", "span"),
    [
        ("pedido 12345", "12345", "12345"),
        ("cadê o pedido nº 12345?", "12345", "12345"),
        ("pedido número 987654", "987654", "987654"),
        ("meu pedido #12345 não chegou", "12345", "#12345"),
        ("status do PED-2026-0001", "PED-2026-0001", "PED-2026-0001"),
        ("status do ped-2026-0001", "PED-2026-0001", "ped-2026-0001"),
        # As the bot itself prints them, and as customers then copy them.
        ("onde esta o PED-5001", "PED-5001", "PED-5001"),
        ("rastreio do ped-5003?", "PED-5003", "ped-5003"),
        ("cade o ped5001", "PED5001", "ped5001"),
        ("status do pedido 5001", "5001", "5001"),
        ("pedido n° 5001", "5001", "5001"),
        ("#5001", "5001", "#5001"),
        ("meu pedido é o 5001", "5001", "5001"),
        # Other ERPs' prefixes: a sales order ("OV", "PV"), or any code after "pedido".
        ("meu pedido OV-1234 chegou?", "OV-1234", "OV-1234"),
        ("cade o pv778", "PV778", "pv778"),
        ("status do pedido AB-1234", "AB-1234", "AB-1234"),
        ("compra nº XY123", "XY123", "XY123"),
    ],
)
def test_order_id(text: str, value: str, span: str) -> None:
    [order] = _of_type(text, "order_id")
    assert (order.value, order.text) == (value, span)


@pytest.mark.parametrize(
    "text", ["compra 300 unidades", "pedido e 3 unidades", "meu pedido foi o de 300 reais"]
)
def test_a_quantity_or_an_amount_is_not_an_order_id(text: str) -> None:
    assert _of_type(text, "order_id") == []


@pytest.mark.parametrize(
    "text", ["pedido: CAM-001 x2", "fazer um pedido CAM-001", "novo pedido CAM-001"]
)
def test_a_code_in_a_new_order_is_a_product(text: str) -> None:
    assert [e.value for e in _of_type(text, "sku")] == ["CAM-001"]
    assert _of_type(text, "order_id") == []


def test_email_is_lowercased() -> None:
    assert _found("meu email é FULANO.Silva@Gmail.COM.") == [
        ("email", "fulano.silva@gmail.com", "FULANO.Silva@Gmail.COM")
    ]


def test_everything_at_once() -> None:
    text = (
        "Oi! Quero 3 unidades do CAM-001 no cnpj 11.222.333/0001-81, entrega no CEP 01310-100; "
        "nota pro email Compras@Empresa.com.br"
    )
    assert [(e.type, e.value) for e in extract(text).entities] == [
        ("quantity", "3"),
        ("sku", "CAM-001"),
        ("cnpj", "11222333000181"),
        ("cep", "01310100"),
        ("email", "compras@empresa.com.br"),
    ]


# --- properties -------------------------------------------------------------------------------


def _cpf_check_digits(base: list[int]) -> list[int]:
    digits = list(base)
    for length in (9, 10):
        total = sum(d * (length + 1 - i) for i, d in enumerate(digits[:length]))
        digits.append(total * 10 % 11 % 10)
    return digits


def _is_valid_cpf(digits: list[int]) -> bool:
    return len(set(digits)) > 1 and _cpf_check_digits(digits[:9]) == digits


def _formatted(digits: str, style: int) -> str:
    if style == 0:
        return f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"
    if style == 1:
        return digits
    return f"{digits[:9]}-{digits[9:]}"


_TEMPLATES = (
    "meu cpf é {}",
    "{}",
    "cpf: {} obrigado",
    "segue o documento {} pfv",
    "oi, boa tarde! o cpf do titular é {}, pode ver?",
    "2a via do boleto, cpf {}",
)

_bases = st.lists(st.integers(0, 9), min_size=9, max_size=9).filter(lambda b: len(set(b)) > 1)


@given(base=_bases, style=st.integers(0, 2), template=st.sampled_from(_TEMPLATES))
def test_valid_cpf_in_a_sentence_is_found(base: list[int], style: int, template: str) -> None:
    digits = "".join(map(str, _cpf_check_digits(base)))
    text = template.format(_formatted(digits, style))
    assert [(e.type, e.value) for e in extract(text).entities] == [("cpf", digits)]


@given(
    base=_bases,
    position=st.integers(0, 10),
    shift=st.integers(1, 9),
    style=st.integers(0, 2),
    template=st.sampled_from(_TEMPLATES),
)
def test_cpf_with_one_changed_digit_is_never_accepted(
    base: list[int], position: int, shift: int, style: int, template: str
) -> None:
    digits = _cpf_check_digits(base)
    digits[position] = (digits[position] + shift) % 10
    # About 0.2% of single-digit changes land on another valid CPF (remainder 10 becomes 0):
    # that is a CPF, not an error to reject.
    assume(not _is_valid_cpf(digits))
    text = template.format(_formatted("".join(map(str, digits)), style))
    result = extract(text)
    assert not [e for e in result.entities if e.type in {"cpf", "cnpj"}]
    assert [d.value for d in result.invalid_documents] == ["".join(map(str, digits))]


_SPOKEN = ("zero", "um", "dois", "três", "quatro", "cinco", "meia", "sete", "oito", "nove")


def _loosely(digits: str, sizes: list[int], separators: list[str]) -> str:
    """``digits`` cut into groups of ``sizes`` (cycled), joined by ``separators`` (cycled)."""
    groups, rest, index = [], digits, 0
    while rest:
        size = sizes[index % len(sizes)]
        groups.append(rest[:size])
        rest = rest[size:]
        index += 1
    text = groups[0]
    for index, group in enumerate(groups[1:]):
        text += separators[index % len(separators)] + group
    return text


_GROUP_SIZES = st.lists(st.integers(1, 4), min_size=1, max_size=5)
_SEPARATORS = st.lists(st.sampled_from([" ", ".", "-", " - ", ","]), min_size=1, max_size=4)
_LOOSE_TEMPLATES = ("meu cpf é {}", "é... o cpf é {} tá", "documento {} obrigada")


@given(
    base=_bases,
    sizes=_GROUP_SIZES,
    separators=_SEPARATORS,
    spoken=st.booleans(),
    template=st.sampled_from(_LOOSE_TEMPLATES),
)
def test_a_loosely_written_cpf_next_to_a_document_word_is_found(
    base: list[int], sizes: list[int], separators: list[str], spoken: bool, template: str
) -> None:
    digits = "".join(map(str, _cpf_check_digits(base)))
    written = (
        " ".join(_SPOKEN[int(d)] for d in digits) if spoken else _loosely(digits, sizes, separators)
    )
    result = extract(template.format(written))
    assert [(e.type, e.value) for e in result.entities if e.type == "cpf"] == [("cpf", digits)]


@given(
    base=_bases,
    position=st.integers(0, 10),
    shift=st.integers(1, 9),
    sizes=_GROUP_SIZES,
    separators=_SEPARATORS,
    template=st.sampled_from(_LOOSE_TEMPLATES),
)
def test_a_loosely_written_cpf_with_one_changed_digit_is_never_accepted(
    base: list[int],
    position: int,
    shift: int,
    sizes: list[int],
    separators: list[str],
    template: str,
) -> None:
    digits = _cpf_check_digits(base)
    digits[position] = (digits[position] + shift) % 10
    assume(not _is_valid_cpf(digits))
    written = _loosely("".join(map(str, digits)), sizes, separators)
    assert not [e for e in extract(template.format(written)).entities if e.type in {"cpf", "cnpj"}]
