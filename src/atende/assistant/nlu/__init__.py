"""Offline pt-BR understanding for the assistant: intent (scikit-learn) and entities (rules).

>>> from atende.assistant.nlu import default_nlu
>>> default_nlu().understand("oi, preciso da 2a via do boleto, cpf 529.982.247-25").to_json()
{'intent': 'invoice_copy', 'confidence': ..., 'entities': [{'type': 'cpf', ...}]}
"""

from atende.assistant.nlu.classifier import (
    INTENTS,
    OUT_OF_SCOPE,
    Nlu,
    Understanding,
    default_nlu,
)
from atende.assistant.nlu.entities import Entity, InvalidDocument
from atende.assistant.nlu.normalize import normalize

__all__ = [
    "INTENTS",
    "OUT_OF_SCOPE",
    "Entity",
    "InvalidDocument",
    "Nlu",
    "Understanding",
    "default_nlu",
    "normalize",
]
