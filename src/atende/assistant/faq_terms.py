"""How the FAQ reads a question: the words that carry its topic, in a form that meets the words
of the passage that answers it.

Customers do not write like the FAQ ("posso trocar se nao servir?" against "Trocas e
devoluções"; "vcs entregam em manaus?" against "Norte e Nordeste: de 7 a 12 dias úteis"), so a
question and a passage are both turned into *terms*:

1. the classifier's own normalisation (:func:`atende.assistant.nlu.normalize.normalize`: no
   accents, WhatsApp abbreviations expanded, numbers masked), plus a few abbreviations that only
   matter here ("qto", "bh");
2. Brazilian places named to their region ("manaus" → "norte", "rio grande do sul" → "sul"),
   since FAQs state delivery by region and customers ask by city;
3. filler words dropped (what a question says *about* its topic: "posso", "como", "vcs");
4. Portuguese Snowball stems ("trocar", "trocas" → "troc"), the algorithm PostgreSQL's
   ``portuguese`` text search uses;
5. stems of one everyday topic folded into one concept ("troc", "devolv", "arrepend" →
   ``~troca``), so a paraphrase meets the passage with none of its words.

Measured on benchmarks/faq_questions.yaml (docs/benchmarks.md, faq): this reads paraphrases
better than a small multilingual embedding model and keeps unrelated questions out, at a
fraction of a millisecond per question. The concept table is ordinary shop vocabulary, not a
tenant's: a word that is in no group still matches itself.
"""

from __future__ import annotations

import re
from functools import lru_cache

# snowballstemmer ships no type information.
import snowballstemmer  # type: ignore[import-untyped]

from atende.assistant.nlu.normalize import normalize

__all__ = ["CONCEPTS", "GENERIC", "PLACES", "STOPWORDS", "terms"]

#: Abbreviations the classifier's normalisation leaves alone but a FAQ question uses.
_ABBREVIATIONS = {
    "qto": "quanto",
    "qnto": "quanto",
    "qt": "quanto",
    "qtos": "quantos",
    "qntos": "quantos",
    "qtas": "quantas",
    "qntas": "quantas",
    "nfe": "nota fiscal",
    "nfs": "nota fiscal",
    "end": "endereco",
    "ender": "endereco",
    "pgto": "pagamento",
    "pagto": "pagamento",
    "cartao": "cartao",
    "dev": "devolucao",
    "sab": "sabado",
    "dom": "domingo",
}

_REGIONS = {
    "norte": (
        "acre, amapa, amazonas, rondonia, roraima, tocantins, manaus, belem, macapa, boa vista,"
        " porto velho, rio branco, palmas, santarem, ac, ap, am, ro, rr"
    ),
    "nordeste": (
        "alagoas, bahia, ceara, maranhao, paraiba, pernambuco, piaui, sergipe, maceio, salvador,"
        " fortaleza, sao luis, joao pessoa, recife, teresina, aracaju, natal, olinda,"
        " feira de santana, juazeiro do norte, caruaru, campina grande, rio grande do norte,"
        " ba, pe, pb, rn, al, pi"
    ),
    "centro oeste": (
        "goias, mato grosso, mato grosso do sul, distrito federal, goiania, cuiaba,"
        " campo grande, brasilia, anapolis, df, ms"
    ),
    "sudeste": (
        "sao paulo, rio de janeiro, minas gerais, minas, espirito santo, belo horizonte,"
        " vitoria, campinas, santos, guarulhos, osasco, ribeirao preto, sorocaba,"
        " sao jose dos campos, niteroi, uberlandia, juiz de fora, contagem, sampa, bh, rio,"
        " sp, rj, mg, es"
    ),
    "sul": (
        "parana, santa catarina, rio grande do sul, curitiba, florianopolis, porto alegre,"
        " londrina, maringa, joinville, blumenau, caxias do sul, pelotas, floripa, poa, pr, sc"
    ),
}
#: Place (normalised) → region. Two-letter state codes that are also words ("to", "se", "pa",
#: "ma", "ce", "go", "mt") or laughter ("rs") are left out on purpose.
PLACES: dict[str, str] = {
    place.strip(): region for region, places in _REGIONS.items() for place in places.split(",")
}
# Longest first, so "rio grande do sul" is read before "rio".
_PLACE = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, PLACES), key=len, reverse=True)) + r")\b"
)

#: Words that say what a question asks *about* its topic, not the topic (after normalisation).
STOPWORDS = frozenset(
    """a o as os um uma uns umas de do da dos das no na nos nas em por para pra pro pros pras
    com sem que qual quais quando como e ou se ja nao sim voce voces eu meu minha meus minhas
    me mim te tu ele ela eles elas tem ter tenho ha sao ser sou foi esta estao esse essa isso
    este isto aqui ai la ao aos pelo pela gostaria queria quero saber sobre favor por oi ola
    bom boa dia tarde noite obrigado posso pode podem consigo consegue da dar faz fazem faco
    fazer vai vao vou agora hoje entao tipo mesmo muito mais menos so tudo todo toda algum
    alguma isso quanto quanta quantos quantas e ta tah eh olha ola moro sou uns onde fica ficam
    fico ficou ate cade aceita aceitam aceito partir amanha depois cai cair gente""".split()
) - {"onde"}

_STEMMER = snowballstemmer.stemmer("portuguese")

#: Everyday shop topics and the words customers use for each (stemmed on import, so "trocar",
#: "troca" and "trocas" need no separate entries).
CONCEPTS: dict[str, frozenset[str]] = {
    # Through the same normalisation as the text ("reembolso" becomes "rembolso" there).
    name: frozenset(_STEMMER.stemWords(normalize(words).split()))
    for name, words in {
        "troca": "troca devolver devolucao arrependi arrependimento servir serviu tamanho "
        "pequeno apertado gostei",
        "entrega": "entrega entregar enviar envio mandar frete transportadora correios "
        "jadlog sedex remessa despacho chegar chega",
        "prazo": "prazo demora demorar tempo rapido dias dia leva",
        "horario": "horario hora horas abre abrem abrir aberto fecha fecham fechar expediente "
        "atendimento atendemos",
        "endereco": "endereco localizacao onde rua cep metro",
        "retirada": "retirar retirada buscar busca pegar pessoalmente",
        "pagamento": "pagamento pagar pix boleto cartao credito debito parcelar parcelamento "
        "vezes dividir juros",
        "preco": "custo custa cobrar cobram gratis gratuito preco valor",
        "nota": "nota fiscal nfe emitir emitem",
        "garantia": "garantia defeito quebrado quebrou estragou estragado",
        "cancelamento": "cancelar cancelamento desistir estorno reembolso",
    }.items()
}
_CONCEPT_OF = {stem: f"~{name}" for name, stems in CONCEPTS.items() for stem in stems}
#: Stems of what every shop passage is about. They count towards a passage's coverage ("o
#: produto veio com defeito") but alone name no topic: "quero fazer um pedido" is an order, not
#: a FAQ question.
GENERIC = frozenset(
    _STEMMER.stemWords(
        normalize("pedido pedidos compra compras comprei produto produtos item itens coisa").split()
    )
)
_WORD = re.compile(r"[a-z0-9]+")


@lru_cache(maxsize=4096)
def _term(word: str) -> str:
    # Snowball's Portuguese rules read "-ções" but not its unaccented "-coes": fold the plural
    # back to "-cao" ("devolucoes" → "devolucao"), as customers write without accents.
    if len(word) > 5 and word.endswith("oes"):
        word = word[:-3] + "ao"
    stem = str(_STEMMER.stemWord(word))
    return _CONCEPT_OF.get(stem, stem)


def terms(text: str) -> list[str]:
    """The topic terms of ``text``, in order, without repeats."""
    words = normalize(text)
    words = " ".join(_ABBREVIATIONS.get(word, word) for word in words.split())
    words = _PLACE.sub(lambda match: PLACES[match.group(1)], words)
    found = (
        _term(word) for word in _WORD.findall(words) if len(word) > 1 and word not in STOPWORDS
    )
    return list(dict.fromkeys(found))
