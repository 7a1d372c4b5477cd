"""Entities in pt-BR customer messages: documents, CEP, e-mail, SKU, order id and quantity.

Everything here is rules, on purpose: the values must be exact (a CPF is either valid or not), and
the classifier only needs to know that *some* document was there (``normalize`` masks the shapes
found by :func:`scan` as ``DOC``, ``CEP``...).

Definitions (what each entity type accepts, and its ``value``):

``cpf``
    ``529.982.247-25``, ``529982247-25``, ``529 982 247 25`` or ``52998224725`` whose check
    digits are valid (:func:`atende.brazil.documents.check_document`). Value: the 11 digits.
    Also written loosely: other separators (``529,982,247-25``, ``529.982.247 - 25``,
    ``529-982-247-25``), any grouping (``52 99 822 47 25``, as voice transcripts group digits),
    or dictated in words (``cinco dois nove nove oito...``, "meia" for six); such a run is a
    candidate when a document word is near it, or, with none, when it is grouped 3-3-3-2 and its
    check digits are valid, or dictated digit by digit (digit words, or single digits between
    spaces: ``5 2 9 9 8 2 2 4 7 2 5``) with valid check digits and no phone word near it.
``cnpj``
    ``11.222.333/0001-81`` or the 2026 alphanumeric ``12.ABC.345/01DE-35`` (12 letters or digits
    and 2 numeric check digits), formatted or bare, with valid check digits. Value: 14 digits, or
    14 uppercase characters for the alphanumeric form. So that ordinary words never are
    candidates, an unformatted alphanumeric run counts only when typed without lowercase letters
    or right after the word "CNPJ", and one with no digit in its first 12 characters only when
    written with the "/", after "CNPJ" or next to a document word.
    A numeric CNPJ may be written loosely as well (``11 222 333 0001 81``,
    ``11.222.333.0001-81``), under the rules of a loose CPF (grouped 2-3-3-4-2).
``cep``
    ``01310-100`` or ``01.310-100``; a bare ``01310100`` only right after the word "CEP". Value:
    the 8 digits (:func:`atende.brazil.documents.normalize_cep`).
``email``
    Value: the address in lowercase.
``order_id``
    ``PED-5001``, ``PED5001`` or ``PED-2026-0001`` (``PED``, ``PV`` or ``OV``, an optional
    4-digit year, 3 to 12 digits; value uppercase as typed); any other code of letters and
    digits right after "pedido", "ped", "ordem", "compra" or "encomenda" (``pedido OV-1234``,
    ``meu pedido é o AB778``), value uppercase as typed; ``#12345`` (3
    to 12 digits), or 3 to 12 digits right after "pedido", "ped" or "ordem", optionally with
    "nº", "número", "n." or "#" between (``pedido 12345``, ``pedido nº 12345``), or 4 digits or
    more after "é o" and the like (``meu pedido é o 5001``); after "compra"
    or "encomenda" only with such a mark ("compra nº 4521"), because "compra 300 unidades" is a
    verb and a quantity. Value: the digits (or the ``PED-`` code). ``text`` is the identifier
    itself (``12345``, ``#12345``), not the keyword.
``sku``
    2 to 5 letters, an optional hyphen, 2 to 5 digits: ``CAM-001``, ``ABC123``, ``cam-001``. Without
    a hyphen the letters must be uppercase as typed, or the code must follow "sku", "código",
    "cód", "ref", "referência", "modelo", "item" or "produto", so that words such as "covid19" in
    lowercase are not codes. Prefixes that name documents or orders (CPF, CNPJ, CEP, PED, NF...) are
    never SKUs. Value: uppercase, hyphen kept as typed.
``quantity``
    A number in digits (1 to 4) or in pt-BR words ("duas", "três", "vinte e cinco", "uma dúzia",
    "meia dúzia") that counts something: followed by ``x`` ("3x") or after a word and ``x``
    ("caneca x2"), by a unit ("unidades", "un",
    "cx", "pares"...), by a noun ("duas camisetas"), or right after a verb of ordering ("quero 3",
    "manda dois"). Money, times, dates, percentages and durations ("2 dias") are not quantities.
    "um"/"uma" count only before a unit ("uma unidade", "uma dúzia"), as they are mostly articles.
    Value: the integer as a decimal string.

A CPF or CNPJ whose check digits are wrong (or whose digits are all equal) is never an entity:
it is reported in :attr:`Extraction.invalid_documents` (and ``Understanding.invalid_documents``,
outside the JSON), so the assistant can ask the customer to check it.

Phone numbers are not CPFs: anything written as a phone (``(11) 98765-4321``, ``11 98765-4321``,
``+55 11987654321``, ``98765-4321``) is recognised as a phone first and blocks every other entity
on its characters. A bare 11-digit number shaped like a mobile number (a valid area code, then 9)
is a phone when the nearest keyword around it is about phones ("tel", "celular", "whats"...)
rather than about documents ("cpf", "documento"...). A bare 11-digit number with valid CPF check
digits and no phone word around it is taken as a CPF: nothing else can tell them apart.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from unidecode import unidecode

from atende.brazil.documents import DocumentKind, check_document, normalize_cep

__all__ = [
    "ENTITY_TYPES",
    "Candidate",
    "Entity",
    "Extraction",
    "InvalidDocument",
    "extract",
    "extract_from",
    "scan",
]

ENTITY_TYPES = ("cpf", "cnpj", "sku", "quantity", "order_id", "cep", "email")


@dataclass(frozen=True)
class Entity:
    type: str
    value: str
    #: The characters of the message as the customer typed them (``text[start:end]``).
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class InvalidDocument:
    """A CPF or CNPJ-shaped number that failed validation; never an :class:`Entity`."""

    kind: str
    #: Normalised characters (digits, or uppercase for an alphanumeric CNPJ).
    value: str
    text: str
    start: int
    end: int
    #: A stable code from :class:`atende.brazil.documents.DocumentProblem` (e.g. "check_digits").
    reason: str


@dataclass(frozen=True)
class Candidate:
    """A span with a recognised shape, before validation.

    ``kind`` is one of the entity types or ``url``, ``phone``, ``money``, ``date``, ``time``,
    ``number`` (the shapes the normaliser masks and that block entities on their characters).
    """

    kind: str
    text: str
    start: int
    end: int
    #: The normalised value when the shape alone decides it (quantity, order, sku, email).
    value: str = ""


@dataclass(frozen=True)
class Extraction:
    entities: tuple[Entity, ...]
    invalid_documents: tuple[InvalidDocument, ...]


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# --- shapes -----------------------------------------------------------------------------------

_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*"
    r"\.[A-Za-z]{2,24}"
    r"(?![\w-])"
)
# Neither shape may continue a longer run of digits or letters (a 14-digit CNPJ must not yield an
# 11-digit CPF from its tail, nor a barcode a document).
_CNPJ = re.compile(
    r"(?<![\w.\-/])[A-Za-z0-9]{2}\.?[A-Za-z0-9]{3}\.?[A-Za-z0-9]{3}/?[A-Za-z0-9]{4}-?\d{2}"
    r"(?![\w]|[.\-/]\w)"
)
_CPF = re.compile(
    r"(?<![\w.\-/])(?:\d{3}\.?\d{3}\.?\d{3}[-.]?\d{2}|\d{3} \d{3} \d{3}[ -]\d{2})"
    r"(?![\w]|[.\-/]\w)"
)
# Written as a phone: optional +55, an area code in parentheses or followed by a separator, then
# 8 or 9 digits, maybe split 4/4 or 5/4. Bare digit runs match as well; _scan_documents decides
# what those are.
_PHONE = re.compile(
    r"(?<![\w+])"
    r"(?:\+\s?55[\s.-]?)?"
    r"(?:\(\s?\d{2}\s?\)\s?|\d{2}[\s.-]?)?"
    r"9?\d{4}[\s.-]?\d{4}"
    r"(?![\w]|[.\-/]\d)"
)
# The demo ERP's numbers as the bot prints them ("PED-5001") and the year-prefixed form
# ("PED-2026-0001"); the hyphen is often left out when typing.
# "PV" (pedido de venda) and "OV" (ordem de venda) are what Brazilian ERPs print on sales orders.
_ORDER_CODE = re.compile(r"(?<![\w-])(?:PED|PV|OV)-?(?:\d{4}-)?\d{3,12}(?![\w-])", re.IGNORECASE)
_ORDER_HASH = re.compile(r"(?<![\w#])#\s?\d{3,12}(?![\w])")
_ORDER_MARK = r"(?:n[o.]?\.?|numero|num\.?|de\s+numero|#)"
# Runs on folded text (see _fold), hence the ASCII keywords. "compra" and "encomenda" are also
# verbs ("compra 300 unidades"), so they need an explicit number mark.
_ORDER_KEYWORD = re.compile(
    r"\b(?:(?:pedido|ped|ordem)s?\b[\s:]*(?:(?:e|eh|era|foi|o)\s+(?=(?:o\s+)?\d{4}))*"
    r"(?:" + _ORDER_MARK + r"\s*)?"
    r"|(?:compra|encomenda)\s*" + _ORDER_MARK + r"\s*)"
    r"(?P<id>\d{3,12})(?![\w]|[.,/-]\d)"
)
# Any other code right after an order keyword is the order's number, not a product code:
# "pedido OV-1234", "meu pedido é o AB-778", "compra nº XY123". Not after "novo", "fazer" or
# "um", nor after a colon: "fazer um pedido CAM-001", "pedido: CAM-001 x2" order a product.
_ORDER_KEYWORD_CODE = re.compile(
    r"(?<!novo )(?<!fazer )(?<!fazer um )(?<!um )"
    r"\b(?:(?:pedido|ped|ordem)s?\b\s*(?:(?:e|eh|era|foi|o)\s+)*"
    r"|(?:compra|encomenda)\s*(?:" + _ORDER_MARK + r"\s*)?)"
    r"(?:" + _ORDER_MARK + r"\s*)?"
    r"(?P<id>[a-z]{1,5}-?\d{3,12})(?![\w-])"
)
_CEP = re.compile(r"(?<![\w.\-/])\d{2}\.?\d{3}-\d{3}(?![\w]|[.\-/]\d)")
_CEP_BARE = re.compile(r"\bcep\b\W{0,3}(?P<cep>\d{8})(?![\w]|[.\-/]\d)", re.IGNORECASE)
_SKU = re.compile(r"(?<![\w-])(?P<letters>[A-Za-z]{2,5})(?P<hyphen>-?)(?P<digits>\d{2,5})(?![\w-])")
_MONEY = re.compile(
    r"(?:R\$\s?\d[\d.]{0,15}(?:,\d{1,2})?|\d[\d.]{0,15}(?:,\d{1,2})?\s?(?:reais|real|conto|pila)\b)",
    re.IGNORECASE,
)
_DATE = re.compile(r"(?<![\w/])\d{1,2}/\d{1,2}(?:/\d{2,4})?(?![\w/])")
_TIME = re.compile(r"(?<![\w:])\d{1,2}(?::\d{2}|h\d{0,2}|hs|hrs)(?!\w)", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")

_SKU_KEYWORDS = re.compile(
    r"\b(?:sku|codigo|cod|ref|referencia|modelo|item|produto)\b\W{0,4}$", re.IGNORECASE
)
_NOT_SKU_PREFIXES = frozenset(
    {"CPF", "CNPJ", "CEP", "PED", "RG", "TEL", "CEL", "NF", "NFE", "DDD", "PIX", "COD", "REF"}
)

# Area codes in use (ANATEL): a bare 11-digit number can only be a mobile if it starts with one.
_AREA_CODES = _word_set(
    "11 12 13 14 15 16 17 18 19 21 22 24 27 28 31 32 33 34 35 37 38 41 42 43 44 45 46 47 48 49 "
    "51 53 54 55 61 62 63 64 65 66 67 68 69 71 73 74 75 77 79 81 82 83 84 85 86 87 88 89 91 92 "
    "93 94 95 96 97 98 99"
)
_PHONE_WORDS = re.compile(
    r"\b(?:tel|telefone|fone|cel|celular|whats|whatsapp|wpp|zap|zapzap|contato|ligar|liga|"
    r"ligue|ligacao|numero de telefone|recado)\b"
)
_DOCUMENT_WORDS = re.compile(r"\b(?:cpf|cnpj|documento|doc|titular|cadastro|rg)\b")
_CONTEXT_CHARS = 40

# --- quantities -------------------------------------------------------------------------------

_UNITS = _word_set(
    "unidade unidades un und unid uni pc pcs peca pecas caixa caixas cx cxs kit kits par pares "
    "pacote pacotes pct fardo fardos duzia duzias item itens volume volumes rolo rolos saco "
    "sacos frasco frascos lata latas garrafa garrafas"
)
# Nouns that count time, money or parts of a date: "2 dias" is a wait, not a quantity ("2 via"
# is the second copy of a bill).
_NOT_COUNTED = _word_set(
    "dia dias hora horas h hs min mins minuto minutos segundo segundos semana semanas mes meses "
    "ano anos reais real centavos conto pila vez vezes parcela parcelas porcento por cento km "
    "metro metros kg quilo quilos g gramas ml litro litros via"
)
# Words that are not nouns: a number followed by one is not counting it ("dia 15 de maio",
# "entre 2 e 3").
_FUNCTION_WORDS = _word_set(
    "de do da dos das e ou no na nos nas em a o os as que pra pro para por com sem se ja mais "
    "menos ate so ai la aqui"
)
_ORDER_VERBS = _word_set(
    "quero queria qro kero preciso precisava gostaria manda mande mandar envia envie enviar "
    "comprar compro levar levo pedir peco encomendar encomenda separa separe separar reserva "
    "reserve reservar coloca coloque adiciona adicione fecha fechar ve vou querer leva traz "
    "traga"
)
_UNITS_WORDS = {
    "um": 1,
    "uma": 1,
    "dois": 2,
    "duas": 2,
    "tres": 3,
    "quatro": 4,
    "cinco": 5,
    "seis": 6,
    "sete": 7,
    "oito": 8,
    "nove": 9,
}
#: "um" to "dez", for readers of short answers ("o dois", "duas canecas") outside this module.
SMALL_NUMBER_WORDS = {**_UNITS_WORDS, "dez": 10}
_TEENS_WORDS = {
    "dez": 10,
    "onze": 11,
    "doze": 12,
    "treze": 13,
    "quatorze": 14,
    "catorze": 14,
    "quinze": 15,
    "dezesseis": 16,
    "dezessete": 17,
    "dezoito": 18,
    "dezenove": 19,
    "cem": 100,
}
_TENS_WORDS = {
    "vinte": 20,
    "trinta": 30,
    "quarenta": 40,
    "cinquenta": 50,
    "sessenta": 60,
    "setenta": 70,
    "oitenta": 80,
    "noventa": 90,
}
_WORD_NUMBER = re.compile(
    r"\b(?:(?P<meia>meia)\s+duzia"
    r"|(?P<tens>" + "|".join(_TENS_WORDS) + r")(?:\s+e\s+(?P<tens_unit>"
    r"um|uma|dois|duas|tres|quatro|cinco|seis|sete|oito|nove))?"
    r"|(?P<teen>" + "|".join(_TEENS_WORDS) + r")"
    r"|(?P<unit>" + "|".join(_UNITS_WORDS) + r"))\b"
)
_DOZEN = re.compile(r"\s+duzias?\b")
_DIGITS_QUANTITY = re.compile(r"(?<![\w$#.,/:-])(?P<n>\d{1,4})(?P<x>\s?x)?(?![\w%]|[.,:/]\d)")
# Words after which a number in front of a noun counts it ("comprei 2 camisetas"); after any
# other word it is more likely a size or a model ("bota 38 preta").
_COUNT_LEADS = _FUNCTION_WORDS | _word_set(
    "tem tenho temos teria tinha sao foram vieram veio chegou chegaram faltou faltaram faltando "
    "comprei compramos pedi pedimos apenas somente so uns umas mais outras outros"
)
# "camiseta x2", "CAM-001 x 3": the count written after the product, as in a shopping list
# (not "1920x1080", nor "10 x 3" of a sum).
_TIMES_AFTER = re.compile(r"(?<=[a-z0-9] )x\s?(?P<n>\d{1,4})(?![\w%]|[.,:/]\d)")
_BARE_NUMBER_BEFORE = re.compile(r"(?<![\w-])\d+\s*$")
_INSTALMENT_LEADS = _word_set("em parcelar parcela parcelo parcelado parcelada ate")
_NEXT_WORD = re.compile(r"\s*([a-z]+)")
_PREVIOUS_WORD = re.compile(r"([a-z]+)\s*$")


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    ascii_char = unidecode(char).lower()
    return ascii_char if len(ascii_char) == 1 else " "


def _fold(text: str) -> str:
    """Lowercase ASCII with the same length as ``text``, so offsets found in it are offsets in
    ``text`` (unidecode alone turns "°" into "deg" and drops emoji)."""
    if text.isascii():
        return text.lower()
    return "".join(_fold_char(char) for char in text)


class _Spans:
    """Candidates found so far; later (lower-priority) shapes skip characters already taken."""

    def __init__(self) -> None:
        self.items: list[Candidate] = []
        # Start and end offsets of the taken spans, sorted, so that a message with thousands of
        # numbers is not quadratic.
        self._starts: list[int] = []
        self._ends: list[int] = []

    def free(self, start: int, end: int) -> bool:
        index = bisect.bisect_right(self._starts, start)
        if index > 0 and self._ends[index - 1] > start:
            return False
        return index == len(self._starts) or self._starts[index] >= end

    def add(self, kind: str, text: str, start: int, end: int, value: str = "") -> None:
        if self.free(start, end):
            index = bisect.bisect_right(self._starts, start)
            self._starts.insert(index, start)
            self._ends.insert(index, end)
            self.items.append(Candidate(kind, text[start:end], start, end, value))


def _phone_context(folded: str, start: int, end: int) -> bool:
    """Whether the nearest keyword around ``folded[start:end]`` is about phones, not documents."""
    before = folded[max(0, start - _CONTEXT_CHARS) : start]
    after = folded[end : end + _CONTEXT_CHARS]
    best_phone = best_doc = _CONTEXT_CHARS + 1
    for match in _PHONE_WORDS.finditer(before):
        best_phone = min(best_phone, len(before) - match.end())
    for match in _PHONE_WORDS.finditer(after):
        best_phone = min(best_phone, match.start())
    for match in _DOCUMENT_WORDS.finditer(before):
        best_doc = min(best_doc, len(before) - match.end())
    for match in _DOCUMENT_WORDS.finditer(after):
        best_doc = min(best_doc, match.start())
    return best_phone < best_doc


def _after_cnpj(folded: str, start: int) -> bool:
    return "cnpj" in folded[max(0, start - _CONTEXT_CHARS) : start]


def _mobile_shaped(digits: str) -> bool:
    return len(digits) == 11 and digits[:2] in _AREA_CODES and digits[2] == "9"


# How customers also write a document, found where the strict shapes above did not match: digit
# groups of any size with any separators (",", " - ", "." instead of "/"), as typed in a hurry or
# as a voice transcript groups them ("23 54 388 11 08"), and digits dictated as words ("cinco
# dois nove..."). 11 digits are a CPF, 14 a CNPJ.
#
# _LOOSE_DIGITS takes the whole run of digit groups, however long (its digits are counted
# afterwards, so a list of numbers never yields a document from its tail). A comma followed by a
# space ends the run: it separates numbers ("cpf 529 982 247 25, 11 98765-4321"), not the groups
# of one.
_LOOSE_DIGITS = re.compile(r"(?<![\w.,/-])\d{1,8}(?:(?:\s?[./-]\s?|,|\s)\d{1,8})+(?![\w]|[.,/-]\d)")
# Tried after it: groups after a comma and a space, as a transcript writes a number read out in
# groups ("529, 982, 247, 25"); second, so that "cpf 52 99 822 47 25, 11 98765-4321" keeps the
# document and the phone apart.
_LOOSE_DIGITS_COMMAS = re.compile(
    r"(?<![\w.,/-])\d{1,8}(?:(?:\s?[./-]\s?|,\s?|\s)\d{1,8})+(?![\w]|[.,/-]\d)"
)
# Hand-written rather than a number parser: a document is dictated digit by digit, so ten words
# are all there is to read ("vinte e cinco" never occurs in one).
_SPOKEN_DIGITS = {
    "zero": "0",
    "um": "1",
    "uma": "1",
    "dois": "2",
    "duas": "2",
    "tres": "3",
    "quatro": "4",
    "cinco": "5",
    "seis": "6",
    "meia": "6",  # "meia" (half a dozen) is how six is dictated in Brazil
    "sete": "7",
    "oito": "8",
    "nove": "9",
}
_SPOKEN_DIGIT = "(?:" + "|".join(_SPOKEN_DIGITS) + ")"
# Between dictated digits: spaces, commas, and the punctuation read aloud.
_SPOKEN_SEPARATOR = r"(?:[\s,]+(?:(?:ponto|traco|tracinho|hifen|barra)[\s,]+)?)"
_SPOKEN_RUN = re.compile(
    r"\b" + _SPOKEN_DIGIT + r"(?:" + _SPOKEN_SEPARATOR + _SPOKEN_DIGIT + r"){10,}\b"
)
_SPOKEN_WORD = re.compile(r"[a-z]+")
# The groupings of a formatted CPF and CNPJ: a loose run grouped so is a document even without a
# document word nearby (when its check digits are valid).
_DOCUMENT_GROUPS = {(3, 3, 3, 2), (2, 3, 3, 4, 2)}


_CEP_WORD = re.compile(r"\bcep\b")


def _nearest(pattern: re.Pattern[str], folded: str, start: int, end: int) -> int:
    """Characters between ``folded[start:end]`` and the nearest match of ``pattern`` around it
    (more than ``_CONTEXT_CHARS`` when there is none)."""
    before = folded[max(0, start - _CONTEXT_CHARS) : start]
    after = folded[end : end + _CONTEXT_CHARS]
    distances = [len(before) - match.end() for match in pattern.finditer(before)]
    distances += [match.start() for match in pattern.finditer(after)]
    return min(distances, default=_CONTEXT_CHARS + 1)


def _document_context(folded: str, start: int, end: int) -> bool:
    """Whether a document word ("cpf", "cnpj"...) is near ``folded[start:end]`` and nearer than
    any phone word or "cep" ("cep 01310-100 157" is an address, not a CPF)."""
    document = _nearest(_DOCUMENT_WORDS, folded, start, end)
    if document > _CONTEXT_CHARS or _nearest(_CEP_WORD, folded, start, end) < document:
        return False
    return not _phone_context(folded, start, end)


def _loose_document(
    text: str, folded: str, spans: _Spans, start: int, end: int, digits: str, grouped: bool
) -> None:
    kind = {11: "cpf", 14: "cnpj"}.get(len(digits))
    if kind is None or not spans.free(start, end):
        return
    # Without a document word around, only a valid document grouped as one is taken: anything
    # else with 11 or 14 digits (a barcode fragment, a list of amounts) stays a number. Digits
    # said one by one ("cinco dois nove...", "5 2 9 ...") are grouped as a dictated document
    # is; near a phone word they are a phone.
    grouped = grouped and not _phone_context(folded, start, end)
    if _document_context(folded, start, end) or (grouped and check_document(digits).valid):
        spans.add(kind, text, start, end, digits)


def _scan_loose_documents(text: str, folded: str, spans: _Spans) -> None:
    # Most messages hold neither 11 digits nor 11 words: skip the patterns (they were about a
    # third of scan()'s time on the held-out messages).
    if sum(map(str.isdigit, text)) >= 11:
        _scan_loose_digits(text, folded, spans)
    if folded.count(" ") >= 10:
        for match in _SPOKEN_RUN.finditer(folded):
            words = _SPOKEN_WORD.findall(match.group())
            digits = "".join(_SPOKEN_DIGITS[word] for word in words if word in _SPOKEN_DIGITS)
            _loose_document(text, folded, spans, match.start(), match.end(), digits, True)


def _scan_loose_digits(text: str, folded: str, spans: _Spans) -> None:
    for match in (*_LOOSE_DIGITS.finditer(text), *_LOOSE_DIGITS_COMMAS.finditer(text)):
        if _PHONE.fullmatch(match.group()):
            continue
        groups = tuple(len(group) for group in re.findall(r"\d+", match.group()))
        digits = re.sub(r"\D", "", match.group())
        # Digits one by one ("5 2 9 9 8 ...") are a document dictated to a voice transcript.
        grouped = groups in _DOCUMENT_GROUPS or set(groups) == {1}
        _loose_document(text, folded, spans, match.start(), match.end(), digits, grouped)


def _scan_documents(text: str, folded: str, spans: _Spans) -> None:
    for match in _CNPJ.finditer(text):
        raw, start, end = match.group(), match.start(), match.end()
        formatted = any(sep in raw for sep in "./-")
        root = re.sub(r"[./-]", "", raw)[:12]
        if not any(c.isdigit() for c in root) and not (
            "/" in raw or _after_cnpj(folded, start) or _document_context(folded, start, end)
        ):
            continue  # a 12-letter word and 2 digits is a document only if it is written as one
        typed_as_code = not any(c.islower() for c in raw)
        if raw.isdigit() or formatted or typed_as_code or _after_cnpj(folded, start):
            spans.add("cnpj", text, match.start(), match.end())
    for match in _CPF.finditer(text):
        raw = match.group()
        if raw.isdigit():
            continue  # bare 11 digits may be phones: decided after the formatted phones
        spans.add("cpf", text, match.start(), match.end())
    # Before the phones, which would take "1089 1930" out of "cpf 0 1089 1930 76" (a transcript
    # groups digits as they were said); a run written as a phone is left to them.
    _scan_loose_documents(text, folded, spans)
    for match in _PHONE.finditer(text):
        raw = match.group()
        digits = re.sub(r"\D", "", raw)
        if raw.isdigit() or len(digits) < 8:
            continue  # a bare run of digits is not written as a phone
        spans.add("phone", text, match.start(), match.end())
    for match in _CPF.finditer(text):
        raw = match.group()
        if not raw.isdigit():
            continue
        start, end = match.start(), match.end()
        before = text[max(0, start - 4) : start]
        if "+" in before or (_mobile_shaped(raw) and _phone_context(folded, start, end)):
            spans.add("phone", text, start, end)
        else:
            spans.add("cpf", text, start, end)


def _scan_quantities(text: str, folded: str, spans: _Spans) -> None:
    for match in _WORD_NUMBER.finditer(folded):
        start, end = match.start(), match.end()
        if match.group("meia"):
            spans.add("quantity", text, start, end, "6")
            continue
        if match.group("tens"):
            value = _TENS_WORDS[match.group("tens")]
            if match.group("tens_unit"):
                value += _UNITS_WORDS[match.group("tens_unit")]
        elif match.group("teen"):
            value = _TEENS_WORDS[match.group("teen")]
        else:
            value = _UNITS_WORDS[match.group("unit")]
        dozen = _DOZEN.match(folded, end)
        if dozen:
            spans.add("quantity", text, start, dozen.end(), str(value * 12))
            continue
        article = match.group("unit") in {"um", "uma"}
        if _counts(folded, start, end, needs_unit=article):
            spans.add("quantity", text, start, end, str(value))
    for match in _TIMES_AFTER.finditer(folded):
        number = int(match.group("n"))
        if number and not _BARE_NUMBER_BEFORE.search(folded, 0, match.start()):
            spans.add("quantity", text, match.start(), match.end(), str(number))
    for match in _DIGITS_QUANTITY.finditer(folded):
        start, end = match.start(), match.end()
        number = int(match.group("n"))
        if number == 0:
            continue
        dozen = _DOZEN.match(folded, end)
        if dozen:
            spans.add("quantity", text, start, dozen.end(), str(number * 12))
        elif match.group("x"):
            if _previous_word(folded, start) not in _INSTALMENT_LEADS:  # "em 3x" is instalments
                spans.add("quantity", text, start, end, str(number))
        elif _counts(folded, start, end, needs_unit=False):
            spans.add("quantity", text, start, end, str(number))


def _previous_word(folded: str, start: int) -> str | None:
    """The word right before ``start``; ``None`` at the start or after punctuation."""
    previous = _PREVIOUS_WORD.search(folded, max(0, start - 40), start)
    return previous.group(1) if previous else None


def _counts(folded: str, start: int, end: int, *, needs_unit: bool) -> bool:
    following = _NEXT_WORD.match(folded, end)
    noun = following.group(1) if following else ""
    if noun in _UNITS:
        return True
    if needs_unit or noun in _NOT_COUNTED:
        return False
    previous = _previous_word(folded, start)
    if previous in _ORDER_VERBS:
        return True
    if previous is not None and previous not in _COUNT_LEADS:
        return False
    return len(noun) >= 2 and noun not in _FUNCTION_WORDS


def scan(text: str) -> list[Candidate]:
    """Every recognised shape in ``text``, without overlaps, in order of position.

    Higher-priority shapes win the characters they cover: URLs and e-mails, then documents and
    phones, CEP, order ids, SKUs, money, dates, times, quantities, and any other number.
    """
    folded = _fold(text)
    spans = _Spans()
    for match in _URL.finditer(text):
        spans.add("url", text, match.start(), match.end())
    for match in _EMAIL.finditer(text):
        spans.add("email", text, match.start(), match.end(), match.group().lower())
    # Before phones: "PED-2026-0001" ends in a "2026-0001" that is shaped like a phone.
    for match in _ORDER_CODE.finditer(text):
        spans.add("order_id", text, match.start(), match.end(), match.group().upper())
    _scan_documents(text, folded, spans)
    for match in _CEP.finditer(text):
        spans.add("cep", text, match.start(), match.end())
    for match in _CEP_BARE.finditer(folded):
        spans.add("cep", text, match.start("cep"), match.end("cep"))
    for match in _ORDER_HASH.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        spans.add("order_id", text, match.start(), match.end(), digits)
    for match in _ORDER_KEYWORD.finditer(folded):
        spans.add("order_id", text, match.start("id"), match.end("id"), match.group("id"))
    for match in _ORDER_KEYWORD_CODE.finditer(folded):
        code = text[match.start("id") : match.end("id")].upper()
        if code.rstrip("-0123456789") not in _NOT_SKU_PREFIXES - {"PED"}:
            spans.add("order_id", text, match.start("id"), match.end("id"), code)
    for match in _SKU.finditer(text):
        letters = match.group("letters")
        if letters.upper() in _NOT_SKU_PREFIXES:
            continue
        keyword = _SKU_KEYWORDS.search(folded, max(0, match.start() - 30), match.start())
        if match.group("hyphen") or letters.isupper() or keyword:
            spans.add("sku", text, match.start(), match.end(), match.group().upper())
    for pattern, kind in ((_MONEY, "money"), (_DATE, "date"), (_TIME, "time")):
        for match in pattern.finditer(text):
            spans.add(kind, text, match.start(), match.end())
    _scan_quantities(text, folded, spans)
    for match in _NUMBER.finditer(text):
        spans.add("number", text, match.start(), match.end())
    return sorted(spans.items, key=lambda c: c.start)


def _entity(candidate: Candidate, value: str) -> Entity:
    return Entity(candidate.kind, value, candidate.text, candidate.start, candidate.end)


def extract_from(candidates: Iterable[Candidate]) -> Extraction:
    """Validate and normalise the entities among ``candidates`` (from :func:`scan`)."""
    entities: list[Entity] = []
    invalid: list[InvalidDocument] = []
    for candidate in candidates:
        if candidate.kind in {"cpf", "cnpj"}:
            # A loosely written document carries its characters in value ("cinco dois...").
            check = check_document(candidate.value or candidate.text)
            expected = DocumentKind.cpf if candidate.kind == "cpf" else DocumentKind.cnpj
            if check.valid and check.kind is expected and check.value:
                entities.append(_entity(candidate, check.value))
            elif check.value:
                invalid.append(
                    InvalidDocument(
                        kind=candidate.kind,
                        value=check.value,
                        text=candidate.text,
                        start=candidate.start,
                        end=candidate.end,
                        reason=str(check.reason or "invalid"),
                    )
                )
        elif candidate.kind == "cep":
            cep = normalize_cep(candidate.text)
            if cep is not None:
                entities.append(_entity(candidate, cep))
        elif candidate.kind in ENTITY_TYPES:
            entities.append(_entity(candidate, candidate.value))
    return Extraction(tuple(entities), tuple(invalid))


def extract(text: str) -> Extraction:
    """The entities of ``text`` (validated and normalised) and the documents that failed."""
    return extract_from(scan(text))
