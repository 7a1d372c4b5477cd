"""`atende demo`: a demo tenant with a sandbox channel and a WhatsApp Cloud channel."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.assistant.faq import FaqIndex
from atende.channels.models import Channel, ChannelKind
from atende.config import Environment, Settings
from atende.connectors.demo import business_today, demo_database_url, seed_demo_erp
from atende.kit.secrets import SecretBox
from atende.tenancy.models import Tenant
from atende.tenancy.scope import bind_tenant

DEMO_TENANT = "demo"
DEMO_SANDBOX = "demo-sandbox"
DEMO_WHATSAPP = "demo-whatsapp"
#: Development default; set ATENDE_DEMO_SANDBOX_TOKEN to change it.
DEFAULT_SANDBOX_TOKEN = "demo-sandbox-token"  # noqa: S105 - documented development default


DEMO_FAQ = """# Loja Demo: perguntas frequentes

## Horário de funcionamento
Atendemos de segunda a sexta, das 8h às 18h, e aos sábados das 9h às 13h (horário de Brasília).
Domingos e feriados nacionais a loja fica fechada.

## Endereço da loja
Rua Augusta, 1500, Consolação, São Paulo (SP), CEP 01304-001, perto da estação Consolação do
metrô.

## Retirada na loja
Compras feitas pelo WhatsApp ou pelo site podem ser retiradas na loja sem custo de frete, a
partir de 2 horas depois da confirmação do pagamento. Traga um documento com foto.

## Entregas e frete
Entregamos em todo o Brasil pelos Correios e pela Jadlog. O frete é calculado pelo CEP na hora da
compra e é grátis em compras acima de R$ 299,00.

## Prazo de entrega por região
Sudeste e Sul: de 3 a 5 dias úteis. Centro-Oeste: de 5 a 8 dias úteis. Norte e Nordeste: de 7 a
12 dias úteis. O prazo começa a contar depois da confirmação do pagamento.

## Trocas e devoluções
Você pode trocar ou devolver um produto em até 7 dias após o recebimento, na embalagem original.

## Garantia
Todos os produtos têm garantia de 90 dias contra defeito de fabricação. Se algo chegar quebrado
ou parar de funcionar, mande uma foto aqui que resolvemos.

## Formas de pagamento
Aceitamos PIX, boleto bancário e cartão de crédito em até 6 vezes sem juros.

## Nota fiscal
A nota fiscal eletrônica (NF-e) é enviada para o seu e-mail assim que o pedido é faturado. Para
nota em nome de empresa, informe o CNPJ antes de concluir a compra.

## Cancelamento de compra
Pedidos podem ser cancelados sem custo até o envio. O estorno no cartão aparece em até duas
faturas; no PIX e no boleto, devolvemos o valor em até 5 dias úteis.
"""


#: The demo's WhatsApp secrets: public development defaults, so never used in production.
DEMO_SECRETS = {
    "demo_whatsapp_app_secret": "ATENDE_DEMO_WHATSAPP_APP_SECRET",
    "demo_whatsapp_verify_token": "ATENDE_DEMO_WHATSAPP_VERIFY_TOKEN",
    "demo_whatsapp_access_token": "ATENDE_DEMO_WHATSAPP_ACCESS_TOKEN",
}


class DemoRefused(ValueError):
    """`atende demo` in production without secrets of its own."""


def public_secrets(settings: Settings) -> list[str]:
    """The variables of demo secrets left at (or set to) their public development values."""
    return [
        variable
        for field, variable in DEMO_SECRETS.items()
        if field not in settings.model_fields_set
        or getattr(settings, field).get_secret_value()
        == Settings.model_fields[field].get_default().get_secret_value()
    ]


def sandbox_token() -> str:
    return os.environ.get("ATENDE_DEMO_SANDBOX_TOKEN", DEFAULT_SANDBOX_TOKEN)


async def ensure_tenant(
    sessions: async_sessionmaker[AsyncSession],
    slug: str,
    name: str,
    settings: dict[str, Any] | None = None,
) -> str:
    """Create the tenant, or merge ``settings`` into an existing one's."""
    async with sessions() as session:
        tenant = await session.scalar(select(Tenant).where(Tenant.slug == slug))
        if tenant is None:
            tenant = Tenant(slug=slug, name=name, settings={})
            session.add(tenant)
        tenant.settings = {**(tenant.settings or {}), **(settings or {})}
        await session.commit()
        return tenant.id


async def ensure_channel(
    sessions: async_sessionmaker[AsyncSession],
    box: SecretBox,
    *,
    tenant_id: str,
    slug: str,
    kind: ChannelKind,
    name: str,
    config: dict[str, Any],
    secrets: dict[str, str],
) -> str:
    """Create or update a channel; secrets are stored encrypted."""
    encrypted = {key: box.encrypt(value) for key, value in secrets.items()}
    async with sessions() as session:
        bind_tenant(session, tenant_id)
        channel = await session.scalar(select(Channel).where(Channel.slug == slug))
        if channel is None:
            channel = Channel(tenant_id=tenant_id, slug=slug, kind=kind.value, name=name)
            session.add(channel)
        channel.config = config
        channel.secrets = encrypted
        channel.active = True
        await session.commit()
        return channel.id


async def deactivate_channel(
    sessions: async_sessionmaker[AsyncSession], tenant_id: str, slug: str
) -> None:
    async with sessions() as session:
        bind_tenant(session, tenant_id)
        channel = await session.scalar(select(Channel).where(Channel.slug == slug))
        if channel is not None:
            channel.active = False
            await session.commit()


async def seed_demo(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox, settings: Settings
) -> str:
    """The demo tenant. In production its secrets must be the operator's own (the defaults are
    in the README for anyone to read), and it has no sandbox channel: a sandbox token lets its
    holder speak as any phone and read the replies."""
    production = settings.env is Environment.production
    if production and (missing := public_secrets(settings)):
        raise DemoRefused(
            "in production the demo needs secrets of its own; set "
            + ", ".join(missing)
            + " (the defaults are public)"
        )
    tenant_id = await ensure_tenant(
        sessions,
        DEMO_TENANT,
        "Loja Demo",
        {"assistant_name": "Ana", "erp": {"kind": "demo"}},
    )
    await seed_demo_erp(
        settings.demo_erp_url or demo_database_url(settings.var_dir), today=business_today()
    )
    await FaqIndex(sessions).replace_document(tenant_id, "faq-demo.md", DEMO_FAQ)
    if production:
        await deactivate_channel(sessions, tenant_id, DEMO_SANDBOX)
    else:
        await ensure_channel(
            sessions,
            box,
            tenant_id=tenant_id,
            slug=DEMO_SANDBOX,
            kind=ChannelKind.sandbox,
            name="Sandbox (terminal)",
            config={},
            secrets={"token": sandbox_token()},
        )
    await ensure_channel(
        sessions,
        box,
        tenant_id=tenant_id,
        slug=DEMO_WHATSAPP,
        kind=ChannelKind.whatsapp,
        name="WhatsApp demo",
        config={
            "phone_number_id": settings.demo_whatsapp_phone_number_id,
            "graph_url": settings.demo_whatsapp_graph_url,
            "api_version": "v23.0",
        },
        secrets={
            "app_secret": settings.demo_whatsapp_app_secret.get_secret_value(),
            "verify_token": settings.demo_whatsapp_verify_token.get_secret_value(),
            "access_token": settings.demo_whatsapp_access_token.get_secret_value(),
        },
    )
    return tenant_id
