"""The Business API over real HTTP, against the embedded demo ERP."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
from cryptography.fernet import Fernet

from atende.brazil.boleto import parse_linha_digitavel
from atende.business.links import MAX_AGE_SECONDS, PDF_PATH, PdfGrant
from atende.connectors.demo import DemoErp, business_today, demo_database_url, seed_demo_erp
from atende.demo import ensure_tenant
from atende.main import Container
from atende.tenancy.tokens import issue_token
from tests.connectors.fake_business_api import FakeBusinessApi
from tests.support.app import running

MARIA = "529.982.247-25"


@pytest.fixture
async def api(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    tenant_id = await ensure_tenant(container.sessions, "loja", "Loja", {"erp": {"kind": "demo"}})
    await seed_demo_erp(demo_database_url(container.settings.var_dir), today=business_today())
    token = await issue_token(container.sessions, tenant_id, "tests")
    async with (
        running(container) as url,
        httpx.AsyncClient(base_url=url, headers={"Auth-Token": token}) as client,
    ):
        yield client


async def test_that_a_customer_is_found_by_a_formatted_cpf(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/clientes", params={"doc": MARIA})
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Maria Aparecida Souza"
    assert response.json()["document"] == "52998224725"


async def test_that_an_alphanumeric_cnpj_customer_is_found(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/clientes", params={"doc": "12.abc.345/01de-35"})
    assert response.status_code == 200
    assert response.json()["document"] == "12ABC34501DE35"


@pytest.mark.parametrize(
    ("doc", "reason"),
    [("529.982.247-24", "check_digits"), ("1234", "length"), ("111.111.111-11", "repeated_digits")],
)
async def test_that_an_invalid_document_is_a_422_naming_the_failed_check(
    api: httpx.AsyncClient, doc: str, reason: str
) -> None:
    response = await api.get("/api/v1/clientes", params={"doc": doc})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["reason"] == reason


async def test_that_a_wrong_or_missing_token_is_a_401(api: httpx.AsyncClient) -> None:
    wrong = await api.get("/api/v1/clientes", params={"doc": MARIA}, headers={"Auth-Token": "x"})
    async with httpx.AsyncClient(base_url=str(api.base_url)) as anonymous:
        missing = await anonymous.get("/api/v1/clientes", params={"doc": MARIA})
    assert (wrong.status_code, missing.status_code) == (401, 401)


async def test_that_an_unknown_valid_cpf_is_a_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/clientes", params={"doc": "100.047.514-00"})
    assert response.status_code == 404


async def test_that_open_titulos_carry_status_and_days_overdue(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/financeiro/titulos", params={"doc": MARIA})
    titulos = {t["id"]: t for t in response.json()}
    assert set(titulos) == {"TIT-1001", "TIT-1002"}  # the paid one is not open
    assert titulos["TIT-1001"]["status"] == "overdue"
    assert titulos["TIT-1001"]["days_overdue"] == 10


async def test_that_a_second_copy_has_a_valid_linha_and_a_working_pdf_link(
    api: httpx.AsyncClient,
) -> None:
    response = await api.post(
        "/api/v1/financeiro/boletos/segunda-via", json={"doc": MARIA, "titulo_id": "TIT-1002"}
    )
    assert response.status_code == 200
    copy = response.json()
    assert parse_linha_digitavel(copy["linha_digitavel"]).barcode == copy["barcode"]
    assert copy["pix_copia_e_cola"].startswith("000201")
    assert copy["pdf_url"].startswith("http://127.0.0.1:8000/")  # ATENDE_PUBLIC_URL
    assert "52998224725" not in copy["pdf_url"]  # the link carries no personal data
    path = httpx.URL(copy["pdf_url"]).path
    # No token: WhatsApp's media servers fetch the document like this.
    async with httpx.AsyncClient(base_url=str(api.base_url)) as anyone:
        pdf = await anyone.get(path)
        forged = await anyone.get(path[:-6] + "AAAAAA")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert forged.status_code == 404


async def test_that_an_overdue_boleto_is_reissued_and_a_very_old_one_refused(
    api: httpx.AsyncClient,
) -> None:
    reissued = await api.post(
        "/api/v1/financeiro/boletos/segunda-via", json={"doc": MARIA, "titulo_id": "TIT-1001"}
    )
    assert reissued.json()["reissued"] is True
    assert reissued.json()["fine_cents"] > 0
    refused = await api.post(
        "/api/v1/financeiro/boletos/segunda-via",
        json={"doc": "11.222.333/0001-81", "titulo_id": "TIT-2002"},
    )
    assert refused.status_code == 409
    assert "59 dias" in refused.json()["detail"]


async def test_that_someone_elses_titulo_is_not_found(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/v1/financeiro/boletos/segunda-via",
        json={"doc": "11.222.333/0001-81", "titulo_id": "TIT-1002"},
    )
    assert response.status_code == 404


async def test_that_recent_orders_include_tracking(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/faturamento/pedidos", params={"doc": MARIA, "dias": 60})
    orders = {o["status"]: o for o in response.json()}
    assert set(orders) == {"processing", "shipped", "delivered"}
    assert orders["shipped"]["tracking_code"] == "BR123456789BR"


async def test_that_stock_answers_by_sku_and_by_name(api: httpx.AsyncClient) -> None:
    by_sku = await api.get("/api/v1/vendas/estoque", params={"sku": "cam-003"})
    assert by_sku.json()[0]["available"] is False
    by_name = await api.get("/api/v1/vendas/estoque", params={"q": "camiseta"})
    assert by_name.status_code == 200
    assert by_name.json()
    neither = await api.get("/api/v1/vendas/estoque")
    assert neither.status_code == 400


async def test_that_the_same_idempotency_key_never_creates_two_orders(
    api: httpx.AsyncClient,
) -> None:
    order = {"doc": MARIA, "items": [{"sku": "CAM-001", "quantity": 2}]}
    headers = {"Idempotency-Key": "turn-123-order-1"}
    first = await api.post("/api/v1/vendas/pedido", json=order, headers=headers)
    again = await api.post("/api/v1/vendas/pedido", json=order, headers=headers)
    assert first.status_code == 201
    assert again.json()["order_id"] == first.json()["order_id"]
    stock = await api.get("/api/v1/vendas/estoque", params={"sku": "CAM-001"})
    assert stock.json()[0]["stock"] == 23  # 25 in the seed, reserved once
    missing_key = await api.post("/api/v1/vendas/pedido", json=order)
    assert missing_key.status_code == 400


async def test_that_a_reused_idempotency_key_with_another_order_is_a_422_naming_the_difference(
    api: httpx.AsyncClient,
) -> None:
    order = {"doc": MARIA, "items": [{"sku": "CAM-001", "quantity": 2}]}
    headers = {"Idempotency-Key": "turn-456-order-1"}
    first = await api.post("/api/v1/vendas/pedido", json=order, headers=headers)
    other = {**order, "items": [{"sku": "CAM-001", "quantity": 5}]}
    reused = await api.post("/api/v1/vendas/pedido", json=other, headers=headers)
    # The same order with the document written another way is the same request.
    same = await api.post(
        "/api/v1/vendas/pedido", json={**order, "doc": "52998224725"}, headers=headers
    )
    assert first.status_code == 201
    assert reused.status_code == 422
    assert reused.headers["content-type"] == "application/problem+json"
    problem = reused.json()
    assert problem["reason"] == "idempotency_key_reused"
    assert problem["fields"] == ["items"]
    assert "Idempotency-Key já foi usada em outro pedido" in problem["detail"]
    assert "campo diferente: items" in problem["detail"]
    assert same.status_code == 201
    assert same.json()["order_id"] == first.json()["order_id"]
    stock = await api.get("/api/v1/vendas/estoque", params={"sku": "CAM-001"})
    assert stock.json()[0]["stock"] == 23  # 25 in the seed, reserved once


async def test_that_validation_errors_are_in_pt_br_with_their_field_locations_and_types(
    api: httpx.AsyncClient,
) -> None:
    order = {"doc": MARIA, "items": [{"sku": "CAM-001", "quantity": 0}]}
    response = await api.post("/api/v1/vendas/pedido", json=order)
    short_key = await api.post(
        "/api/v1/vendas/pedido",
        json={"doc": MARIA, "items": [{"sku": "CAM-001", "quantity": 1}]},
        headers={"Idempotency-Key": "curta"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["detail"] == (
        "requisição inválida: header.idempotency-key: campo obrigatório; "
        "body.items.0.quantity: deve ser maior que 0"
    )
    assert problem["errors"] == [
        {"loc": "header.idempotency-key", "type": "missing"},
        {"loc": "body.items.0.quantity", "type": "greater_than"},
    ]
    assert "52998224725" not in response.text
    assert "529.982.247-25" not in response.text
    assert short_key.json()["detail"] == (
        "requisição inválida: header.idempotency-key: deve ter pelo menos 8 caracteres"
    )


async def test_that_every_error_detail_of_the_business_api_is_in_pt_br(
    api: httpx.AsyncClient,
) -> None:
    async with httpx.AsyncClient(base_url=str(api.base_url)) as anonymous:
        answers = {
            "no token": await anonymous.get("/api/v1/clientes", params={"doc": MARIA}),
            "no sku nor q": await api.get("/api/v1/vendas/estoque"),
            "unknown sku": await api.get("/api/v1/vendas/estoque", params={"sku": "NAO-EXISTE"}),
            "never posted": await api.get("/api/v1/vendas/pedido/never-posted-key"),
            "forged link": await anonymous.get("/api/v1/financeiro/boletos/pdf/AAAAAAAAAA"),
            "no such route": await api.get("/api/v1/api/v1/clientes", params={"doc": MARIA}),
            "wrong method": await api.delete("/api/v1/clientes"),
            "wrong type": await api.get(
                "/api/v1/faturamento/pedidos", params={"doc": MARIA, "dias": "muitos"}
            ),
            "not json": await api.post(
                "/api/v1/financeiro/boletos/segunda-via",
                content=b"{",
                headers={"Content-Type": "application/json"},
            ),
        }
    english = re.compile(
        r"\b(the|this|is|not|no such|invalid|missing|found|give|field|input|required)\b", re.I
    )
    for what, response in answers.items():
        assert response.status_code >= 400, what
        assert response.headers["content-type"] == "application/problem+json", what
        detail = response.json()["detail"]
        assert not english.search(detail), f"{what}: {detail}"
    assert answers["no such route"].json()["reason"] == "no_such_route"
    assert "GET" in answers["wrong method"].headers["allow"]


async def test_that_the_business_api_is_in_the_openapi_schema(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    assert {
        "/api/v1/clientes",
        "/api/v1/financeiro/titulos",
        "/api/v1/financeiro/boletos/segunda-via",
        "/api/v1/faturamento/pedidos",
        "/api/v1/vendas/estoque",
        "/api/v1/vendas/pedido",
    } <= set(paths)


async def test_that_a_tenant_on_a_rest_erp_is_served_through_its_adapter(
    container: Container, tmp_path: Path
) -> None:
    """Atende's Business API → REST connector → a company's ERP adapter, all over real HTTP."""
    erp_url = f"sqlite+aiosqlite:///{tmp_path / 'company_erp.db'}"
    await seed_demo_erp(erp_url, today=business_today())
    erp = DemoErp(erp_url)
    adapter = FakeBusinessApi(erp, token="adapter-secret")
    adapter_url = await adapter.start()
    try:
        tenant_id = await ensure_tenant(
            container.sessions,
            "empresa",
            "Empresa",
            {
                "erp": {
                    "kind": "rest",
                    "base_url": adapter_url,
                    "token": container.box.encrypt("adapter-secret"),
                }
            },
        )
        token = await issue_token(container.sessions, tenant_id, "tests")
        async with (
            running(container) as url,
            httpx.AsyncClient(base_url=url, headers={"Auth-Token": token}) as client,
        ):
            found = await client.get("/api/v1/clientes", params={"doc": MARIA})
            refused = await client.post(
                "/api/v1/financeiro/boletos/segunda-via",
                json={"doc": "11.222.333/0001-81", "titulo_id": "TIT-2002"},
            )
    finally:
        await adapter.close()
        await erp.aclose()
    assert found.status_code == 200
    assert found.json()["name"] == "Maria Aparecida Souza"
    assert refused.status_code == 409
    assert adapter.requests  # it really went through the adapter


# -- the sealed PDF link: forged, expired, stale ------------------------------------------------


async def _tenant(container: Container) -> str:
    return await ensure_tenant(container.sessions, "loja", "Loja")


async def test_that_a_forged_pdf_link_is_a_404_in_pt_br(api: httpx.AsyncClient) -> None:
    copy = await api.post(
        "/api/v1/financeiro/boletos/segunda-via", json={"doc": MARIA, "titulo_id": "TIT-1002"}
    )
    path = httpx.URL(copy.json()["pdf_url"]).path
    seal = path.rsplit("/", 1)[1]
    flipped = seal[:40] + ("A" if seal[40] != "A" else "B") + seal[41:]
    async with httpx.AsyncClient(base_url=str(api.base_url)) as anyone:
        answers = [
            await anyone.get(path.replace(seal, forged))
            for forged in (flipped, "nao-e-um-selo", seal[:-10])
        ]
    for answer in answers:
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"].startswith("Este link de boleto é inválido.")


async def test_that_an_expired_pdf_link_is_a_410_in_pt_br(
    api: httpx.AsyncClient, container: Container
) -> None:
    # Sealed 25 hours ago with the deployment's own key: authentic, but past its day.
    key = (container.settings.var_dir / "secret.key").read_bytes().strip()
    grant = {"t": await _tenant(container), "i": "TIT-1002", "d": "52998224725"}
    sealed_at = int(time.time()) - (MAX_AGE_SECONDS + 3600)
    seal = Fernet(key).encrypt_at_time(orjson.dumps(grant), sealed_at).decode()
    async with httpx.AsyncClient(base_url=str(api.base_url)) as anyone:
        answer = await anyone.get(PDF_PATH.format(seal=seal))
    assert answer.status_code == 410
    assert answer.headers["content-type"] == "application/problem+json"
    assert "expirou" in answer.json()["detail"]


async def test_that_a_link_to_a_boleto_paid_or_reissued_since_is_a_410(
    api: httpx.AsyncClient, container: Container
) -> None:
    tenant_id = await _tenant(container)
    copy = await container.business.second_copy(tenant_id, MARIA, "TIT-1002")
    links = container.pdf_links
    stale = [
        # Shown with another barcode: re-issued (new due date, interest) since.
        links.seal(PdfGrant(tenant_id, "TIT-1002", "52998224725", "0" * 44)),
        # Paid: no longer open.
        links.seal(PdfGrant(tenant_id, "TIT-1003", "52998224725", copy.barcode)),
        # Not hers.
        links.seal(PdfGrant(tenant_id, "TIT-2001", "52998224725", copy.barcode)),
    ]
    async with httpx.AsyncClient(base_url=str(api.base_url)) as anyone:
        answers = [await anyone.get(httpx.URL(link).path) for link in stale]
        fresh = await anyone.get(httpx.URL(str(copy.pdf_url)).path)
    for answer in answers:
        assert answer.status_code == 410, answer.text
        assert "não está mais disponível" in answer.json()["detail"]
    assert fresh.status_code == 200


async def test_that_a_rest_erps_own_https_pdf_link_is_passed_through_and_a_path_is_not(
    container: Container, tmp_path: Path
) -> None:
    """A real ERP's public link is the ERP's to serve; a path only it understands never reaches
    a customer (the copy goes out without a PDF)."""
    erp_url = f"sqlite+aiosqlite:///{tmp_path / 'company_erp.db'}"
    await seed_demo_erp(erp_url, today=business_today())
    erp = DemoErp(erp_url)
    adapter = FakeBusinessApi(erp, token="adapter-secret")
    adapter_url = await adapter.start()
    own = (await erp.second_copy(MARIA, "TIT-1002")).model_dump(mode="json")
    public = "https://boletos.empresa.example/2via/7f3a9c.pdf"
    try:
        tenant_id = await ensure_tenant(
            container.sessions,
            "empresa",
            "Empresa",
            {
                "erp": {
                    "kind": "rest",
                    "base_url": adapter_url,
                    "token": container.box.encrypt("adapter-secret"),
                }
            },
        )
        answers = []
        for pdf_url in (public, "/interno/boletos/TIT-1002.pdf", "http://10.0.0.5/b.pdf"):
            adapter.reply_next(200, orjson.dumps({**own, "pdf_url": pdf_url}).decode())
            copy = await container.business.second_copy(tenant_id, MARIA, "TIT-1002")
            answers.append(copy.pdf_url)
    finally:
        await adapter.close()
        await erp.aclose()
    assert answers == [public, None, None]
