from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atende.channels.types import (
    DeliveryStatus,
    InboundMessage,
    MessageType,
    OtherEvent,
    Sender,
    StatusUpdate,
    WebhookBatch,
)
from atende.channels.whatsapp.parse import WebhookPayloadError, parse_webhook

CORPUS = Path(__file__).resolve().parents[2] / "payloads" / "whatsapp"

NUMBER_A = "106540352242922"
NUMBER_B = "113207894561230"
MARIA_PHONE = "5511987654321"
MARIA_BSUID = "BR.1502576394655843"
JOAO_PHONE = "5521998765432"
MARIA = Sender(wa_id=MARIA_PHONE, name="Maria Souza")
WAMID_1 = "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFDE1NzM2MTk1RjdBNDIxNjUwRTUxAA=="
WAMID_2 = "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFDI5REQzNjNBNDZDQjY5REFERTU3AA=="
OUT_1 = "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABEYEjVGMkM4QTdEMUI5RTMwNDZBNQA="
OUT_2 = "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABEYEkM0RDYxQjA4RTI5RjczQTU2MAA="
JOAO_OUT = "wamid.HBgNNTUyMTk5ODc2NTQzMhUCABEYEjg3QTFGMEM2RDJCNDk1RTMxNwA="
JOAO_IN = "wamid.HBgNNTUyMTk5ODc2NTQzMhUCABIYFDZENEREN0JGODAyRTVBQzA1MzlCAA=="
SENT_AT = datetime(2025, 11, 22, 8, 26, 40, tzinfo=UTC)  # "1763800000"


def at(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def load(name: str) -> Any:
    return orjson.loads((CORPUS / f"{name}.json").read_bytes())


def parse_single_batch(payload: Any) -> WebhookBatch:
    result = parse_webhook(payload)
    assert [phone_number_id for phone_number_id, _ in result] == [NUMBER_A]
    return result[0][1]


def parse_only_message(name: str) -> InboundMessage:
    batch = parse_single_batch(load(name))
    assert batch.statuses == ()
    assert batch.others == ()
    (message,) = batch.messages
    return message


def parse_only_status(name: str) -> StatusUpdate:
    batch = parse_single_batch(load(name))
    assert batch.messages == ()
    assert batch.others == ()
    (status,) = batch.statuses
    return status


def message_webhook(*messages: Any, contacts: Any = None, statuses: Any = None) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "5511940028922", "phone_number_id": NUMBER_A},
        "contacts": (
            [{"profile": {"name": "Maria Souza"}, "wa_id": MARIA_PHONE}]
            if contacts is None
            else contacts
        ),
        "messages": list(messages),
    }
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }


def text_message(**overrides: Any) -> dict[str, Any]:
    message = {
        "from": MARIA_PHONE,
        "id": WAMID_1,
        "timestamp": "1763800000",
        "type": "text",
        "text": {"body": "Oi"},
    }
    message.update(overrides)
    return message


# --- One test per corpus file --------------------------------------------------------------


def test_that_text_message_merges_phone_and_bsuid_from_contact() -> None:
    assert parse_only_message("text") == InboundMessage(
        provider_message_id=WAMID_1,
        sender=Sender(wa_id=MARIA_PHONE, bsuid=MARIA_BSUID, name="Maria Souza"),
        type=MessageType.text,
        timestamp=SENT_AT,
        text="Oi! Vocês abrem no sábado de manhã?",
        content={},
        provider_type="text",
    )


def test_that_image_caption_becomes_the_text() -> None:
    assert parse_only_message("image_with_caption") == InboundMessage(
        provider_message_id=WAMID_1,
        sender=MARIA,
        type=MessageType.image,
        timestamp=SENT_AT,
        text="Chegou assim, com a tampa quebrada",
        content={
            "media_id": "1184537206617281",
            "mime_type": "image/jpeg",
            "sha256": "u9B3kq0pX1oYtq3m7rJQbP8yqkE2fZ5Lw6dC4sVh0aI=",
        },
        provider_type="image",
    )


def test_that_audio_file_is_audio() -> None:
    message = parse_only_message("audio")
    assert message.type is MessageType.audio
    assert message.text is None
    assert message.content == {
        "media_id": "2039485716273645",
        "mime_type": "audio/mpeg",
        "sha256": "Xq2d7VwP0cLr9HfM5aTgKk1yBn3uJe6sZo8iWx4RtQA=",
    }
    assert message.provider_type == "audio"


def test_that_voice_note_is_voice_not_audio() -> None:
    message = parse_only_message("voice")
    assert message.type is MessageType.voice
    assert message.provider_type == "audio"
    assert message.content == {
        "media_id": "1620394857261734",
        "mime_type": "audio/ogg; codecs=opus",
        "sha256": "c3Rm9QeL1vXw0KpA7nYb2sDg5hJf8uZo4iTr6WxEkMI=",
    }


def test_that_video_without_caption_has_no_text() -> None:
    message = parse_only_message("video")
    assert message.type is MessageType.video
    assert message.text is None
    assert message.content["media_id"] == "3948571620394857"
    assert message.content["mime_type"] == "video/mp4"


def test_that_document_keeps_filename_and_caption() -> None:
    message = parse_only_message("document")
    assert message.type is MessageType.document
    assert message.text == "Segue o comprovante do Pix"
    assert message.content == {
        "media_id": "1029384756102938",
        "mime_type": "application/pdf",
        "sha256": "mN3bV4cX5zL6kJ7hG8fD9sA0pO1iU2yT3rE4wQ5tY6u=",
        "filename": "comprovante-pix-21-11.pdf",
    }


def test_that_sticker_says_whether_it_is_animated() -> None:
    message = parse_only_message("sticker")
    assert message.type is MessageType.sticker
    assert message.text is None
    assert message.content == {
        "media_id": "8475610293847561",
        "mime_type": "image/webp",
        "sha256": "Zx9Cv8Bn7Mq6Wl5Ek4Rj3Th2Yg1Uf0IdOsPaAsDfGhJ=",
        "animated": True,
    }


def test_that_location_text_is_name_and_address() -> None:
    message = parse_only_message("location")
    address = "Av. Paulista, 1578 - Bela Vista, São Paulo - SP, 01310-200"
    assert message.type is MessageType.location
    assert message.text == f"MASP\n{address}"
    assert message.content == {
        "latitude": -23.561414,
        "longitude": -46.655881,
        "name": "MASP",
        "address": address,
        "url": "https://masp.org.br",
    }


def test_that_shared_contacts_are_kept_whole_without_text() -> None:
    message = parse_only_message("contacts")
    assert message.type is MessageType.contacts
    assert message.text is None
    (card,) = message.content["contacts"]
    assert card["name"]["formatted_name"] == "Ana Lima"
    assert card["phones"][0]["wa_id"] == "5511912345678"


def test_that_button_reply_gives_title_as_text_and_replied_message_as_context() -> None:
    assert parse_only_message("interactive_button_reply") == InboundMessage(
        provider_message_id=WAMID_1,
        sender=MARIA,
        type=MessageType.button_reply,
        timestamp=SENT_AT,
        text="Confirmar pedido",
        content={"id": "confirmar_pedido", "title": "Confirmar pedido"},
        context_id=OUT_1,
        provider_type="interactive",
    )


def test_that_list_reply_keeps_row_id_title_and_description() -> None:
    message = parse_only_message("interactive_list_reply")
    assert message.type is MessageType.list_reply
    assert message.text == "Manhã"
    assert message.content == {
        "id": "entrega_manha",
        "title": "Manhã",
        "description": "Entrega entre 8h e 12h",
    }
    assert message.context_id == OUT_1


def test_that_flow_reply_is_unsupported_and_keeps_the_raw_message() -> None:
    payload = load("interactive_nfm_reply")
    raw = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message = parse_only_message("interactive_nfm_reply")
    assert message.type is MessageType.unsupported
    assert message.provider_type == "interactive"
    assert message.text is None
    assert message.content == raw
    assert message.context_id == OUT_1


def test_that_template_quick_reply_is_template_button() -> None:
    message = parse_only_message("template_button")
    assert message.type is MessageType.template_button
    assert message.provider_type == "button"
    assert message.text == "Parar promoções"
    assert message.content == {"payload": "PARAR_PROMOCOES", "text": "Parar promoções"}
    assert message.context_id == OUT_1


def test_that_reaction_points_at_the_reacted_message() -> None:
    message = parse_only_message("reaction")
    assert message.type is MessageType.reaction
    assert message.text == "\u2764\ufe0f"
    assert message.content == {"message_id": OUT_1, "emoji": "\u2764\ufe0f", "removed": False}


def test_that_reaction_without_emoji_means_removed() -> None:
    message = parse_only_message("reaction_removed")
    assert message.provider_message_id == WAMID_2
    assert message.type is MessageType.reaction
    assert message.text is None
    assert message.timestamp == at(1763800090)
    assert message.content == {"message_id": OUT_1, "emoji": None, "removed": True}


def test_that_order_keeps_catalog_items_and_note() -> None:
    message = parse_only_message("order")
    assert message.type is MessageType.order
    assert message.text == "Vou retirar na loja às 18h"
    assert message.content["catalog_id"] == "874512369874512"
    assert message.content["text"] == "Vou retirar na loja às 18h"
    assert [item["product_retailer_id"] for item in message.content["product_items"]] == [
        "pao-frances-un",
        "bolo-fuba-inteiro",
    ]


def test_that_changed_number_system_message_carries_the_new_number() -> None:
    body = "Maria Souza changed their phone number to a new number 5511976543210"
    assert parse_only_message("system_changed_number") == InboundMessage(
        provider_message_id=WAMID_1,
        sender=Sender(wa_id=MARIA_PHONE),  # no contacts block on system messages
        type=MessageType.system,
        timestamp=SENT_AT,
        text=body,
        content={
            "type": "user_changed_number",
            "body": body,
            "wa_id": "5511976543210",
            "user_id": None,
        },
        provider_type="system",
    )


def test_that_unsupported_message_keeps_the_raw_message_and_its_errors() -> None:
    raw = load("unsupported")["entry"][0]["changes"][0]["value"]["messages"][0]
    message = parse_only_message("unsupported")
    assert message.type is MessageType.unsupported
    assert message.provider_type == "unsupported"
    assert message.text is None
    assert message.content == raw
    assert message.content["errors"][0]["code"] == 131051
    assert message.sender == MARIA


def test_that_unknown_future_type_is_unsupported_with_its_type_string() -> None:
    message = parse_only_message("unknown_future_type")
    assert message.type is MessageType.unsupported
    assert message.provider_type == "poll_vote"
    assert message.content["poll_vote"]["selected_options"] == [{"id": "opt_2", "text": "Sábado"}]


def test_that_username_user_without_phone_is_identified_by_bsuid() -> None:
    message = parse_only_message("bsuid_username_no_phone")
    assert message.sender == Sender(
        wa_id=None, bsuid="BR.1938475610293847", name="Carla Mendes", username="carla.mendes"
    )
    assert message.sender.address == "BR.1938475610293847"
    assert message.text == "Quero saber o prazo de entrega para Campinas"


@pytest.mark.parametrize(
    ("name", "status", "unix"),
    [
        ("status_sent", DeliveryStatus.sent, 1763800030),
        ("status_delivered", DeliveryStatus.delivered, 1763800032),
        ("status_read", DeliveryStatus.read, 1763800075),
    ],
)
def test_that_progress_statuses_map_to_delivery_status(
    name: str, status: DeliveryStatus, unix: int
) -> None:
    assert parse_only_status(name) == StatusUpdate(
        provider_message_id=OUT_1, status=status, timestamp=at(unix), recipient=MARIA_PHONE
    )


def test_that_failed_status_keeps_first_error_code_and_title() -> None:
    assert parse_only_status("status_failed") == StatusUpdate(
        provider_message_id=OUT_2,
        status=DeliveryStatus.failed,
        timestamp=at(1763886500),
        recipient=MARIA_PHONE,
        error_code="131047",
        error_title="Re-engagement message",
    )


def test_that_batch_is_grouped_by_phone_number_in_order_of_first_appearance() -> None:
    result = parse_webhook(load("batch_two_entries"))
    assert [phone_number_id for phone_number_id, _ in result] == [NUMBER_A, NUMBER_B]
    (_, batch_a), (_, batch_b) = result
    assert [(m.provider_message_id, m.text) for m in batch_a.messages] == [
        (WAMID_1, "Bom dia"),
        (WAMID_2, "Queria fazer um pedido"),
    ]
    assert [(s.provider_message_id, s.status) for s in batch_a.statuses] == [
        (OUT_1, DeliveryStatus.read)
    ]
    assert [(m.provider_message_id, m.sender) for m in batch_b.messages] == [
        (JOAO_IN, Sender(wa_id=JOAO_PHONE, name="João Pereira"))
    ]
    assert [(s.provider_message_id, s.status, s.timestamp) for s in batch_b.statuses] == [
        (JOAO_OUT, DeliveryStatus.delivered, at(1763800006)),
        (JOAO_OUT, DeliveryStatus.read, at(1763800013)),
    ]
    assert batch_a.others == batch_b.others == ()


def test_that_account_update_is_kept_as_other_event_without_phone_number() -> None:
    payload = load("account_update")
    change = payload["entry"][0]["changes"][0]
    assert parse_webhook(payload) == [
        (None, WebhookBatch(others=(OtherEvent("account_update", change),)))
    ]


CORPUS_FILES = sorted(path.stem for path in CORPUS.glob("*.json"))


DOCUMENTED_SHAPES = {
    "account_update",
    "audio",
    "batch_two_entries",
    "bsuid_username_no_phone",
    "contacts",
    "document",
    "image_with_caption",
    "interactive_button_reply",
    "interactive_list_reply",
    "interactive_nfm_reply",
    "location",
    "order",
    "reaction",
    "reaction_removed",
    "status_delivered",
    "status_failed",
    "status_read",
    "status_sent",
    "sticker",
    "system_changed_number",
    "template_button",
    "text",
    "unknown_future_type",
    "unsupported",
    "video",
    "voice",
}


def test_that_corpus_holds_every_documented_shape() -> None:
    assert set(CORPUS_FILES) == DOCUMENTED_SHAPES


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_that_every_corpus_file_parses_to_serialisable_values(name: str) -> None:
    for _, batch in parse_webhook(load(name)):
        assert_serialisable(batch)
        for message in batch.messages:
            assert message.sender.address


# --- Unknown and malformed pieces become OtherEvent ----------------------------------------


def test_that_unknown_change_field_is_kept_as_other_event_under_its_phone_number() -> None:
    change = {
        "field": "message_template_status_update",
        "value": {
            "event": "APPROVED",
            "message_template_id": 1289374650192837,
            "message_template_name": "confirmacao_pedido",
            "message_template_language": "pt_BR",
            "metadata": {"phone_number_id": NUMBER_A},
        },
    }
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [change]}]}
    assert parse_webhook(payload) == [
        (NUMBER_A, WebhookBatch(others=(OtherEvent("message_template_status_update", change),)))
    ]


def test_that_unknown_value_keys_of_a_messages_change_are_kept() -> None:
    payload = message_webhook(text_message())
    errors = [{"code": 131000, "title": "Something went wrong"}]
    payload["entry"][0]["changes"][0]["value"]["errors"] = errors
    batch = parse_single_batch(payload)
    assert len(batch.messages) == 1
    assert batch.others == (OtherEvent("messages.errors", {"errors": errors}),)


def test_that_message_missing_id_becomes_other_event() -> None:
    raw = text_message()
    del raw["id"]
    ok = text_message(id=WAMID_2)
    batch = parse_single_batch(message_webhook(raw, ok))
    assert [m.provider_message_id for m in batch.messages] == [WAMID_2]
    assert batch.others == (OtherEvent("malformed_message", raw),)


def test_that_message_without_phone_or_bsuid_becomes_other_event() -> None:
    raw = text_message()
    del raw["from"]
    batch = parse_single_batch(message_webhook(raw))
    assert batch.messages == ()
    assert batch.others == (OtherEvent("malformed_message", raw),)


@pytest.mark.parametrize(
    "raw",
    [
        text_message(text="Oi"),
        text_message(text={"body": 42}),
        text_message(type="image", image={"mime_type": "image/jpeg"}),
        text_message(type="interactive", interactive={"type": "button_reply"}),
        text_message(type="location", location={"latitude": True, "longitude": 1.0}),
        text_message(type="reaction", reaction={"emoji": "x"}),
        text_message(type=["text"]),
    ],
    ids=[
        "text-not-object",
        "body-not-string",
        "media-without-id",
        "reply-without-object",
        "bool-coordinate",
        "reaction-without-target",
        "type-not-string",
    ],
)
def test_that_message_with_wrong_types_becomes_other_event(raw: dict[str, Any]) -> None:
    batch = parse_single_batch(message_webhook(raw))
    assert batch.messages == ()
    assert batch.others == (OtherEvent("malformed_message", raw),)


def test_that_non_object_message_is_wrapped_so_it_can_be_stored() -> None:
    batch = parse_single_batch(message_webhook("not a message"))
    assert batch.others == (OtherEvent("malformed_message", {"value": "not a message"}),)


def test_that_unknown_status_value_is_kept_as_other_event() -> None:
    deleted = {"id": OUT_1, "status": "deleted", "timestamp": "1763800100"}
    batch = parse_single_batch(message_webhook(statuses=[deleted]))
    assert batch.statuses == ()
    assert batch.others == (OtherEvent("status", deleted),)


def test_that_status_missing_id_becomes_other_event() -> None:
    broken = {"status": "read", "timestamp": "1763800100", "recipient_id": MARIA_PHONE}
    batch = parse_single_batch(message_webhook(statuses=[broken]))
    assert batch.others == (OtherEvent("malformed_status", broken),)


def test_that_status_sent_to_bsuid_uses_recipient_user_id() -> None:
    status = {"id": OUT_1, "status": "sent", "timestamp": "1", "recipient_user_id": MARIA_BSUID}
    (update,) = parse_single_batch(message_webhook(statuses=[status])).statuses
    assert update.recipient == MARIA_BSUID


def test_that_failed_status_falls_back_to_error_message_and_string_code() -> None:
    status = {
        "id": OUT_1,
        "status": "failed",
        "timestamp": "1763800100",
        "recipient_id": MARIA_PHONE,
        "errors": [{"code": "131026", "message": "Message undeliverable"}],
    }
    (update,) = parse_single_batch(message_webhook(statuses=[status])).statuses
    assert (update.error_code, update.error_title) == ("131026", "Message undeliverable")


def test_that_failed_status_without_errors_has_no_error_code() -> None:
    status = {"id": OUT_1, "status": "failed", "timestamp": "1763800100", "errors": "boom"}
    (update,) = parse_single_batch(message_webhook(statuses=[status])).statuses
    assert update.status is DeliveryStatus.failed
    assert (update.error_code, update.error_title) == (None, None)


@pytest.mark.parametrize("timestamp", ["soon", None, True, 10**400, -5, "1e400", [1]])
def test_that_junk_timestamp_becomes_none(timestamp: object) -> None:
    (message,) = parse_single_batch(message_webhook(text_message(timestamp=timestamp))).messages
    assert message.timestamp is None


def test_that_sender_is_matched_to_contact_by_bsuid_when_phone_is_unknown() -> None:
    contacts = [{"profile": {"name": "Maria Souza", "username": "maria.s"}, "user_id": MARIA_BSUID}]
    raw = text_message(from_user_id=MARIA_BSUID)
    (message,) = parse_single_batch(message_webhook(raw, contacts=contacts)).messages
    assert message.sender == Sender(
        wa_id=MARIA_PHONE, bsuid=MARIA_BSUID, name="Maria Souza", username="maria.s"
    )


def test_that_a_contact_of_someone_else_does_not_name_the_sender() -> None:
    contacts = [{"profile": {"name": "João Pereira"}, "wa_id": JOAO_PHONE}]
    (message,) = parse_single_batch(message_webhook(text_message(), contacts=contacts)).messages
    assert message.sender == Sender(wa_id=MARIA_PHONE)


def test_that_non_list_messages_keep_the_whole_change() -> None:
    payload = message_webhook()
    value = payload["entry"][0]["changes"][0]["value"]
    value["messages"] = {"oops": True}
    batch = parse_single_batch(payload)
    assert batch.others == (OtherEvent("malformed_change", payload["entry"][0]["changes"][0]),)


@pytest.mark.parametrize(
    ("payload", "kind", "event_payload"),
    [
        ({"object": "whatsapp_business_account"}, "malformed_webhook", None),
        ({"object": "whatsapp_business_account", "entry": [7]}, "malformed_entry", {"value": 7}),
        (
            {"object": "whatsapp_business_account", "entry": [{"changes": ["x"]}]},
            "malformed_change",
            {"value": "x"},
        ),
        (
            {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "m"}]}]},
            "malformed_change",
            {"field": "m"},
        ),
    ],
    ids=["no-entry", "entry-not-object", "change-not-object", "change-without-value"],
)
def test_that_structurally_broken_pieces_are_kept_under_no_phone_number(
    payload: dict[str, Any], kind: str, event_payload: dict[str, Any] | None
) -> None:
    expected = payload if event_payload is None else event_payload
    assert parse_webhook(payload) == [(None, WebhookBatch(others=(OtherEvent(kind, expected),)))]


def test_that_other_provider_objects_are_kept_as_unrecognized() -> None:
    payload = {"object": "instagram", "entry": []}
    assert parse_webhook(payload) == [
        (None, WebhookBatch(others=(OtherEvent("unrecognized_object", payload),)))
    ]


def test_that_empty_entry_list_yields_no_batches() -> None:
    assert parse_webhook({"object": "whatsapp_business_account", "entry": []}) == []


@pytest.mark.parametrize("payload", [[], [{"object": "x"}], "text", 42, 4.2, None, True])
def test_that_non_object_body_raises_payload_error(payload: object) -> None:
    with pytest.raises(WebhookPayloadError):
        parse_webhook(payload)


def test_that_parsing_does_not_mutate_the_payload() -> None:
    payload = load("batch_two_entries")
    before = copy.deepcopy(payload)
    parse_webhook(payload)
    assert payload == before


# --- Properties ----------------------------------------------------------------------------

WABA = "whatsapp_business_account"
#: orjson (the caller's decoder) only yields 64-bit integers and finite floats.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=16,
)
#: Smaller junk for the near-valid skeleton, which already nests many values per example.
small_json = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=4,
)

MESSAGE_TYPES = [
    "text", "image", "video", "document", "sticker", "audio", "location", "contacts",
    "interactive", "button", "reaction", "order", "system", "unsupported", "poll_vote",
]  # fmt: skip
MEDIA = ["id", "mime_type", "sha256", "caption"]
#: The fields each type's object carries; the near-valid strategy fills them plausibly.
TYPE_FIELDS = {
    "text": ["body"],
    "image": MEDIA,
    "video": MEDIA,
    "document": [*MEDIA, "filename"],
    "sticker": [*MEDIA, "animated"],
    "audio": [*MEDIA, "voice"],
    "location": ["latitude", "longitude", "name", "address", "url"],
    "button": ["payload", "text"],
    "reaction": ["message_id", "emoji"],
    "order": ["catalog_id", "product_items", "text"],
    "system": ["body", "type", "wa_id", "new_wa_id", "user_id"],
}
#: Without these a message of the type is malformed; they are usually present.
REQUIRED = {
    "text": ("body",),
    **dict.fromkeys(["image", "video", "document", "sticker", "audio"], ("id",)),
    "location": ("latitude", "longitude"),
    "reaction": ("message_id",),
}
short_text = st.text(max_size=10)
coordinate = st.floats(min_value=-180, max_value=180)
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    **dict.fromkeys(
        ["body", "id", "mime_type", "sha256", "caption", "filename", "name", "address", "url"],
        short_text,
    ),
    **dict.fromkeys(["payload", "text", "message_id", "emoji", "catalog_id", "type"], short_text),
    **dict.fromkeys(["wa_id", "new_wa_id", "user_id"], short_text),
    "animated": st.booleans(),
    "voice": st.booleans(),
    "latitude": coordinate,
    "longitude": coordinate,
    "product_items": st.lists(small_json, max_size=2),
}


def mostly(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a plausible value, sometimes arbitrary JSON in its place."""
    return st.sampled_from([*[True] * 7, False]).flatmap(
        lambda plausible: strategy if plausible else small_json
    )


def optional_fields(
    fields: dict[str, st.SearchStrategy[Any]], required: tuple[str, ...] = ()
) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {key: mostly(fields[key]) for key in required},
        optional={key: mostly(value) for key, value in fields.items() if key not in required},
    )


replies = optional_fields(
    {"id": short_text, "title": short_text, "description": short_text}, required=("id",)
)
interactive_objects = st.fixed_dictionaries(
    {"type": mostly(st.sampled_from(["button_reply", "list_reply", "nfm_reply"]))},
    optional={"button_reply": mostly(replies), "list_reply": mostly(replies)},
)


def type_object(kind: str) -> st.SearchStrategy[Any]:
    if kind == "contacts":
        return st.lists(small_json, max_size=2)
    if kind == "interactive":
        return interactive_objects
    fields = TYPE_FIELDS.get(kind, ["id", "type", "body"])
    return optional_fields({field: PLAUSIBLE[field] for field in fields}, REQUIRED.get(kind, ()))


@st.composite
def near_messages(draw: st.DrawFn) -> Any:
    message = draw(
        st.fixed_dictionaries(
            {
                "id": mostly(st.just(WAMID_1)),
                "from": mostly(st.sampled_from([MARIA_PHONE, JOAO_PHONE])),
            },
            optional={
                "from_user_id": mostly(st.just(MARIA_BSUID)),
                "timestamp": mostly(st.just("1763800000")),
                "context": mostly(optional_fields({"id": short_text})),
                "errors": small_json,
            },
        )
    )
    kind = draw(mostly(st.sampled_from(MESSAGE_TYPES)))
    message["type"] = kind
    if isinstance(kind, str):
        message[kind] = draw(mostly(type_object(kind)))
    return message


near_statuses = st.fixed_dictionaries(
    {
        "id": mostly(st.just(OUT_1)),
        "status": mostly(st.sampled_from(["sent", "delivered", "read", "failed", "deleted"])),
    },
    optional={
        "timestamp": mostly(st.just("1763800000")),
        "recipient_id": mostly(st.just(MARIA_PHONE)),
        "recipient_user_id": mostly(st.just(MARIA_BSUID)),
        "errors": mostly(
            st.lists(
                optional_fields(
                    {"code": st.integers(0, 200000), "title": short_text, "message": short_text}
                ),
                max_size=2,
            )
        ),
    },
)
near_contacts = st.lists(
    mostly(
        optional_fields(
            {
                "wa_id": st.just(MARIA_PHONE),
                "user_id": st.just(MARIA_BSUID),
                "profile": optional_fields({"name": short_text, "username": short_text}),
            }
        )
    ),
    max_size=3,
)
near_values = st.fixed_dictionaries(
    {
        "messaging_product": st.just("whatsapp"),
        "metadata": st.fixed_dictionaries(
            {"phone_number_id": st.sampled_from([NUMBER_A, NUMBER_B])}
        ),
        "contacts": near_contacts,
        "messages": st.lists(mostly(near_messages()), max_size=3),
        "statuses": st.lists(mostly(near_statuses), max_size=2),
    }
)
near_webhooks = st.fixed_dictionaries(
    {
        "object": st.just(WABA),
        "entry": st.lists(
            st.fixed_dictionaries(
                {
                    "id": st.just("102290129340398"),
                    "changes": st.lists(
                        st.fixed_dictionaries({"field": st.just("messages"), "value": near_values}),
                        min_size=1,
                        max_size=2,
                    ),
                }
            ),
            min_size=1,
            max_size=2,
        ),
    }
)
loose_webhooks = st.fixed_dictionaries(
    {"object": st.just(WABA) | json_values, "entry": json_values | st.lists(json_values)}
)

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_serialisable(batch: WebhookBatch) -> None:
    for other in batch.others:
        assert isinstance(other.payload, dict)
        orjson.dumps(other.payload)
    for message in batch.messages:
        orjson.dumps(message.content)


def parse_or_reject(payload: object) -> list[tuple[str | None, WebhookBatch]]:
    try:
        result = parse_webhook(payload)
    except WebhookPayloadError:
        assert not isinstance(payload, dict)
        return []
    assert isinstance(result, list)
    for _, batch in result:
        assert_serialisable(batch)
    return result


@PROPERTY
@given(json_values | loose_webhooks)
def test_that_any_json_value_parses_or_is_rejected_as_not_an_object(payload: object) -> None:
    parse_or_reject(payload)


@PROPERTY
@given(near_webhooks)
def test_that_near_valid_webhooks_account_for_every_message_and_status(
    payload: dict[str, Any],
) -> None:
    result = parse_or_reject(payload)
    values = [change["value"] for entry in payload["entry"] for change in entry["changes"]]
    sent = sum(len(value["messages"]) + len(value["statuses"]) for value in values)
    received = sum(
        len(batch.messages) + len(batch.statuses) + len(batch.others) for _, batch in result
    )
    assert received == sent  # nothing silently dropped, nothing invented
    for _, batch in result:
        for message in batch.messages:
            assert message.sender.address


def test_that_unknown_fields_of_a_known_type_are_kept_as_extra() -> None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "metadata": {"phone_number_id": "123"},
                            "contacts": [{"wa_id": "5511987654321"}],
                            "messages": [
                                {
                                    "from": "5511987654321",
                                    "id": "wamid.extra1",
                                    "timestamp": "1767225600",
                                    "type": "text",
                                    "text": {"body": "vi o anúncio"},
                                    "referral": {"source_type": "ad", "source_id": "987"},
                                    "context": {"forwarded": True},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    [(_, batch)] = parse_webhook(payload)
    (message,) = batch.messages
    assert message.text == "vi o anúncio"
    assert message.content["extra"] == {
        "referral": {"source_type": "ad", "source_id": "987"},
        "context": {"forwarded": True},
    }


def digits_from(zero: int, ascii_digits: str) -> str:
    """The same number written with another script's digits (``str.isdigit`` is true for all)."""
    return ascii_digits.translate({ord(d): zero + int(d) for d in "0123456789"})


FULLWIDTH = digits_from(0xFF10, MARIA_PHONE)
ARABIC_INDIC = digits_from(0x0660, MARIA_PHONE)
PERSIAN = digits_from(0x06F0, MARIA_PHONE)


@pytest.mark.parametrize("sender", [FULLWIDTH, ARABIC_INDIC, PERSIAN, "+5511987654321", "55 11"])
def test_that_a_from_of_anything_but_ascii_digits_is_no_whatsapp_id(sender: str) -> None:
    batch = parse_single_batch(message_webhook(text_message(**{"from": sender}), contacts=[]))
    assert batch.messages == ()
    assert [other.kind for other in batch.others] == ["malformed_message"]


def test_that_a_contact_wa_id_of_other_digits_is_not_taken_as_the_phone() -> None:
    contacts = [{"profile": {"name": "Maria"}, "user_id": MARIA_BSUID, "wa_id": FULLWIDTH}]
    message = text_message(from_user_id=MARIA_BSUID)
    del message["from"]
    (parsed,) = parse_single_batch(message_webhook(message, contacts=contacts)).messages
    assert parsed.sender == Sender(wa_id=None, bsuid=MARIA_BSUID, name="Maria")
