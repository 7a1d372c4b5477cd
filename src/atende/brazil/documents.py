"""CPF, CNPJ (numeric and the 2026 alphanumeric format) and CEP.

The check-digit arithmetic comes from python-stdnum; this module adds what stdnum does not answer:
*which* check failed (so the assistant can tell the customer what to fix), the repeated-digits
rule (stdnum accepts 111.111.111-11, whose check digits happen to match), and the rule that an
alphanumeric CNPJ still ends in two numeric check digits (stdnum's format check lets letters
through in every position).

Text a customer may read (``DocumentCheck.message``) is pt-BR; ``DocumentCheck.reason`` is a
stable English code for programs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from stdnum.br import cnpj as stdnum_cnpj
from stdnum.br import cpf as stdnum_cpf

__all__ = [
    "DocumentCheck",
    "DocumentKind",
    "DocumentProblem",
    "check_document",
    "format_cnpj",
    "format_cpf",
    "format_document",
    "mask_document",
    "normalize_cep",
    "normalize_cnpj",
    "normalize_cpf",
]

CPF_LENGTH = 11
CNPJ_LENGTH = 14
CEP_LENGTH = 8

# People type documents with dots, slashes, dashes and spaces (often copied from a PDF with a
# non-breaking space), so every kind of whitespace counts as punctuation.
_PUNCTUATION = re.compile(r"[./\-\s]")
_ALPHANUMERIC = re.compile(r"[0-9A-Z]*")
_DIGITS = re.compile(r"[0-9]*")
# The alphanumeric CNPJ keeps two numeric check digits at the end (Receita Federal, IN 2.229/2024).
_CNPJ_SHAPE = re.compile(r"[0-9A-Z]{12}[0-9]{2}")
_CEP_PUNCTUATION = re.compile(r"[.\-\s]")


class DocumentKind(StrEnum):
    cpf = "cpf"
    cnpj = "cnpj"


class DocumentProblem(StrEnum):
    """Why a document was rejected. A ``StrEnum``, so it compares equal to the plain strings."""

    empty = "empty"
    characters = "characters"
    length = "length"
    repeated_digits = "repeated_digits"
    check_digits = "check_digits"


@dataclass(frozen=True)
class DocumentCheck:
    """The outcome of :func:`check_document`.

    ``kind`` is known whenever, after removing punctuation, only letters and digits are left and
    there are 11 of them (CPF) or 14 (CNPJ).
    ``value`` is the normalised document (digits for a CPF or a numeric CNPJ, uppercase
    alphanumerics for an alphanumeric CNPJ) when it is valid or failed only the repeated-digits or
    check-digit test, so the caller can echo what it read; it is ``None`` when the text has the
    wrong characters or length. ``reason`` and ``message`` are ``None`` when ``valid``.
    """

    kind: DocumentKind | None
    value: str | None
    valid: bool
    reason: DocumentProblem | None = None
    message: str | None = None


_MESSAGES: dict[tuple[DocumentProblem, DocumentKind | None], str] = {
    (DocumentProblem.empty, None): "Informe o número do CPF ou do CNPJ.",
    (DocumentProblem.characters, None): (
        "O documento deve ter apenas números (CPF) ou letras e números (CNPJ)."
    ),
    (DocumentProblem.characters, DocumentKind.cpf): "O CPF deve ter apenas números.",
    (DocumentProblem.characters, DocumentKind.cnpj): (
        "O CNPJ deve ter 12 letras ou números seguidos de 2 dígitos numéricos."
    ),
    (DocumentProblem.length, None): (
        "O documento deve ter 11 dígitos (CPF) ou 14 caracteres (CNPJ)."
    ),
    (DocumentProblem.repeated_digits, DocumentKind.cpf): (
        "O CPF não pode ter todos os dígitos iguais."
    ),
    (DocumentProblem.repeated_digits, DocumentKind.cnpj): (
        "O CNPJ não pode ter todos os dígitos iguais."
    ),
    (DocumentProblem.check_digits, DocumentKind.cpf): (
        "Os dígitos verificadores do CPF não conferem."
    ),
    (DocumentProblem.check_digits, DocumentKind.cnpj): (
        "Os dígitos verificadores do CNPJ não conferem."
    ),
}


def _invalid(
    problem: DocumentProblem, kind: DocumentKind | None, value: str | None = None
) -> DocumentCheck:
    return DocumentCheck(
        kind=kind,
        value=value,
        valid=False,
        reason=problem,
        message=_MESSAGES[(problem, kind)],
    )


def _compact(text: str) -> str:
    return _PUNCTUATION.sub("", text).upper()


def check_document(text: str) -> DocumentCheck:
    """Validate a CPF or a CNPJ typed by a person, formatted or bare.

    The kind is decided by the length once ``.``, ``/``, ``-`` and whitespace are removed: 11 is a
    CPF, 14 a CNPJ. Letters are uppercased first, so ``12abc34501de35`` is the alphanumeric CNPJ
    ``12ABC34501DE35``. Checks run in a fixed order and the first failure is reported: empty,
    characters (symbols anywhere), length, characters (letters in a CPF, or in the two CNPJ check
    digits), repeated digits, check digits.
    """
    compact = _compact(text)
    if not compact:
        return _invalid(DocumentProblem.empty, None)
    if not _ALPHANUMERIC.fullmatch(compact):
        # With stray symbols the length says nothing about which document was meant.
        return _invalid(DocumentProblem.characters, None)
    kind = {CPF_LENGTH: DocumentKind.cpf, CNPJ_LENGTH: DocumentKind.cnpj}.get(len(compact))
    if kind is None:
        return _invalid(DocumentProblem.length, None)
    if kind is DocumentKind.cpf:
        if not _DIGITS.fullmatch(compact):
            return _invalid(DocumentProblem.characters, kind)
    elif not _CNPJ_SHAPE.fullmatch(compact):
        return _invalid(DocumentProblem.characters, kind)
    if len(set(compact)) == 1:
        return _invalid(DocumentProblem.repeated_digits, kind, compact)
    # The shape checks above leave the check digits as the only thing stdnum can still reject.
    is_valid = stdnum_cpf.is_valid if kind is DocumentKind.cpf else stdnum_cnpj.is_valid
    if not is_valid(compact):
        return _invalid(DocumentProblem.check_digits, kind, compact)
    return DocumentCheck(kind=kind, value=compact, valid=True)


def _normalize(text: str, kind: DocumentKind) -> str | None:
    check = check_document(text)
    return check.value if check.valid and check.kind is kind else None


def normalize_cpf(text: str) -> str | None:
    """The 11 digits of a valid CPF, or ``None`` if ``text`` is not a valid CPF."""
    return _normalize(text, DocumentKind.cpf)


def normalize_cnpj(text: str) -> str | None:
    """The 14 characters of a valid CNPJ (uppercase), or ``None`` if it is not a valid CNPJ."""
    return _normalize(text, DocumentKind.cnpj)


def _require(text: str, kind: DocumentKind) -> str:
    value = _normalize(text, kind)
    if value is None:
        raise ValueError(f"not a valid {kind.value.upper()}")
    return value


def format_cpf(value: str) -> str:
    """``529.982.247-25``. Raises ``ValueError`` unless ``value`` is a valid CPF."""
    return stdnum_cpf.format(_require(value, DocumentKind.cpf))


def format_cnpj(value: str) -> str:
    """``11.222.333/0001-81`` or ``12.ABC.345/01DE-35``. Raises ``ValueError`` unless valid."""
    return stdnum_cnpj.format(_require(value, DocumentKind.cnpj))


def format_document(value: str) -> str:
    """Format a valid CPF or CNPJ, whichever it is. Raises ``ValueError`` if it is neither."""
    check = check_document(value)
    if not check.valid:
        raise ValueError(f"not a valid CPF or CNPJ: {check.reason}")
    if check.kind is DocumentKind.cpf:
        return format_cpf(value)
    return format_cnpj(value)


def mask_document(value: str) -> str:
    """A CPF or CNPJ as it may be shown to a customer or printed on a boleto for a third party.

    The rule: punctuate the standard way, keep the middle and hide both ends.

    * CPF: the first 3 digits and the 2 check digits are hidden: ``***.982.247-**``. This is the
      pattern federal transparency portals use when they publish CPFs, so Brazilians recognise
      it.
    * CNPJ: the first 5 characters of the root and the 2 check digits are kept and the rest is
      hidden: ``11.222.***/****-81`` (``12.ABC.***/****-35``), enough for the customer to
      recognise the company. The CNPJ register is public, so this spares sole proprietors (whose
      CNPJ leads to a person) rather than guarding a secret.

    Neither mask is a secret-keeping device: the check digits can be recomputed, so a masked CPF
    still leaves a thousand candidates. It keeps the number out of chats and forwarded PDFs.

    Masking never validates: a malformed document is still personal data, so 11 or 14 characters
    are masked by the rules above whatever their check digits, and any other input is hidden
    entirely (every letter and digit becomes ``*``, punctuation stays).
    """
    compact = _compact(value)
    if len(compact) == CPF_LENGTH:
        return f"***.{compact[3:6]}.{compact[6:9]}-**"
    if len(compact) == CNPJ_LENGTH:
        return f"{compact[0:2]}.{compact[2:5]}.***/****-{compact[12:14]}"
    return re.sub(r"\w", "*", value.strip())


def normalize_cep(text: str) -> str | None:
    """The 8 digits of a CEP (``01310-100``, ``01310100``, ``01.310-100``), or ``None``.

    Only the shape is checked (there is no check digit); ``00000-000`` is rejected because no
    address has it and forms use it as a placeholder.
    """
    compact = _CEP_PUNCTUATION.sub("", text)
    if len(compact) != CEP_LENGTH or not _DIGITS.fullmatch(compact) or compact == "0" * CEP_LENGTH:
        return None
    return compact
