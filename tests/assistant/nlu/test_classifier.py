from __future__ import annotations

import pickle
import threading
from collections import Counter
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from atende.assistant.nlu import INTENTS, Entity, Nlu, Understanding, classifier, default_nlu
from atende.assistant.nlu.classifier import (
    HELD_OUT_SETS,
    load_examples,
    load_expected_documents,
    normalized_examples,
)
from atende.assistant.nlu.entities import extract
from atende.assistant.nlu.normalize import normalize
from atende.brazil.documents import check_document

#: Quality gates (benchmarks/nlu.py reports the details). The independent set was written from
#: customers' situations, not from the intents, and is the better estimate of real traffic.
HELD_OUT_TARGETS = {"heldout": 0.965, "heldout_independent": 0.95}


@pytest.mark.parametrize("name", ["train", *HELD_OUT_SETS])
def test_data_ships_inside_the_package(name: str) -> None:
    data = resources.files("atende.assistant.nlu") / "data"
    assert (data / f"{name}.yaml").read_text("utf-8").startswith("#")


def test_every_intent_has_enough_examples() -> None:
    train = Counter(intent for _, intent in load_examples("train"))
    assert set(train) == set(INTENTS)
    assert min(train.values()) >= 60
    for name in HELD_OUT_SETS:
        held_out = Counter(intent for _, intent in load_examples(name))
        assert set(held_out) == set(INTENTS), name
        assert min(held_out.values()) >= 20, name


@pytest.mark.parametrize("name", HELD_OUT_SETS)
def test_held_out_never_overlaps_training_after_normalisation(name: str) -> None:
    train = {normalize(text) for text, _ in load_examples("train")}
    overlap = sorted(text for text, _ in load_examples(name) if normalize(text) in train)
    assert overlap == []


@pytest.mark.parametrize("name", HELD_OUT_SETS)
def test_held_out_accuracy(nlu: Nlu, name: str) -> None:
    """The quality gate of the model (benchmarks/nlu.py reports the details)."""
    examples = load_examples(name)
    right = sum(nlu.understand(text).intent == intent for text, intent in examples)
    assert right / len(examples) >= HELD_OUT_TARGETS[name]


def test_independent_set_documents_are_annotated_consistently() -> None:
    texts = {text for text, _ in load_examples("heldout_independent")}
    expected = load_expected_documents("heldout_independent")
    assert sum(len(documents) for documents in expected.values()) >= 50
    for text, documents in expected.items():
        assert text in texts
        for document in documents:
            kind, value = document.split(":")
            check = check_document(value)
            assert check.valid, document
            assert check.kind == kind, document


def test_every_document_of_the_independent_set_is_found_and_nothing_else() -> None:
    """Recall and precision of CPF/CNPJ on text the project did not write for the rules: every
    valid document found, in whatever shape it was typed or dictated; phones, wrong check digits,
    order numbers and amounts never taken for one."""
    expected = load_expected_documents("heldout_independent")
    wrong = []
    for text, _ in load_examples("heldout_independent"):
        found = tuple(
            f"{e.type}:{e.value}" for e in extract(text).entities if e.type in {"cpf", "cnpj"}
        )
        if found != expected.get(text, ()):
            wrong.append((text, found))
    assert wrong == []


TYPICAL = [
    ("Boa tarde! Preciso da segunda via do boleto de outubro, por favor", "invoice_copy"),
    ("oiii tudo bem?", "greeting"),
    ("muito obrigada pela ajuda 🙏", "thanks"),
    ("pode ser sim", "affirm"),
    ("não, obrigado, não precisa", "deny"),
    ("meu cpf é 529.982.247-25", "provide_document"),
    ("quanto eu tô devendo com vcs?", "open_invoices"),
    ("o pedido 12345 já foi aprovado?", "order_status"),
    ("quais foram as minhas compras do ano passado?", "order_history"),
    ("qual o código de rastreio do pedido 12345?", "delivery_tracking"),
    ("vocês têm a camiseta CAM-001 no tamanho M?", "stock_check"),
    ("quero comprar duas camisetas pretas", "place_order"),
    ("quero falar com um atendente humano por favor", "human_handoff"),
    ("o produto chegou quebrado, que absurdo", "complaint"),
    ("qual o horário de funcionamento da loja no sábado?", "business_info"),
    ("não quero mais receber mensagens", "opt_out"),
    ("quem ganhou o jogo ontem?", "out_of_scope"),
    ("tchau, até amanhã", "goodbye"),
]


def test_typical_messages_are_not_held_out() -> None:
    held_out = {normalize(text) for name in HELD_OUT_SETS for text, _ in load_examples(name)}
    assert not [text for text, _ in TYPICAL if normalize(text) in held_out]


@pytest.mark.parametrize(("text", "intent"), TYPICAL)
def test_typical_messages(nlu: Nlu, text: str, intent: str) -> None:
    understanding = nlu.understand(text)
    assert understanding.intent == intent
    assert 0.0 <= understanding.confidence <= 1.0


def test_understanding_carries_entities(nlu: Nlu) -> None:
    understanding = nlu.understand("oi boa tarde, 2a via do boleto, meu cpf é 529.982.247-25")
    assert understanding.intent == "invoice_copy"
    assert understanding.entities == (Entity("cpf", "52998224725", "529.982.247-25", 42, 56),)


def test_invalid_document_stays_out_of_entities(nlu: Nlu) -> None:
    understanding = nlu.understand("meu cpf é 529.982.247-24")
    assert understanding.intent == "provide_document"
    assert understanding.entities == ()
    assert [d.value for d in understanding.invalid_documents] == ["52998224724"]
    assert "invalid" not in str(understanding.to_json())


def test_to_json() -> None:
    understanding = Understanding(
        "place_order",
        0.912345678,
        (Entity("quantity", "2", "duas", 6, 10), Entity("sku", "CAM-001", "cam-001", 15, 22)),
    )
    assert understanding.to_json() == {
        "intent": "place_order",
        "confidence": 0.9123,
        "entities": [
            {"type": "quantity", "value": "2", "text": "duas"},
            {"type": "sku", "value": "CAM-001", "text": "cam-001"},
        ],
    }


def test_empty_message_is_out_of_scope(nlu: Nlu) -> None:
    assert nlu.understand("   ").to_json() == {
        "intent": "out_of_scope",
        "confidence": 0.0,
        "entities": [],
    }


def test_threshold_was_tuned_by_cross_validation(nlu: Nlu) -> None:
    # Tuned on the training data at fit time; a value at the top of the grid would mean the
    # model is unsure of everything.
    assert 0.0 <= nlu.model.threshold < 0.6


def test_low_confidence_becomes_out_of_scope() -> None:
    certain = Nlu(examples=_small_training_set(), threshold=0.99)
    assert certain.understand("quero a segunda via do boleto").intent == "out_of_scope"


def test_default_nlu_is_a_singleton() -> None:
    assert default_nlu() is default_nlu()


def _small_training_set() -> list[tuple[str, str]]:
    per_intent: Counter[str] = Counter()
    chosen = []
    for text, intent in load_examples("train"):
        if per_intent[intent] < 8:
            per_intent[intent] += 1
            chosen.append((text, intent))
    return chosen


def test_model_is_trained_once_under_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real_train = classifier.train

    def counting_train(*args: object, **kwargs: object) -> classifier.IntentModel:
        calls.append(1)
        return real_train(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(classifier, "train", counting_train)
    nlu = Nlu(examples=_small_training_set(), threshold=0.1)
    start = threading.Barrier(8)
    results: list[str] = []

    def worker() -> None:
        start.wait()
        results.append(nlu.understand("oi, boa tarde").intent)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(results) == 8


def test_cache_file_is_reused(tmp_path: Path) -> None:
    examples = _small_training_set()
    first = Nlu(cache_dir=tmp_path, examples=examples, threshold=0.1)
    first.warm_up()
    [cached] = list(tmp_path.glob("nlu-*.pickle"))
    assert first.model.training_seconds > 0

    second = Nlu(cache_dir=tmp_path, examples=examples, threshold=0.1)
    assert second.understand("oi") == first.understand("oi")
    assert second.model.fingerprint == first.model.fingerprint

    # Different training data never reads a stale file.
    third = Nlu(cache_dir=tmp_path, examples=examples[:-1], threshold=0.1)
    assert third.model.fingerprint != first.model.fingerprint
    assert len(list(tmp_path.glob("nlu-*.pickle"))) == 2
    assert cached.exists()


def test_corrupt_cache_file_is_replaced(tmp_path: Path) -> None:
    examples = _small_training_set()
    Nlu(cache_dir=tmp_path, examples=examples, threshold=0.1).warm_up()
    [cached] = list(tmp_path.glob("nlu-*.pickle"))
    cached.write_bytes(b"not a pickle")
    nlu = Nlu(cache_dir=tmp_path, examples=examples, threshold=0.1)
    assert nlu.understand("oi").intent in INTENTS
    assert nlu.model.training_seconds > 0


def test_the_fast_scorer_gives_the_pipelines_probabilities(nlu: Nlu) -> None:
    """The single-message scorer is arithmetic over the fitted parts: it must agree with
    scikit-learn's own predict_proba on every held-out message (and on odd inputs)."""
    model = nlu.model
    assert model.scorer is not None
    texts, _intents = normalized_examples(load_examples("heldout"))
    texts += ["", "zzzz qqqq", "DOC DOC DOC", "oi " * 300]
    expected = model.pipeline.predict_proba(texts)
    for text, probabilities in zip(texts, expected, strict=True):
        fast = model.scorer.predict_proba(text)
        assert np.allclose(fast, probabilities, atol=1e-5), text
        assert int(np.argmax(fast)) == int(np.argmax(probabilities))


def test_a_cached_model_rebuilds_its_scorer(nlu: Nlu) -> None:
    restored = pickle.loads(pickle.dumps(nlu.model))  # noqa: S301 - our own object
    assert restored.scorer is not None
    assert restored.classify("quero a segunda via do boleto") == nlu.model.classify(
        "quero a segunda via do boleto"
    )
