"""The session memory model loads every shape written before it (``fixtures/memory_v1.json``:
recorded from the scenarios, the agent, bursts and outages as release 1 wrote them)."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from atende.assistant.dialogue.choice import Option
from atende.assistant.memory import (
    VERSION,
    AskedLine,
    Dialogue,
    ListOption,
    PendingChallenge,
    Proof,
    SessionMemory,
    load_memory,
)

FIXTURES = json.loads(
    (Path(__file__).parent / "fixtures" / "memory_v1.json").read_text(encoding="utf-8")
)
V1_SESSIONS: list[dict[str, Any]] = FIXTURES["sessions"]
V1_DEFERRED: list[dict[str, Any]] = FIXTURES["deferred"]

#: Release 1's keys and where the same fact is now, in the dumped memory.
WHERE = {
    "turn": ("turn",),
    "goal": ("dialogue", "goal"),
    "awaiting": ("dialogue", "awaiting"),
    "order_id": ("dialogue", "order_id"),
    "misunderstood": ("dialogue", "misunderstood"),
    "kept_requests": ("dialogue", "kept_requests"),
    "verified": ("identity", "verified"),
    "verification_pending": ("identity", "pending"),
    "order_pending": ("order", "pending"),
    "order_line": ("order", "line"),
    "order_items": ("order", "items"),
    "summary_id": ("order", "summary_id"),
    "order_summary": ("order", "summary"),
    "specialist": ("agent", "specialist"),
    "llm_history": ("agent", "history"),
    "llm_summary": ("agent", "summary"),
    "pii": ("agent", "pii"),
}


def _at(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _holds(now: Any, before: Any) -> bool:
    """``now`` says all ``before`` said (fields added since, such as a price, may be None)."""
    if isinstance(before, dict):
        return isinstance(now, dict) and all(_holds(now.get(k), v) for k, v in before.items())
    if isinstance(before, list):
        return (
            isinstance(now, list)
            and len(now) == len(before)
            and all(_holds(n, b) for n, b in zip(now, before, strict=True))
        )
    return bool(now == before)


def test_that_the_fixtures_cover_every_key_release_1_wrote() -> None:
    written = {key for state in V1_SESSIONS for key in state}
    assert written == {*WHERE, "options"}


@pytest.mark.parametrize("old", V1_SESSIONS, ids=lambda s: ",".join(sorted(s)))
def test_that_a_release_1_memory_loads_with_every_fact_in_its_place(old: dict[str, Any]) -> None:
    memory = load_memory(old)
    dumped = memory.dump()

    assert dumped["version"] == VERSION
    for key, value in old.items():
        if key == "options":
            ids = [o["id"] if isinstance(o, dict) else o for o in value]
            assert [o.id for o in memory.dialogue.options] == ids
            continue
        assert _holds(_at(dumped, WHERE[key]), value), key
    # Loaded again from what is stored now, nothing changes.
    assert load_memory(json.loads(json.dumps(dumped))) == memory


@pytest.mark.parametrize("kept", V1_DEFERRED, ids=lambda k: str(k["step"]["do"]))
def test_that_the_memory_kept_with_a_deferred_step_loads(kept: dict[str, Any]) -> None:
    snapshot = load_memory(kept["state"])
    memory = SessionMemory(turn=9)

    memory.fill_missing(snapshot)

    state = kept["state"]
    assert memory.turn == 9
    assert memory.dialogue.goal == state.get("goal")
    assert memory.verified_document == (state.get("verified") or {}).get("document")
    assert [item.sku for item in memory.order.items] == [
        item["sku"] for item in state.get("order_items", [])
    ]
    assert memory.order.summary_id == state.get("summary_id")


def test_that_boleto_options_kept_as_bare_ids_load() -> None:
    memory = load_memory({"turn": 3, "awaiting": "titulo", "options": ["TIT-1001", "TIT-1002"]})

    assert memory.dialogue.options == [ListOption(id="TIT-1001"), ListOption(id="TIT-1002")]


def test_that_boleto_options_kept_as_dicts_keep_what_tells_them_apart() -> None:
    raw = {"id": "TIT-1001", "amount_cents": 18485, "day": "2026-11-27", "overdue": True}

    (option,) = load_memory({"options": [raw]}).dialogue.options

    assert (option.amount_cents, option.day, option.overdue) == (18485, date(2026, 11, 27), True)


def test_that_product_options_without_a_price_load() -> None:
    line = {"query": "canecas", "quantity": 2, "options": [{"sku": "CAN-001", "name": "Caneca"}]}

    loaded = load_memory({"order_line": line}).order.line

    assert loaded is not None
    assert [(o.sku, o.name, o.price_cents) for o in loaded.options] == [("CAN-001", "Caneca", None)]


def test_that_a_proof_without_a_document_proves_nothing() -> None:
    # Release 1 read only {"document": …} as verified; anything else must not verify now either.
    for proof in (True, "52998224725", {"via": "phone"}, []):
        assert load_memory({"turn": 2, "verified": proof}).verified_document is None


def test_that_a_challenge_without_its_attempts_stays_locked() -> None:
    memory = load_memory({"verification_pending": {"document": "52998224725"}})

    assert memory.identity.pending == PendingChallenge(document="52998224725", attempts=0)


def test_that_unknown_keys_are_dropped_and_the_rest_is_kept() -> None:
    memory = load_memory({"turn": 4, "goal": "invoice_copy", "someone_elses_key": {"x": 1}})

    assert (memory.turn, memory.dialogue.goal) == (4, "invoice_copy")
    assert "someone_elses_key" not in json.dumps(memory.dump())


def test_that_a_value_that_does_not_fit_drops_that_field_only() -> None:
    memory = load_memory(
        {
            "turn": 5,
            "awaiting": "banana",
            "verified": {"document": "52998224725", "via": "phone"},
            "order_pending": [{"sku": "CAM-001", "quantity": "muitas"}],
        }
    )

    assert memory.dialogue.awaiting is None
    assert memory.order.pending == []
    assert memory.turn == 5
    assert memory.identity.verified == Proof(document="52998224725", via="phone")


def test_that_empty_words_of_an_asked_line_are_not_said() -> None:
    memory = load_memory({"order_pending": [{"sku": "", "query": "caneca", "quantity": 0}]})

    assert memory.order.pending == [AskedLine(query="caneca")]


@pytest.mark.parametrize("raw", [None, {}, [], "texto", 3])
def test_that_no_memory_or_something_else_is_a_new_sessions(raw: object) -> None:
    assert load_memory(raw) == SessionMemory()


def test_that_the_current_shape_round_trips() -> None:
    memory = SessionMemory(turn=2)
    memory.identity.verified = Proof(document="52998224725", via="birth_date")
    memory.dialogue.options = [ListOption(id="TIT-1", amount_cents=100, day=date(2026, 1, 2))]
    memory.order.pending = [AskedLine(query="caneca", quantity=2)]

    assert load_memory(json.loads(json.dumps(memory.dump()))) == memory


def test_that_a_wrong_type_fails_where_it_is_written() -> None:
    memory = SessionMemory()

    with pytest.raises(ValueError, match="awaiting"):
        memory.dialogue.awaiting = "banana"  # type: ignore[assignment]


def test_that_a_clone_is_changed_apart_from_its_original() -> None:
    memory = load_memory(next(s for s in V1_SESSIONS if "options" in s and "verified" in s))
    before = memory.dump()

    clone = memory.clone()
    clone.turn += 1
    clone.dialogue.options.clear()
    clone.order.pending.append(AskedLine(query="caneca"))
    clone.identity.verified = None

    assert clone != memory
    assert memory.dump() == before


def test_that_a_boleto_option_survives_the_memory_with_what_tells_it_apart() -> None:
    option = Option("TIT-1001", 18485, date(2026, 11, 27), overdue=True)
    kept = SessionMemory(dialogue=Dialogue(options=[ListOption(**dataclasses.asdict(option))]))

    stored = json.loads(json.dumps(kept.dump()))

    assert [Option(**o.model_dump()) for o in load_memory(stored).dialogue.options] == [option]
