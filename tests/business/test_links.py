"""Which links a customer can open, and which public URLs a deployment must not keep."""

from __future__ import annotations

from typing import cast

import pytest
from cryptography.fernet import Fernet

from atende.business.links import BoletoLinks, PdfGrant, is_public_https, public_url_problem
from atende.business.registry import ConnectorRegistry
from atende.kit.errors import NotFound
from atende.kit.secrets import SecretBox

#: Sealing and opening never reach a connector.
REGISTRY = cast(ConnectorRegistry, None)


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("https://boletos.empresa.com.br/2via/abc.pdf", True),
        ("http://boletos.empresa.com.br/2via/abc.pdf", False),
        ("/api/v1/financeiro/boletos/TIT-1001.pdf", False),
        ("boletos/TIT-1001.pdf", False),
        ("https:///sem-host.pdf", False),
        ("file:///etc/passwd", False),
    ],
)
def test_that_only_absolute_https_links_count_as_public(url: str, public: bool) -> None:
    assert is_public_https(url) is public


@pytest.mark.parametrize(
    ("public_url", "problem"),
    [
        ("https://atende.loja.com.br", None),
        ("https://atende.loja.com.br/", None),
        ("http://127.0.0.1:8000", "it points at this machine"),
        ("https://localhost", "it points at this machine"),
        ("http://atende.loja.com.br", "it is not https (WhatsApp and browsers expect https)"),
        ("atende.loja.com.br", "it is not an absolute http(s) URL"),
    ],
)
def test_that_a_public_url_customers_cannot_open_is_named(
    public_url: str, problem: str | None
) -> None:
    assert public_url_problem(public_url) == problem


@pytest.mark.parametrize("tail", ["x", "=x", "AAAA", "%%", ".", "\n", "=="])
def test_that_a_seal_with_anything_after_it_is_not_opened(tail: str) -> None:
    links = BoletoLinks(SecretBox(Fernet.generate_key()), "https://atende.loja.com.br", REGISTRY)
    seal = links.seal(PdfGrant("tenant", "TIT-1", "52998224725")).rsplit("/", 1)[1]
    assert links.open(seal).titulo_id == "TIT-1"
    with pytest.raises(NotFound):
        links.open(seal + tail)
