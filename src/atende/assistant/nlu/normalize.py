"""Text normalisation for the intent classifier.

Customers write the same thing in many ways ("Olá!!", "oiii", "OI 👋"); the classifier should see
one. :func:`normalize`:

* replaces what :func:`atende.assistant.nlu.entities.scan` recognises by an uppercase placeholder
  (``DOC`` for a CPF or CNPJ, valid or not; ``PHONE``, ``CEP``, ``EMAIL``, ``URL``, ``SKU``,
  ``MONEY``, ``DATE``, ``TIME`` and ``NUM`` for any other number), so the model learns
  "meu cpf é DOC" once instead of memorising numbers;
* maps emoji that carry intent to tokens (👍 → ``EMOJI_THUMBS``, 🙏 → ``EMOJI_PRAY``...) and drops
  the rest;
* lowercases, strips accents (unidecode), collapses letters repeated for emphasis ("oiii" → "oi",
  "nãooo" → "nao"; a double "rr" or "ss" is kept: "carro", "isso"), keeps "?" and "!" as tokens,
  drops other punctuation;
* expands common WhatsApp abbreviations ("vc" → "voce", "qto" → "quanto", "pfv" → "por favor",
  "obg" → "obrigado", "2a via" / "seg via" → "segunda via", "nf" → "nota fiscal") and folds
  laughter ("kkkk", "rsrs", "hahaha") into ``risos``.

Placeholders stay uppercase and every other token is lowercase, so they never collide with words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from unidecode import unidecode

from atende.assistant.nlu.entities import Candidate, scan

__all__ = ["EMOJI_TOKENS", "PLACEHOLDERS", "normalize", "normalize_from"]

_MASKS = {
    "cpf": "DOC",
    "cnpj": "DOC",
    "phone": "PHONE",
    "cep": "CEP",
    "email": "EMAIL",
    "url": "URL",
    "order_id": "NUM",
    "sku": "SKU",
    "money": "MONEY",
    "date": "DATE",
    "time": "TIME",
    "number": "NUM",
    "quantity": "NUM",
}
PLACEHOLDERS = frozenset(_MASKS.values())

_EMOJI_GROUPS = {
    # Approval: the thumbs up answers "posso confirmar?" and closes a conversation with thanks.
    "EMOJI_THUMBS": "👍👌✅✔☑🆗🤙💯",
    "EMOJI_THUMBS_DOWN": "👎",
    "EMOJI_NO": "❌✖⛔🚫🙅",
    "EMOJI_PRAY": "🙏",
    "EMOJI_CLAP": "👏🙌",
    "EMOJI_HEART": "❤♥💙💚💛💜🧡🖤🤍💕💖💗😍🥰😘",
    "EMOJI_SMILE": "😀😃😄😁🙂😊☺😉😅😎🤗",
    "EMOJI_LAUGH": "😂🤣😆",
    "EMOJI_ANGRY": "😡😠🤬😤💢👿",
    "EMOJI_SAD": "😢😭😞😔☹🙁😩😫😕😟😣😖🥺",
    "EMOJI_WAVE": "👋",
    "EMOJI_PACKAGE": "📦🚚🛵🚛",
    "EMOJI_MONEY": "💰💸💵🧾💳",
    "EMOJI_QUESTION": "🤔❓❔",
}
EMOJI_TOKENS = {char: token for token, chars in _EMOJI_GROUPS.items() for char in chars}
_INVISIBLE = frozenset("\u200d\ufe0f\ufe0e\u20e3")
_SYMBOL_CATEGORIES = frozenset({"So", "Sk", "Cs", "Co", "Cn"})

_ABBREVIATIONS = {
    "vc": "voce",
    "vcs": "voces",
    "ce": "voce",
    "pfv": "por favor",
    "pf": "por favor",
    "pfvr": "por favor",
    "pls": "por favor",
    "plz": "por favor",
    "porfavor": "por favor",
    "obg": "obrigado",
    "obgd": "obrigado",
    "obgda": "obrigado",
    "obgdo": "obrigado",
    "obrigada": "obrigado",
    "brigado": "obrigado",
    "brigada": "obrigado",
    "vlw": "valeu",
    "vlws": "valeu",
    "valew": "valeu",
    "qro": "quero",
    "qr": "quero",
    "kero": "quero",
    "qria": "queria",
    "keria": "queria",
    "tb": "tambem",
    "tbm": "tambem",
    "tmb": "tambem",
    "tbem": "tambem",
    "blz": "beleza",
    "blza": "beleza",
    "hj": "hoje",
    "q": "que",
    "oq": "o que",
    "pq": "porque",
    "prq": "porque",
    "porq": "porque",
    "n": "nao",
    "naum": "nao",
    "s": "sim",
    "ss": "sim",
    "td": "tudo",
    "tds": "todos",
    "msg": "mensagem",
    "msgs": "mensagens",
    "cmg": "comigo",
    "dps": "depois",
    "agr": "agora",
    "mt": "muito",
    "mto": "muito",
    "mtu": "muito",
    "mts": "muitos",
    "ctz": "certeza",
    "msm": "mesmo",
    "vdd": "verdade",
    "sla": "sei la",
    "flw": "falou",
    "xau": "tchau",
    "tchal": "tchau",
    "bj": "beijo",
    "bjs": "beijos",
    "bjo": "beijo",
    "bjos": "beijos",
    "abs": "abraco",
    "seg": "segunda",
    "2a": "segunda",
    "1a": "primeira",
    "nf": "nota fiscal",
    "nfe": "nota fiscal",
    "qdo": "quando",
    "qnd": "quando",
    "qndo": "quando",
    "tah": "ta",
    "eh": "e",
    "okay": "ok",
    "okey": "ok",
    "okei": "ok",
    "oks": "ok",
    "bd": "bom dia",
    "bt": "boa tarde",
    "bn": "boa noite",
    "qnt": "quantidade",
    "qtd": "quantidade",
    "qtde": "quantidade",
    "aki": "aqui",
    "eae": "e ai",
    "eai": "e ai",
    "iae": "e ai",
    "oie": "oi",
    "oe": "oi",
    "ent": "entao",
    "intao": "entao",
    "zap": "whatsapp",
    "zapzap": "whatsapp",
    "wpp": "whatsapp",
    "whats": "whatsapp",
    "atd": "atendente",
    "tmj": "tamo junto",
    "qto": "quanto",
    "qnto": "quanto",
    "qtos": "quantos",
    "dms": "demais",
    "nd": "nada",
    "ngm": "ninguem",
    "alg": "alguem",
    "algm": "alguem",
    "dnv": "de novo",
    "fds": "fim de semana",
    "qq": "qualquer",
    "qlq": "qualquer",
    "qlqr": "qualquer",
    "vce": "voce",
}
_LAUGHTER = re.compile(r"k+|(?:ha){2,}h?|(?:he){2,}h?|(?:hua){2,}|(?:rs)+|(?:kj)+k?")
# Three or more of a letter become one; two become one except the "rr" and "ss" of Portuguese
# spelling ("carro", "isso"), so "oii", "simm" and "obrigadoo" meet their dictionary form.
_REPEATED = re.compile(r"([a-z])\1{2,}|([a-qt-z])\2")
_PUNCTUATION = re.compile(r"[^a-z0-9?!\s]+")
_MARKS = re.compile(r"([?!])[?!\s]*")
# "2 via", "2a via", "2ª via": the digit is masked as a number unless it is this ordinal.
_SECOND_COPY = re.compile(r"\s*(?:[aª]\s*)?via\b", re.IGNORECASE)
_ORDINAL = re.compile(r"[aªoº°](?![^\W\d_])")


def _words(text: str) -> list[str]:
    text = unidecode(text).lower()
    text = _REPEATED.sub(lambda m: m.group(1) or m.group(2), text)
    text = _PUNCTUATION.sub(" ", text)
    text = _MARKS.sub(lambda m: f" {m.group(1)} ", text)
    words: list[str] = []
    for word in text.split():
        if _LAUGHTER.fullmatch(word):
            words.append("risos")
        else:
            words.extend(_ABBREVIATIONS.get(word, word).split())
    return words


def _plain(text: str, out: list[str]) -> None:
    """Normalise a stretch without recognised shapes, turning emoji into tokens."""
    run: list[str] = []
    for char in text:
        token = EMOJI_TOKENS.get(char)
        if token is None and char not in _INVISIBLE:
            if unicodedata.category(char) not in _SYMBOL_CATEGORIES:
                run.append(char)
            else:
                run.append(" ")
            continue
        if token is not None:
            out.extend(_words("".join(run)))
            run.clear()
            # "👍👍👍" says the same as "👍"
            if not out or out[-1] != token:
                out.append(token)
    out.extend(_words("".join(run)))


def normalize(text: str) -> str:
    """The classifier's view of ``text``: see the module docstring."""
    return normalize_from(text, scan(text))


def normalize_from(text: str, candidates: Iterable[Candidate]) -> str:
    """:func:`normalize` with the shapes of ``text`` already found by :func:`scan`."""
    out: list[str] = []
    position = 0
    for candidate in candidates:
        if candidate.kind == "quantity" and not candidate.text[:1].isdigit():
            continue  # "duas" stays a word
        if candidate.kind == "number":
            second = _SECOND_COPY.match(text, candidate.end) if candidate.text == "2" else None
            if second:
                _plain(text[position : candidate.start], out)
                out.extend(("segunda", "via"))
                position = second.end()
                continue
            if _ORDINAL.match(text, candidate.end):
                continue  # "1º", "3a": an ordinal, left to the word rules
        _plain(text[position : candidate.start], out)
        out.append(_MASKS[candidate.kind])
        if candidate.kind == "quantity" and candidate.text.rstrip().endswith(("x", "X")):
            out.append("x")
        position = max(position, candidate.end)
    _plain(text[position:], out)
    return " ".join(out)
