"""Which specialist answers: the classifier's intent and confidence, and the session's topic."""

from __future__ import annotations

import pytest

from atende.assistant.agent.prompts import route


@pytest.mark.parametrize(
    ("intent", "current", "confidence", "expected"),
    [
        ("invoice_copy", None, 0.9, "finance"),
        ("stock_check", "finance", 0.9, "sales"),
        ("delivery_tracking", "sales", 0.8, "orders"),
        # "sim", a CPF, a date: the session's topic goes on.
        ("affirm", "sales", 0.99, "sales"),
        ("provide_document", "finance", 0.99, "finance"),
        ("out_of_scope", "orders", 0.8, "orders"),
        # Unsure: the concierge, with every tool, even inside a topic ("quanto custa a
        # toalha?" read as out of scope must not stay with finance, which cannot quote prices).
        ("out_of_scope", "finance", 0.46, "concierge"),
        ("stock_check", None, 0.3, "concierge"),
        # Nothing to continue: a topic-less message goes to general.
        ("affirm", None, 0.99, "general"),
    ],
)
def test_routing(intent: str, current: str | None, confidence: float, expected: str) -> None:
    assert route(intent, current, confidence) == expected


@pytest.mark.parametrize(("intent", "confidence"), [("place_order", 0.9), ("invoice_copy", 0.98)])
def test_that_a_pick_among_offered_options_goes_to_the_concierge(
    intent: str, confidence: float
) -> None:
    # "2" after a list of boletos reads as a quantity (place_order, sales): sales cannot send a
    # boleto, the concierge has every tool.
    assert route(intent, "finance", confidence, choosing=True) == "concierge"


def test_that_several_questions_at_once_go_to_the_concierge() -> None:
    # "tem CAM-001? e qual o horário?": business_info names one topic; general cannot quote stock.
    assert route("business_info", None, 0.9, several=True) == "concierge"
