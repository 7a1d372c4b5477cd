"""Offline pt-BR intent classifier and the :class:`Nlu` facade (intent + entities).

The model is scikit-learn, trained from ``data/train.yaml`` the first time it is needed (about
3 s on one server core, threshold tuning included; see docs/benchmarks.md) and kept in memory
for the life of the process (optionally in a cache file as well):

* text → :func:`atende.assistant.nlu.normalize.normalize` (placeholders, accents, emoji...);
* features: TF-IDF of word 1-2-grams and of character 2-5-grams within word boundaries
  (``char_wb``), so typos and unknown inflections still share most of their features;
* a multinomial logistic regression, whose probabilities are the confidence.

Below :attr:`IntentModel.threshold` the intent becomes ``out_of_scope``. The threshold is tuned
at training time by 5-fold cross-validation on the training data only (the value that maximises
cross-validated accuracy); the held-out set is never looked at.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import sklearn  # type: ignore[import-untyped]  # scikit-learn ships no type information
import yaml
from sklearn.feature_extraction.text import (  # type: ignore[import-untyped]  # no stubs
    TfidfVectorizer,
)
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]  # no stubs
from sklearn.model_selection import (  # type: ignore[import-untyped]  # no stubs
    StratifiedKFold,
    cross_val_predict,
)
from sklearn.pipeline import FeatureUnion, Pipeline  # type: ignore[import-untyped]  # no stubs
from unidecode import unidecode

from atende.assistant.nlu.entities import Entity, InvalidDocument, extract_from, scan
from atende.assistant.nlu.normalize import normalize_from

__all__ = [
    "HELD_OUT_SETS",
    "INTENTS",
    "OUT_OF_SCOPE",
    "IntentModel",
    "Nlu",
    "Understanding",
    "build_pipeline",
    "cross_validate",
    "default_nlu",
    "load_examples",
    "load_expected_documents",
    "normalized_examples",
    "thresholded",
    "train",
    "tune_threshold",
]

# Plain stdlib logging, not structlog: `atende nlu` prints JSON on stdout without configuring
# logging, and an unconfigured structlog would print there too; the stdlib drops INFO and sends
# warnings to stderr until the app's configure_logging() routes both through structlog.
log = logging.getLogger(__name__)

OUT_OF_SCOPE = "out_of_scope"
INTENTS = (
    "greeting",
    "goodbye",
    "thanks",
    "affirm",
    "deny",
    "provide_document",
    "invoice_copy",
    "open_invoices",
    "order_status",
    "order_history",
    "delivery_tracking",
    "stock_check",
    "place_order",
    "human_handoff",
    "complaint",
    "business_info",
    "opt_out",
    OUT_OF_SCOPE,
)

#: Bump when the features or the model change, so that cache files of older code are ignored.
MODEL_VERSION = 1
_SOURCES = ("classifier.py", "normalize.py", "entities.py")
_THRESHOLD_GRID = np.round(np.arange(0.0, 0.61, 0.01), 2)
_FOLDS = 5
_SEED = 20260


@dataclass(frozen=True)
class Understanding:
    intent: str
    #: The model's probability of ``intent`` (0..1).
    confidence: float
    entities: tuple[Entity, ...]
    #: CPF/CNPJ-shaped numbers whose check digits are wrong: never entities, but the assistant
    #: may ask the customer to check them. Not part of :meth:`to_json`.
    invalid_documents: tuple[InvalidDocument, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "confidence": round(self.confidence, 4),
            "entities": [{"type": e.type, "value": e.value, "text": e.text} for e in self.entities],
        }


def load_examples(name: str = "train") -> list[tuple[str, str]]:
    """``(text, intent)`` pairs from ``data/<name>.yaml`` shipped inside the package."""
    raw = (resources.files("atende.assistant.nlu") / "data" / f"{name}.yaml").read_text("utf-8")
    document = yaml.safe_load(raw)
    examples: list[tuple[str, str]] = []
    for intent, texts in document["intents"].items():
        if intent not in INTENTS:
            raise ValueError(f"{name}.yaml: unknown intent {intent!r}")
        for text in texts:
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"{name}.yaml: {intent}: not a non-empty string: {text!r}")
            examples.append((text, intent))
    return examples


#: The evaluation sets in ``data/``, never trained on: ``heldout`` was written with the training
#: data; ``heldout_independent`` before the training data was widened, from customers' situations
#: rather than from intents, and no training example was derived from it.
HELD_OUT_SETS = ("heldout", "heldout_independent")


def load_expected_documents(name: str) -> dict[str, tuple[str, ...]]:
    """The ``documents`` section of ``data/<name>.yaml``: message → ``("cpf:<digits>", ...)``.

    Every other message of the set must yield no CPF or CNPJ entity.
    """
    raw = (resources.files("atende.assistant.nlu") / "data" / f"{name}.yaml").read_text("utf-8")
    documents = yaml.safe_load(raw).get("documents") or {}
    return {text: tuple(expected) for text, expected in documents.items()}


def normalized_examples(
    examples: Sequence[tuple[str, str]],
) -> tuple[list[str], list[str]]:
    """``(normalised texts, intents)`` of ``(text, intent)`` pairs."""
    return [normalize_from(text, scan(text)) for text, _ in examples], [i for _, i in examples]


def build_pipeline() -> Pipeline:
    """The unfitted features + model; takes normalised texts."""
    # normalize() already lowercased everything but the uppercase placeholders, which must stay
    # distinct from words ("DOC" is not "doc"), hence lowercase=False. Tokens are whatever
    # normalize() separated with spaces, including "?" and "!".
    features = FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=(1, 2),
                    token_pattern=r"\S+",  # noqa: S106 - a regex, not a password
                    lowercase=False,
                    sublinear_tf=True,
                    dtype=np.float32,
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    lowercase=False,
                    sublinear_tf=True,
                    dtype=np.float32,
                ),
            ),
        ]
    )
    # C and the solver were chosen by 5-fold cross-validation on the training data: saga with a
    # loose tolerance fits these sparse features several times faster than lbfgs (training,
    # threshold tuning included, has to stay within a few seconds at start-up) at the same
    # accuracy. A fixed random_state keeps the model identical from one start to the next.
    model = LogisticRegression(C=10.0, solver="saga", tol=1e-3, max_iter=1000, random_state=0)
    return Pipeline([("features", features), ("model", model)])


def cross_validate(
    texts: Sequence[str], intents: Sequence[str], *, folds: int = _FOLDS, seed: int = _SEED
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """``(classes, probabilities)``: each example predicted by the fold model that did not see it.

    ``texts`` are normalised. ``probabilities[i, j]`` is the probability of ``classes[j]``.
    """
    labels = np.asarray(intents)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    probabilities = cross_val_predict(
        build_pipeline(), list(texts), labels, cv=splitter, method="predict_proba"
    )
    return np.unique(labels), probabilities


def thresholded(
    classes: np.ndarray[Any, Any], probabilities: np.ndarray[Any, Any], threshold: float
) -> np.ndarray[Any, Any]:
    """The predicted intents, ``out_of_scope`` where the best probability is below threshold."""
    best = classes[probabilities.argmax(axis=1)]
    return np.where(probabilities.max(axis=1) >= threshold, best, OUT_OF_SCOPE)


def tune_threshold(
    texts: Sequence[str], intents: Sequence[str], *, folds: int = _FOLDS, seed: int = _SEED
) -> float:
    """The confidence threshold that maximises cross-validated accuracy on ``texts``.

    ``texts`` are normalised. Among the thresholds with the best accuracy, the middle one is
    returned, so that a plateau does not pin it to an edge.
    """
    classes, probabilities = cross_validate(texts, intents, folds=folds, seed=seed)
    labels = np.asarray(intents)
    accuracies = np.array(
        [np.mean(thresholded(classes, probabilities, t) == labels) for t in _THRESHOLD_GRID]
    )
    winners = _THRESHOLD_GRID[accuracies >= accuracies.max() - 1e-12]
    return float(winners[len(winners) // 2])


class FastScorer:
    """``pipeline.predict_proba`` for ONE text, computed from the fitted parts' public attributes.

    scikit-learn is built for batches: for a single message its per-call machinery (FeatureUnion
    through joblib, fitted checks, input validation) costs about ten times the arithmetic, over a
    millisecond a message on this machine kind (docs/benchmarks.md). The arithmetic is small:
    per vectoriser, the analyzer's tokens counted against the vocabulary, sublinear tf times idf,
    l2-normalised; then the logistic regression's scores and a softmax. A test checks that it
    gives the pipeline's probabilities on every held-out message.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        union: FeatureUnion = pipeline.named_steps["features"]
        model: LogisticRegression = pipeline.named_steps["model"]
        self.classes = model.classes_
        coef = np.asarray(model.coef_, dtype=np.float64)
        self._intercept = np.asarray(model.intercept_, dtype=np.float64)
        self._parts = []
        offset = 0
        for _name, vectorizer in union.transformer_list:
            if union.transformer_weights or vectorizer.norm != "l2" or not vectorizer.sublinear_tf:
                raise ValueError("FastScorer expects the features of build_pipeline()")
            size = len(vectorizer.vocabulary_)
            self._parts.append(
                (
                    vectorizer.build_analyzer(),
                    vectorizer.vocabulary_,
                    np.asarray(vectorizer.idf_, dtype=np.float64),
                    coef[:, offset : offset + size],
                )
            )
            offset += size

    def predict_proba(self, text: str) -> Any:
        scores = self._intercept.copy()
        for analyze, vocabulary, idf, coef in self._parts:
            counts = Counter(
                i for token in analyze(text) if (i := vocabulary.get(token)) is not None
            )
            if not counts:
                continue
            columns = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
            tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
            weights = tf * idf[columns]
            weights /= np.sqrt(np.dot(weights, weights))
            scores += coef[:, columns] @ weights
        scores -= scores.max()
        exp = np.exp(scores)
        return exp / exp.sum()


@dataclass(frozen=True)
class IntentModel:
    pipeline: Pipeline
    threshold: float
    fingerprint: str
    #: Seconds spent fitting (threshold tuning included); 0 when loaded from a cache file.
    training_seconds: float = 0.0
    scorer: FastScorer | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scorer", FastScorer(self.pipeline))

    # The cache file holds the pipeline; the scorer is derived from it when loaded.
    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "scorer"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        object.__setattr__(self, "scorer", FastScorer(self.pipeline))

    def classify(self, normalized: str) -> tuple[str, float]:
        """``(intent, probability)`` for a normalised text."""
        assert self.scorer is not None
        probabilities = self.scorer.predict_proba(normalized)
        classes = self.scorer.classes
        index = int(np.argmax(probabilities))
        intent, confidence = str(classes[index]), float(probabilities[index])
        if confidence < self.threshold and intent != OUT_OF_SCOPE:
            oos = np.flatnonzero(classes == OUT_OF_SCOPE)
            return OUT_OF_SCOPE, float(probabilities[oos[0]]) if oos.size else 0.0
        return intent, confidence


def _fingerprint(examples: Sequence[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    digest.update(f"v{MODEL_VERSION} sklearn {sklearn.__version__}\n".encode())
    package = resources.files("atende.assistant.nlu")
    for name in _SOURCES:
        digest.update((package / name).read_bytes())
    for text, intent in examples:
        digest.update(f"{intent}\t{text}\n".encode())
    return digest.hexdigest()[:16]


def train(
    examples: Sequence[tuple[str, str]] | None = None, *, threshold: float | None = None
) -> IntentModel:
    """Fit the classifier; tune the threshold by cross-validation unless one is given."""
    examples = list(examples) if examples is not None else load_examples("train")
    started = time.perf_counter()
    texts, intents = normalized_examples(examples)
    if threshold is None:
        threshold = tune_threshold(texts, intents)
    pipeline = build_pipeline().fit(texts, intents)
    return IntentModel(
        pipeline=pipeline,
        threshold=threshold,
        fingerprint=_fingerprint(examples),
        training_seconds=time.perf_counter() - started,
    )


def _load_cached(path: Path, fingerprint: str) -> IntentModel | None:
    try:
        with path.open("rb") as file:
            # The cache directory is the operator's own (passed in code, never from a request);
            # pickle is how scikit-learn models are saved.
            model = pickle.load(file)  # noqa: S301
    except Exception as error:  # whatever broke the file, retraining fixes it
        log.warning("nlu cache %s unreadable, retraining: %r", path, error)
        return None
    if not isinstance(model, IntentModel) or model.fingerprint != fingerprint:
        return None
    return model


def _save_cached(path: Path, model: IntentModel) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed, so a concurrent reader never sees half a file.
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".nlu-", suffix=".tmp")
        with os.fdopen(handle, "wb") as file:
            pickle.dump(model, file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    except OSError as error:
        log.warning("nlu cache %s not written: %r", path, error)


class Nlu:
    """Intent and entities of a customer message.

    Thread-safe. The model is trained (or loaded from ``cache_dir``) on the first call to
    :meth:`understand` or :meth:`warm_up`, once per instance; use :func:`default_nlu` to share one
    instance across the process.
    """

    def __init__(
        self,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        examples: Sequence[tuple[str, str]] | None = None,
        threshold: float | None = None,
    ) -> None:
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._examples = list(examples) if examples is not None else None
        self._threshold = threshold
        self._model: IntentModel | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_model(cls, model: IntentModel) -> Nlu:
        """An :class:`Nlu` around an already trained model (benchmarks, experiments)."""
        nlu = cls()
        nlu._model = model
        return nlu

    @property
    def model(self) -> IntentModel:
        model = self._model
        if model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._build()
                model = self._model
        return model

    def _build(self) -> IntentModel:
        examples = self._examples if self._examples is not None else load_examples("train")
        path = None
        if self._cache_dir is not None:
            fingerprint = _fingerprint(examples)
            suffix = "" if self._threshold is None else f"-t{self._threshold:.4f}"
            path = self._cache_dir / f"nlu-{fingerprint}{suffix}.pickle"
            cached = _load_cached(path, fingerprint) if path.exists() else None
            if cached is not None:
                return cached
        model = train(examples, threshold=self._threshold)
        log.info(
            "nlu model trained in %.2f s on %d examples (threshold %.2f)",
            model.training_seconds,
            len(examples),
            model.threshold,
        )
        if path is not None:
            _save_cached(path, model)
        return model

    def warm_up(self) -> None:
        """Train (or load) the model now instead of on the first message."""
        _ = self.model

    def understand(self, text: str) -> Understanding:
        candidates = scan(text)
        extraction = extract_from(candidates)
        normalized = normalize_from(text, candidates)
        if not normalized:
            return Understanding(
                OUT_OF_SCOPE, 0.0, extraction.entities, extraction.invalid_documents
            )
        if _OPT_OUT_KEYWORD.fullmatch(unidecode(text).lower()):
            return Understanding("opt_out", 1.0, extraction.entities, extraction.invalid_documents)
        intent, confidence = self.model.classify(_for_intent(normalized))
        return Understanding(intent, confidence, extraction.entities, extraction.invalid_documents)


#: The keywords that opt out of a business's messages on WhatsApp in Brazil ("Responda SAIR
#: para não receber mais"), sent alone: a rule, not the model, so that the keyword printed under a
#: campaign always works (the model reads a bare "sair" with low confidence).
_OPT_OUT_KEYWORD = re.compile(r"\W*(?:parar|pare|sair|stop|descadastrar)\W*")


#: Characters of a message the intent model reads. A long message (or a burst of fragments) says
#: what it wants at its start or its end; reading only those keeps a 5 KB message as cheap to
#: classify as a short one (entities are still taken from the whole text).
INTENT_WINDOW = 600


def _for_intent(normalized: str) -> str:
    if len(normalized) <= INTENT_WINDOW:
        return normalized
    half = INTENT_WINDOW // 2
    return normalized[:half] + " " + normalized[-half:]


_default: Nlu | None = None
_default_lock = threading.Lock()


def default_nlu() -> Nlu:
    """The process-wide :class:`Nlu` (in-memory model, trained on first use)."""
    global _default  # noqa: PLW0603 - a lazily built process-wide singleton
    nlu = _default
    if nlu is None:
        with _default_lock:
            if _default is None:
                _default = Nlu()
            nlu = _default
    return nlu
