"""Offline pt-BR NLU benchmark: intent accuracy, document precision, latency.

Run with ``.venv/bin/python benchmarks/nlu.py``; it rewrites the ``nlu`` section of
docs/benchmarks.md (``--output -`` leaves it alone). Everything is in this process, from the
data shipped in the package:

1. **Training**: a fresh model from ``data/train.yaml`` (threshold tuning included), timed.
2. **Intents**: accuracy, macro-F1 and per-intent precision/recall/F1 (scikit-learn metrics) on
   ``data/heldout.yaml``, which training never sees; for comparison, 5-fold cross-validated
   accuracy on the training data.
3. **Documents**: generated messages (seeded) with valid and invalid CPFs and CNPJs (numeric and
   alphanumeric) and with phone numbers whose 11 digits *are* valid CPF check digits, written in
   phone formats or next to phone words. Precision is the share of CPF/CNPJ entities returned
   that are right (type and value); every other CPF/CNPJ entity is a false accept.
4. **Latency**: ``Nlu.understand`` (entities + normalisation + classifier) on every held-out
   message, ``--repeat`` times, after one warm-up pass; ``time.perf_counter`` per message.

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
    INTENTS,
    Nlu,
    cross_validate,
    load_examples,
    normalized_examples,
    thresholded,
    train,
)
from atende.assistant.nlu.entities import extract
from atende.brazil.documents import check_document

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "benchmarks.md"
COMMAND = ".venv/bin/python benchmarks/nlu.py"

TARGET_ACCURACY = 0.92
TARGET_DOCUMENT_PRECISION = 1.0
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
        valid = self.cases["valid CPF"] + self.cases["valid CNPJ"]
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
    for _ in range(per_kind):
        cases.append(("phone", rng.choice(_PHONE_TEMPLATES).format(_phone(rng)), None))

    correct = missed = 0
    false_accepts: Counter[str] = Counter()
    errors: list[str] = []
    for kind, text, expected in cases:
        found = [(e.type, e.value) for e in extract(text).entities if e.type in {"cpf", "cnpj"}]
        for entity in found:
            if entity == expected:
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
    accuracy: float
    macro_f1: float
    report: dict[str, Any]
    confusions: list[tuple[tuple[str, str], int]]
    cv_accuracy: float


def intent_benchmark(nlu: Nlu) -> IntentResult:
    held_out = load_examples("heldout")
    truth = [intent for _, intent in held_out]
    predicted = [nlu.understand(text).intent for text, _ in held_out]
    report = classification_report(
        truth, predicted, labels=list(INTENTS), output_dict=True, zero_division=0
    )
    confusions = Counter((t, p) for t, p in zip(truth, predicted, strict=True) if t != p)

    texts, intents = normalized_examples(load_examples("train"))
    classes, probabilities = cross_validate(texts, intents)
    cv_predicted = thresholded(classes, probabilities, nlu.model.threshold)
    return IntentResult(
        accuracy=float(accuracy_score(truth, predicted)),
        macro_f1=float(f1_score(truth, predicted, labels=list(INTENTS), average="macro")),
        report=report,
        confusions=confusions.most_common(8),
        cv_accuracy=float(np.mean(cv_predicted == np.asarray(intents))),
    )


@dataclass
class Latency:
    samples: list[float]

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.samples, q))


def latency_benchmark(understand: Callable[[str], object], repeat: int) -> Latency:
    texts = [text for text, _ in load_examples("heldout")]
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
    }


def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def render(
    *,
    date: str,
    info: dict[str, str],
    training_seconds: float,
    threshold: float,
    train_count: int,
    intents: IntentResult,
    documents: DocumentResult,
    latency: Latency,
    repeat: int,
) -> str:
    held_out_count = int(intents.report["macro avg"]["support"])
    p50, p95, p99 = (latency.percentile(q) for q in (50, 95, 99))
    lines = [
        "# NLU benchmark",
        "",
        f"Generated by `{COMMAND}`; do not edit by hand, run it again.",
        "",
        f"- **Date**: {date}",
        f"- **Machine**: {info['cpu']}, {info['cores']} cores, {info['os']}",
        f"- **Software**: Python {info['python']}, scikit-learn {info['sklearn']}",
        f"- **Command**: `{COMMAND}`",
        "",
        "## Summary",
        "",
        "| measure | result | target | |",
        "|---|---:|---:|---|",
        f"| held-out accuracy | {intents.accuracy:.1%} | ≥ {TARGET_ACCURACY:.0%} | "
        f"{_mark(intents.accuracy >= TARGET_ACCURACY)} |",
        f"| held-out macro-F1 | {intents.macro_f1:.3f} | | |",
        f"| document precision (CPF/CNPJ) | {documents.precision:.2%} | 100% | "
        f"{_mark(documents.precision >= TARGET_DOCUMENT_PRECISION)} |",
        f"| latency p50 / p95 / p99 | {p50:.2f} / {p95:.2f} / {p99:.2f} ms | p95 ≤ "
        f"{TARGET_P95_MS:g} ms | {_mark(p95 <= TARGET_P95_MS)} |",
        f"| training (threshold tuning included) | {training_seconds:.2f} s | ≲ 3 s | "
        f"{_mark(training_seconds <= 3.0)} |",
        "",
        "## Intents",
        "",
        f"Trained on {train_count:,} examples (`data/train.yaml`), evaluated on "
        f"{held_out_count:,} held-out examples (`data/heldout.yaml`, never used for training or "
        "tuning; no example appears in both after normalisation). Out-of-scope threshold "
        f"{threshold:.2f}, tuned by 5-fold cross-validation on the training data. For "
        f"comparison, 5-fold cross-validated accuracy on the training data is "
        f"{intents.cv_accuracy:.1%}: the training set holds the rarer phrasings on purpose, and "
        "both sets were written by the same author rather than sampled from real conversations, "
        "so accuracy on real traffic may sit between the two figures.",
        "",
        "| intent | precision | recall | F1 | support |",
        "|---|---:|---:|---:|---:|",
    ]
    for intent in sorted(INTENTS, key=lambda i: intents.report[i]["f1-score"]):
        row = intents.report[intent]
        lines.append(
            f"| {intent} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1-score']:.3f} "
            f"| {int(row['support'])} |"
        )
    lines += ["", "Most frequent confusions on the held-out set (true → predicted):", ""]
    lines += [f"- {t} → {p}: {n}" for (t, p), n in intents.confusions] or ["- none"]
    lines += [
        "",
        "## Documents",
        "",
        "Generated messages (seeded): a valid CPF or CNPJ (numeric and 2026 alphanumeric, "
        "formatted or bare) in a sentence, the same with one character changed so that the "
        "check digits fail, and mobile numbers whose 11 digits are valid CPF check digits, "
        "written as phones (`(11) 9…`, `+55 …`) or bare next to a phone word. Precision: "
        "correct CPF/CNPJ entities / all CPF/CNPJ entities returned.",
        "",
        "| case | messages | false accepts |",
        "|---|---:|---:|",
    ]
    for kind in ("valid CPF", "valid CNPJ", "invalid CPF", "invalid CNPJ", "phone"):
        lines.append(f"| {kind} | {documents.cases[kind]:,} | {documents.false_accepts[kind]} |")
    lines += [
        "",
        f"Entities returned: {documents.returned:,}; correct: {documents.correct:,}; "
        f"precision {documents.precision:.2%}; valid documents found (recall) "
        f"{documents.recall:.2%} ({documents.missed} missed).",
        "",
        "## Latency",
        "",
        f"`Nlu.understand` (entities, normalisation, classifier) on each of the "
        f"{held_out_count} held-out messages, {repeat} times (after one warm-up pass), one at a "
        f"time in one thread: {len(latency.samples):,} samples.",
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
    model = train(examples)
    print(f"training: {model.training_seconds:.2f} s, threshold {model.threshold:.2f}")
    nlu = Nlu.from_model(model)

    intents = intent_benchmark(nlu)
    print(f"held-out accuracy {intents.accuracy:.1%}, macro-F1 {intents.macro_f1:.3f}")
    print(f"cross-validated accuracy on training data {intents.cv_accuracy:.1%}")
    print(
        classification_report(
            [i for _, i in load_examples("heldout")],
            [nlu.understand(t).intent for t, _ in load_examples("heldout")],
            labels=list(INTENTS),
            digits=3,
            zero_division=0,
        )
    )

    documents = document_benchmark(args.documents, args.seed)
    print(
        f"documents: precision {documents.precision:.2%} ({documents.correct} correct, "
        f"{sum(documents.false_accepts.values())} false accepts), recall {documents.recall:.2%}"
    )
    for error in documents.examples_of_errors[:20]:
        print("  ", error)

    latency = latency_benchmark(nlu.understand, args.repeat)
    p50, p95, p99 = (latency.percentile(q) for q in (50, 95, 99))
    print(f"latency per message: p50 {p50:.2f} ms, p95 {p95:.2f} ms, p99 {p99:.2f} ms")

    markdown = render(
        date=date,
        info=info,
        training_seconds=model.training_seconds,
        threshold=model.threshold,
        train_count=len(examples),
        intents=intents,
        documents=documents,
        latency=latency,
        repeat=args.repeat,
    )
    if args.output != "-":
        write_section("nlu", markdown, Path(args.output))
        print(f"wrote {args.output} (section nlu)")

    missed = []
    if intents.accuracy < TARGET_ACCURACY:
        missed.append("accuracy")
    if documents.precision < TARGET_DOCUMENT_PRECISION:
        missed.append("document precision")
    if p95 > TARGET_P95_MS:
        print(f"note: latency p95 {p95:.2f} ms is above the {TARGET_P95_MS:g} ms target")
    if missed:
        print("missed quality targets:", ", ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
