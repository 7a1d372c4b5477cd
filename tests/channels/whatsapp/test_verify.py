from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from atende.channels.whatsapp.verify import sign, verify_handshake, verify_signature

SECRET = "c0ffee5ecretf0rtest5"
BODY = (
    b'{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":'
    b'[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":'
    b'"5511940028922","phone_number_id":"106540352242922"},"messages":[{"from":"5511987654321",'
    b'"id":"wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFDE1NzM2MTk1RjdBNDIxNjUwRTUxAA==",'
    b'"timestamp":"1763800000","type":"text","text":{"body":"Ol\\u00e1"}}]},"field":"messages"}]}]}'
)


def test_that_sign_produces_meta_header_format() -> None:
    expected = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY) == f"sha256={expected}"


def test_that_valid_signature_is_accepted() -> None:
    assert verify_signature(SECRET, BODY, sign(SECRET, BODY))


def test_that_uppercase_hex_signature_is_accepted() -> None:
    header = sign(SECRET, BODY)
    assert verify_signature(SECRET, BODY, "sha256=" + header.removeprefix("sha256=").upper())


def test_that_signature_with_wrong_secret_is_rejected() -> None:
    assert not verify_signature(SECRET, BODY, sign("another-app-secret", BODY))


def test_that_tampered_body_is_rejected() -> None:
    header = sign(SECRET, BODY)
    assert not verify_signature(SECRET, BODY.replace(b"Ol", b"Xl"), header)


def test_that_body_reserialised_after_parsing_is_rejected() -> None:
    # The signature covers the raw bytes; any re-encoding (spacing, escapes) breaks it.
    header = sign(SECRET, BODY)
    reserialised = json.dumps(json.loads(BODY), indent=1).encode()
    assert reserialised != BODY
    assert not verify_signature(SECRET, reserialised, header)


@pytest.mark.parametrize("header", [None, ""])
def test_that_missing_header_is_rejected(header: str | None) -> None:
    assert not verify_signature(SECRET, BODY, header)


def test_that_sha1_prefix_is_rejected() -> None:
    digest = hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest()
    assert not verify_signature(SECRET, BODY, f"sha1={digest}")


def test_that_right_digest_with_wrong_prefix_is_rejected() -> None:
    digest = sign(SECRET, BODY).removeprefix("sha256=")
    assert not verify_signature(SECRET, BODY, f"sha1={digest}")
    assert not verify_signature(SECRET, BODY, digest)


@pytest.mark.parametrize(
    "header",
    [
        "sha256=" + "z" * 64,
        "sha256=" + "ab" * 31 + "  ",
        "sha256=" + "é" * 64,
        "sha256=",
        "sha256=abc",
        "sha256=" + "a" * 128,
    ],
    ids=["non-hex", "whitespace", "non-ascii", "empty-digest", "too-short", "too-long"],
)
def test_that_garbage_signature_is_rejected(header: str) -> None:
    assert not verify_signature(SECRET, BODY, header)


def test_that_unconfigured_app_secret_never_verifies() -> None:
    assert not verify_signature("", BODY, sign("", BODY))


def test_that_empty_body_can_still_be_verified() -> None:
    assert verify_signature(SECRET, b"", sign(SECRET, b""))
    assert not verify_signature(SECRET, b"", sign(SECRET, b" "))


def test_that_handshake_echoes_challenge_for_the_right_token() -> None:
    assert verify_handshake("subscribe", "meu-token-123", "1158201444", "meu-token-123") == (
        "1158201444"
    )


def test_that_handshake_with_wrong_token_is_refused() -> None:
    assert verify_handshake("subscribe", "meu-token-124", "1158201444", "meu-token-123") is None


@pytest.mark.parametrize("mode", ["unsubscribe", "", None, "SUBSCRIBE"])
def test_that_handshake_with_wrong_mode_is_refused(mode: str | None) -> None:
    assert verify_handshake(mode, "meu-token-123", "1158201444", "meu-token-123") is None


@pytest.mark.parametrize("challenge", [None, ""])
def test_that_handshake_without_challenge_is_refused(challenge: str | None) -> None:
    assert verify_handshake("subscribe", "meu-token-123", challenge, "meu-token-123") is None


def test_that_handshake_without_token_is_refused() -> None:
    assert verify_handshake("subscribe", None, "1158201444", "meu-token-123") is None


def test_that_unconfigured_expected_token_never_matches() -> None:
    assert verify_handshake("subscribe", "", "1158201444", "") is None


def test_that_non_ascii_token_is_compared_safely() -> None:
    assert verify_handshake("subscribe", "senha-ç", "42", "senha-ç") == "42"
    assert verify_handshake("subscribe", "senha-c", "42", "senha-ç") is None
