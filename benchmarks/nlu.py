"""Offline pt-BR NLU benchmark: intent accuracy, document precision, latency.

Run with ``.venv/bin/python benchmarks/nlu.py``; it rewrites the ``nlu`` section of
docs/benchmarks.md (``--output -`` leaves it alone). Everything is in this process, from the
data shipped in the package:

1. **Training**: a fresh model from ``data/train.yaml`` (threshold tuning included), timed.
2. **Intents**: accuracy, macro-F1 and per-intent precision/recall/F1 (scikit-learn metrics) on
   the two held-out sets, which training never sees: ``data/heldout.yaml`` (written with the
   training data) and ``data/heldout_independent.yaml`` (written first, from customers'
   situations); for comparison, 5-fold cross-validated accuracy on the training data.
3. **Documents**: the CPFs and CNPJs annotated in ``data/heldout_independent.yaml`` (every other
   message of that set must yield none); and generated messages (seeded) with valid and invalid
   CPFs and CNPJs (numeric and alphanumeric, formatted, bare, loosely written or dictated in
   words) and with phone numbers whose 11 digits *are* valid CPF check digits, written in phone
   formats, next to phone words or dictated. Precision is the share of CPF/CNPJ entities returned
   that are right (type and value); every other CPF/CNPJ entity is a false accept.
4. **Latency**: ``Nlu.understand`` (entities + normalisation + classifier) on every message of
   both held-out sets, ``--repeat`` times, after one warm-up pass; ``time.perf_counter`` per
   message.

Quality targets (accuracy, document precision) missed make the exit status 1; the latency
target is reported only, because shared machines make timings drift.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sections import write_section
from sklearn.metrics import accuracy_score, classification_report, f1_score

from atende.assistant.nlu.classifier import (
    HELD_OUT_SETS,
    INTENTS,
    Nlu,
    cross_validate,
    load_examples,
    load_expected_documents,
    normalized_examples,
    thresholded,
    train,
)
from atende.assistant.nlu.entities import extract
from atende.brazil.documents import check_document

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "benchmarks.md"
COMMAND = ".venv/bin/python benchmarks/nlu.py"

TARGET_ACCURACY = {"heldout": 0.965, "heldout_independent": 0.95}
TARGET_DOCUMENT_PRECISION = 1.0
TARGET_DOCUMENT_RECALL = 1.0
TARGET_P95_MS = 5.0

# --- generated documents ----------------------------------------------------------------------

_CNPJ_WEIGHTS = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_AREA_CODES = ("11", "21", "31", "41", "47", "51", "61", "71", "81", "85", "91", "92")

_DOCUMENT_TEMPLATES = (
    "meu cpf é {}",
    "{}",
    "segue o documento: {}",
    "oi, boa tarde! preciso da 2a via do boleto, {} é o documento",
    "o cadastro está no {} obrigado",
    "pode consultar {} pfv",
    "cnpj/cpf {} 👍",
    "pedido 12345 no documento {}, entrega no cep 01310-100",
)
# Loose shapes are documents only next to a document word (entities.py), hence these templates.
_LOOSE_TEMPLATES = (
    "meu cpf é {}",
    "é... o documento é {} tá",
    "cpf: {} obrigada",
    "o cnpj/cpf do titular {}",
)
_SPOKEN = ("zero", "um", "dois", "três", "quatro", "cinco", "meia", "sete", "oito", "nove")
_DICTATED_PHONE_TEMPLATES = (
    "me liga no {}",
    "meu celular é {}",
    "o zap é {} pode chamar",
)
_PHONE_TEMPLATES = (
    "meu telefone é {}",
    "me liga no {}",
    "whats {}",
    "{} é meu celular",
    "pode chamar no zap {} depois das 18h",
    "contato: {}",
    "meu cpf já mandei, o celular é {}",
)


def _cpf(base: Sequence[int]) -> str:
    digits = list(base)
    for length in (9, 10):
        total = sum(d * (length + 1 - i) for i, d in enumerate(digits[:length]))
        digits.append(total * 10 % 11 % 10)
    return "".join(map(str, digits))


def _cnpj(root: str) -> str:
    values = [ord(c) - 48 for c in root]
    for length in (12, 13):
        weights = _CNPJ_WEIGHTS[13 - length :]
        remainder = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
        values.append(0 if remainder < 2 else 11 - remainder)
    return root + "".join(str(v) for v in values[12:])


def _format_cpf(digits: str, rng: random.Random) -> str:
    style = rng.randrange(3)
    if style == 0:
        return f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"
    if style == 1:
        return digits
    return f"{digits[:9]}-{digits[9:]}"


def _loose(digits: str, rng: random.Random) -> str:
    """``digits`` as typed in a hurry, grouped by a voice transcript, or dictated in words."""
    style = rng.randrange(5)
    if style == 0:  # words, "meia" for six, sometimes with the punctuation read aloud
        words = [_SPOKEN[int(d)] for d in digits]
        if len(digits) == 11 and rng.random() < 0.5:
            words[2] += " ponto"
            words[5] += " ponto"
            words[8] += " traço"
        return " ".join(words)
    if style == 1:  # any grouping, as transcripts write what was said
        groups, rest = [], digits
        while rest:
            size = rng.randint(1, 4)
            groups.append(rest[:size])
            rest = rest[size:]
        return " ".join(groups)
    if len(digits) == 14:
        parts = [digits[:2], digits[2:5], digits[5:8], digits[8:12], digits[12:]]
    else:
        parts = [digits[:3], digits[3:6], digits[6:9], digits[9:]]
    if style == 2:
        return ",".join(parts[:-1]) + "-" + parts[-1]
    if style == 3:
        return ".".join(parts[:-1]) + " - " + parts[-1]
    return "-".join(parts)


def _format_cnpj(value: str, rng: random.Random) -> str:
    if rng.random() < 0.7:
        return f"{value[:2]}.{value[2:5]}.{value[5:8]}/{value[8:12]}-{value[12:]}"
    return value


def _mutated(value: str, rng: random.Random, alphabet: str) -> str:
    """``value`` with one character changed such that it is no longer a valid document."""
    while True:
        position = rng.randrange(len(value))
        choices = alphabet if position < 12 else "0123456789"
        replacement = rng.choice([c for c in choices if c != value[position]])
        candidate = value[:position] + replacement + value[position + 1 :]
        if not check_document(candidate).valid:
            return candidate


def _phone(rng: random.Random) -> str:
    """A mobile number (area code, 9, 8 digits) whose 11 digits are also a valid CPF."""
    base = [int(c) for c in rng.choice(_AREA_CODES) + "9"] + [rng.randrange(10) for _ in range(6)]
    digits = _cpf(base)
    assert check_document(digits).valid
    ddd, number = digits[:2], digits[2:]
    return rng.choice(
        (
            f"({ddd}) {number[:5]}-{number[5:]}",
            f"{ddd} {number[:5]}-{number[5:]}",
            f"+55 {ddd} {number[:5]}-{number[5:]}",
            f"+55{digits}",
            f"+55 ({ddd}) {number}",
            digits,
        )
    )


@dataclass
class DocumentResult:
    cases: Counter[str]
    correct: int
    false_accepts: Counter[str]
    missed: int
    examples_of_errors: list[str]

    @property
    def returned(self) -> int:
        return self.correct + sum(self.false_accepts.values())

    @property
    def precision(self) -> float:
        return self.correct / self.returned if self.returned else 1.0

    @property
    def recall(self) -> float:
        valid = sum(n for kind, n in self.cases.items() if kind.startswith("valid"))
        return self.correct / valid if valid else 1.0


def document_benchmark(per_kind: int, seed: int) -> DocumentResult:
    rng = random.Random(seed)
    cases: list[tuple[str, str, tuple[str, str] | None]] = []
    for _ in range(per_kind):
        base = [rng.randrange(10) for _ in range(9)]
        while len(set(base)) == 1:
            base = [rng.randrange(10) for _ in range(9)]
        cpf = _cpf(base)
        template = rng.choice(_DOCUMENT_TEMPLATES)
        cases.append(("valid CPF", template.format(_format_cpf(cpf, rng)), ("cpf", cpf)))
        bad = _mutated(cpf, rng, "0123456789")
        cases.append(("invalid CPF", template.format(_format_cpf(bad, rng)), None))
    for index in range(per_kind):
        alphabet = _ALPHANUMERIC if index % 2 else "0123456789"
        root = "".join(rng.choice(alphabet) for _ in range(12))
        cnpj = _cnpj(root)
        template = rng.choice(_DOCUMENT_TEMPLATES)
        cases.append(("valid CNPJ", template.format(_format_cnpj(cnpj, rng)), ("cnpj", cnpj)))
        bad = _mutated(cnpj, rng, alphabet)
        cases.append(("invalid CNPJ", template.format(_format_cnpj(bad, rng)), None))
    for index in range(per_kind):
        base = [rng.randrange(10) for _ in range(9)]
        while len(set(base)) == 1:
            base = [rng.randrange(10) for _ in range(9)]
        # A quarter of the loose cases are numeric CNPJs (the alphanumeric one has no loose form).
        if index % 4 == 3:
            kind, value = "cnpj", _cnpj("".join(rng.choice("0123456789") for _ in range(12)))
        else:
            kind, value = "cpf", _cpf(base)
        template = rng.choice(_LOOSE_TEMPLATES)
        cases.append(("valid, loose", template.format(_loose(value, rng)), (kind, value)))
        bad = _mutated(value, rng, "0123456789")
        cases.append(("invalid, loose", template.format(_loose(bad, rng)), None))
    for _ in range(per_kind):
        cases.append(("phone", rng.choice(_PHONE_TEMPLATES).format(_phone(rng)), None))
        digits = re.sub(r"\D", "", _phone(rng))[-11:]
        spoken = " ".join(_SPOKEN[int(d)] for d in digits)
        cases.append(("dictated phone", rng.choice(_DICTATED_PHONE_TEMPLATES).format(spoken), None))
    return _score_documents(cases)


def held_out_documents(name: str) -> DocumentResult:
    """CPF/CNPJ found in a held-out set against its ``documents`` annotations."""
    expected = load_expected_documents(name)
    cases: list[tuple[str, str, tuple[str, str] | None]] = []
    for text, _intent in load_examples(name):
        documents = expected.get(text, ())
        if not documents:
            cases.append(("no document", text, None))
        for document in documents:
            kind, value = document.split(":")
            cases.append((f"valid {kind.upper()}", text, (kind, value)))
    return _score_documents(cases, per_message=False)


def _score_documents(
    cases: Sequence[tuple[str, str, tuple[str, str] | None]], *, per_message: bool = True
) -> DocumentResult:
    """Score each case's CPF/CNPJ entities. A message with several documents comes as one case
    per document (``per_message=False``): its entities are counted once, against all of them."""
    by_text: dict[str, set[tuple[str, str]]] = {}
    for _kind, text, expected in cases:
        if expected is not None:
            by_text.setdefault(text, set()).add(expected)
    correct = missed = 0
    false_accepts: Counter[str] = Counter()
    errors: list[str] = []
    scored: set[str] = set()
    for kind, text, expected in cases:
        found = [(e.type, e.value) for e in extract(text).entities if e.type in {"cpf", "cnpj"}]
        if per_message or text not in scored:
            scored.add(text)
            wanted = {expected} if per_message else by_text.get(text, set())
            for entity in found:
                if entity in wanted:
                    correct += 1
                else:
                    false_accepts[kind] += 1
                    errors.append(f"{kind}: {text!r} -> {entity}")
        if expected is not None and expected not in found:
            missed += 1
            errors.append(f"{kind} missed: {text!r}")
    return DocumentResult(Counter(k for k, _, _ in cases), correct, false_accepts, missed, errors)


# --- intents and latency ----------------------------------------------------------------------


@dataclass
class IntentResult:
    name: str
    accuracy: float
    macro_f1: float
    report: dict[str, Any]
    confusions: list[tuple[tuple[str, str], int]]
    wrong: list[tuple[str, str, str]]

    @property
    def count(self) -> int:
        return int(self.report["macro avg"]["support"])

    @property
    def target(self) -> float:
        return TARGET_ACCURACY[self.name]

    def weakest(self, n: int = 3) -> list[tuple[str, float]]:
        ranked = sorted(INTENTS, key=lambda i: (self.report[i]["f1-score"], i))
        return [(intent, float(self.report[intent]["f1-score"])) for intent in ranked[:n]]


def intent_benchmark(nlu: Nlu, name: str) -> IntentResult:
    held_out = load_examples(name)
    truth = [intent for _, intent in held_out]
    predicted = [nlu.understand(text).intent for text, _ in held_out]
    report = classification_report(
        truth, predicted, labels=list(INTENTS), output_dict=True, zero_division=0
    )
    pairs = zip(held_out, predicted, strict=True)
    wrong = [(text, intent, guess) for (text, intent), guess in pairs if intent != guess]
    return IntentResult(
        name=name,
        accuracy=float(accuracy_score(truth, predicted)),
        macro_f1=float(f1_score(truth, predicted, labels=list(INTENTS), average="macro")),
        report=report,
        confusions=Counter((t, p) for _, t, p in wrong).most_common(8),
        wrong=wrong,
    )


def cross_validated_accuracy(threshold: float) -> float:
    texts, intents = normalized_examples(load_examples("train"))
    classes, probabilities = cross_validate(texts, intents)
    predicted = thresholded(classes, probabilities, threshold)
    return float(np.mean(predicted == np.asarray(intents)))


@dataclass
class Latency:
    samples: list[float]

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.samples, q))


def latency_texts() -> list[str]:
    return [text for name in HELD_OUT_SETS for text, _ in load_examples(name)]


def latency_benchmark(understand: Callable[[str], object], repeat: int) -> Latency:
    texts = latency_texts()
    for text in texts:
        understand(text)
    samples: list[float] = []
    for _ in range(repeat):
        for text in texts:
            started = time.perf_counter()
            understand(text)
            samples.append((time.perf_counter() - started) * 1000)
    return Latency(samples)


# --- report -----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        cpu = model.group(1).strip() if model else cpu
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count() or "?"),
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "os": platform.platform(),
        # Timings scale with whatever else runs on the machine: say how busy it was.
        "load": f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "?",
    }


def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"


_SET_TITLES = {"heldout": "held-out", "heldout_independent": "independent held-out"}


def render(
    *,
    date: str,
    info: dict[str, str],
    training_seconds: float,
    training_cpu: float,
    threshold: float,
    train_count: int,
    intents: Sequence[IntentResult],
    cv_accuracy: float,
    held_out_documents: DocumentResult,
    documents: DocumentResult,
    latency: Latency,
    repeat: int,
) -> str:
    p50, p95, p99 = (latency.percentile(q) for q in (50, 95, 99))
    lines = [
        "# NLU benchmark",
        "",
        f"Generated by `{COMMAND}`; do not edit by hand, run it again.",
        "",
        f"- **Date**: {date}",
        f"- **Machine**: {info['cpu']}, {info['cores']} cores, {info['os']}; load average "
        f"{info['load']} when the run started (other jobs on the machine slow the timings)",
        f"- **Software**: Python {info['python']}, scikit-learn {info['sklearn']}",
        f"- **Command**: `{COMMAND}`",
        "",
        "## Summary",
        "",
        "| measure | result | target | |",
        "|---|---:|---:|---|",
    ]
    for result in intents:
        title = _SET_TITLES[result.name]
        weakest = ", ".join(f"{intent} {f1:.2f}" for intent, f1 in result.weakest())
        lines += [
            f"| {title} accuracy ({result.count} messages) | {result.accuracy:.1%} | "
            f"≥ {result.target:.1%} | {_mark(result.accuracy >= result.target)} |",
            f"| {title} macro-F1; weakest F1 | {result.macro_f1:.3f}; {weakest} | | |",
        ]
    lines += [
        f"| documents in the independent set: precision / recall | "
        f"{held_out_documents.precision:.2%} / {held_out_documents.recall:.2%} "
        f"({held_out_documents.correct} of {held_out_documents.correct + held_out_documents.missed}"
        f" found) | 100% / 100% | "
        f"{_mark(held_out_documents.precision >= TARGET_DOCUMENT_PRECISION)} "
        f"{_mark(held_out_documents.recall >= TARGET_DOCUMENT_RECALL)} |",
        f"| generated documents: precision / recall | {documents.precision:.2%} / "
        f"{documents.recall:.2%} | 100% / 100% | "
        f"{_mark(documents.precision >= TARGET_DOCUMENT_PRECISION)} "
        f"{_mark(documents.recall >= TARGET_DOCUMENT_RECALL)} |",
        f"| latency p50 / p95 / p99 | {p50:.2f} / {p95:.2f} / {p99:.2f} ms | p95 ≤ "
        f"{TARGET_P95_MS:g} ms | {_mark(p95 <= TARGET_P95_MS)} |",
        # CPU time as well: on a busy machine the wall time says more about the neighbours.
        f"| training (threshold tuning included) | {training_seconds:.2f} s "
        f"({training_cpu:.2f} s of CPU) | ≲ 3 s | {_mark(training_seconds <= 3.0)} |",
        "",
        "## Intents",
        "",
        f"Trained on {train_count:,} examples (`data/train.yaml`). Out-of-scope threshold "
        f"{threshold:.2f}, tuned by 5-fold cross-validation on the training data. Two held-out "
        "sets, never used for training or tuning, and no example of either appears in the "
        "training data after normalisation (a test asserts it):",
        "",
        "- `data/heldout.yaml` was written by the authors of the training data, intent by intent.",
        "- `data/heldout_independent.yaml` was written first, before the training data was "
        "widened, from customers in situations (a mechanic's shop buying parts, an elderly "
        "customer dictating voice notes, a company's accounts-payable clerk, regional phrasing "
        "from the North, Northeast and South), and training examples were written without "
        "looking at it. It is the closer estimate of real traffic; a message with several "
        "requests counts as the one asked first.",
        "",
        f"For comparison, 5-fold cross-validated accuracy on the training data is "
        f"{cv_accuracy:.1%}: the training set holds the rarer phrasings on purpose.",
        "",
        "| intent | held-out P / R / F1 | independent P / R / F1 | support |",
        "|---|---:|---:|---:|",
    ]
    first, independent = intents

    def cells(result: IntentResult, intent: str) -> str:
        row = result.report[intent]
        return f"{row['precision']:.3f} / {row['recall']:.3f} / {row['f1-score']:.3f}"

    for intent in sorted(INTENTS, key=lambda i: (independent.report[i]["f1-score"], i)):
        support = f"{int(first.report[intent]['support'])} / "
        support += str(int(independent.report[intent]["support"]))
        lines.append(
            f"| {intent} | {cells(first, intent)} | {cells(independent, intent)} | {support} |"
        )
    for result in intents:
        lines += ["", f"Most frequent confusions in `data/{result.name}.yaml` (true → predicted):"]
        lines += [""] + [f"- {t} → {p}: {n}" for (t, p), n in result.confusions] or ["- none"]
    lines += [
        "",
        "## Documents",
        "",
        f"**Independent held-out set**: {held_out_documents.correct + held_out_documents.missed} "
        "valid CPFs and CNPJs annotated by hand in "
        f"{sum(1 for _ in load_expected_documents('heldout_independent'))} messages, typed "
        "formatted, bare, spaced, with commas or dashes instead of dots, grouped as a voice "
        "transcript groups them, or dictated in words; the other "
        f"{held_out_documents.cases['no document']} messages (some with phones, order numbers, "
        "amounts or a CPF with wrong check digits) must yield none. Found "
        f"{held_out_documents.correct}, missed {held_out_documents.missed}, false accepts "
        f"{sum(held_out_documents.false_accepts.values())}: precision "
        f"{held_out_documents.precision:.2%}, recall {held_out_documents.recall:.2%}.",
        "",
        "**Generated messages** (seeded): a valid CPF or CNPJ (numeric and 2026 alphanumeric, "
        "formatted or bare) in a sentence; the same written loosely next to a document word "
        '(commas, ` - `, dashes, any grouping, dictated in words with "meia" for six); each '
        "with one character changed so that the check digits fail; and mobile numbers whose 11 "
        "digits are valid CPF check digits, written as phones (`(11) 9…`, `+55 …`), bare next "
        "to a phone word, or dictated. Precision: correct CPF/CNPJ entities / all CPF/CNPJ "
        "entities returned.",
        "",
        "| case | messages | false accepts | missed |",
        "|---|---:|---:|---:|",
    ]
    missed = Counter(
        e.split(" missed:")[0] for e in documents.examples_of_errors if " missed:" in e
    )
    for kind in (
        "valid CPF",
        "valid CNPJ",
        "valid, loose",
        "invalid CPF",
        "invalid CNPJ",
        "invalid, loose",
        "phone",
        "dictated phone",
    ):
        lines.append(
            f"| {kind} | {documents.cases[kind]:,} | {documents.false_accepts[kind]} | "
            f"{missed[kind] if kind.startswith('valid') else ''} |"
        )
    lines += [
        "",
        f"Entities returned: {documents.returned:,}; correct: {documents.correct:,}; "
        f"precision {documents.precision:.2%}; valid documents found (recall) "
        f"{documents.recall:.2%} ({documents.missed} missed).",
        "",
        "## Latency",
        "",
        f"`Nlu.understand` (entities, normalisation, classifier) on each of the "
        f"{len(latency.samples) // repeat} messages of both held-out sets, {repeat} times (after "
        f"one warm-up pass), one at a time in one thread: {len(latency.samples):,} samples.",
        "",
        "| p50 | p95 | p99 | max | mean |",
        "|---:|---:|---:|---:|---:|",
        f"| {p50:.2f} ms | {p95:.2f} ms | {p99:.2f} ms | {max(latency.samples):.2f} ms | "
        f"{statistics.fmean(latency.samples):.2f} ms |",
        "",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="latency passes over held-out")
    parser.add_argument("--documents", type=int, default=500, help="messages per document case")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--output", default=str(OUTPUT), help="page whose 'nlu' section to rewrite, or -"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    info = machine()

    examples = load_examples("train")
    cpu_started = time.process_time()
    model = train(examples)
    training_cpu = time.process_time() - cpu_started
    print(
        f"training: {model.training_seconds:.2f} s ({training_cpu:.2f} s of CPU), "
        f"threshold {model.threshold:.2f}"
    )
    nlu = Nlu.from_model(model)

    missed = []
    intents = [intent_benchmark(nlu, name) for name in HELD_OUT_SETS]
    for result in intents:
        print(
            f"{result.name}: accuracy {result.accuracy:.1%} (target {result.target:.1%}), "
            f"macro-F1 {result.macro_f1:.3f}, weakest {result.weakest()}"
        )
        for text, intent, guess in result.wrong:
            print(f"   {intent} -> {guess}: {text!r}")
        if result.accuracy < result.target:
            missed.append(f"{result.name} accuracy")
    cv_accuracy = cross_validated_accuracy(model.threshold)
    print(f"cross-validated accuracy on training data {cv_accuracy:.1%}")

    held_out_docs = held_out_documents("heldout_independent")
    documents = document_benchmark(args.documents, args.seed)
    for title, result in (("independent set", held_out_docs), ("generated", documents)):
        print(
            f"documents, {title}: precision {result.precision:.2%} ({result.correct} correct, "
            f"{sum(result.false_accepts.values())} false accepts), recall {result.recall:.2%}"
        )
        for error in result.examples_of_errors[:20]:
            print("  ", error)
        if result.precision < TARGET_DOCUMENT_PRECISION:
            missed.append(f"document precision ({title})")
        if result.recall < TARGET_DOCUMENT_RECALL:
            missed.append(f"document recall ({title})")

    latency = latency_benchmark(nlu.understand, args.repeat)
    p50, p95, p99 = (latency.percentile(q) for q in (50, 95, 99))
    print(f"latency per message: p50 {p50:.2f} ms, p95 {p95:.2f} ms, p99 {p99:.2f} ms")

    markdown = render(
        date=date,
        info=info,
        training_seconds=model.training_seconds,
        training_cpu=training_cpu,
        threshold=model.threshold,
        train_count=len(examples),
        intents=intents,
        cv_accuracy=cv_accuracy,
        held_out_documents=held_out_docs,
        documents=documents,
        latency=latency,
        repeat=args.repeat,
    )
    if args.output != "-":
        write_section("nlu", markdown, Path(args.output))
        print(f"wrote {args.output} (section nlu)")

    if p95 > TARGET_P95_MS:
        print(f"note: latency p95 {p95:.2f} ms is above the {TARGET_P95_MS:g} ms target")
    if missed:
        print("missed quality targets:", ", ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
