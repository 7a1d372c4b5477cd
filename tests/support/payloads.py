"""Building WhatsApp webhook bodies the way Meta sends them."""

from __future__ import annotations

import itertools
import time
from typing import Any

import orjson

from tests.support.app import PHONE_NUMBER_ID

_ids = itertools.count(1)


def wamid() -> str:
    return f"wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFjNFQjA{next(_ids):012d}"


def text_message(
    wa_id: str, body: str, *, message_id: str | None = None, timestamp: int | None = None
) -> dict[str, Any]:
    return {
        "from": wa_id,
        "id": message_id or wamid(),
        "timestamp": str(timestamp or int(time.time())),
        "type": "text",
        "text": {"body": body},
    }


def webhook(
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    *,
    name: str = "Maria Silva",
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "551140028922", "phone_number_id": phone_number_id},
    }
    if messages:
        senders = dict.fromkeys(m["from"] for m in messages if "from" in m)
        value["contacts"] = [
            {"profile": {"name": name}, "wa_id": wa_id, "user_id": f"BR.{wa_id[-10:]}77"}
            for wa_id in senders
        ]
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}],
    }


def body(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload)


def status(message_id: str, state: str, *, code: int | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": message_id,
        "status": state,
        "timestamp": str(int(time.time())),
        "recipient_id": "5511987654321",
    }
    if code is not None:
        item["errors"] = [{"code": code, "title": "Message undeliverable"}]
    return item
