"""Which connector serves which tenant: built from the tenant's settings, wrapped once in the
resilience layer (timeout, retries, breaker, metrics), and reused."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.audit.notices import add_notice
from atende.business.errors import ErpSecretUnreadable
from atende.connectors.demo import DemoErp
from atende.connectors.nuvemshop import NuvemshopConnector
from atende.connectors.port import ErpConnector
from atende.connectors.resilience import ConnectorPolicy, ResilientConnector
from atende.connectors.rest import AdapterMisconfigured, RestErpConnector
from atende.kit.clock import utcnow
from atende.kit.errors import NotFound
from atende.kit.secrets import SecretBox, SecretUnreadable
from atende.tenancy.models import Tenant
from atende.tenancy.scope import bind_tenant


class ConnectorRegistry:
    """The :class:`~atende.connectors.port.ConnectorResolver` of the process, wired in
    ``main.py``. ``tenants.settings["erp"]`` picks the adapter:

    - ``{"kind": "demo"}``: the embedded demo ERP;
    - ``{"kind": "rest", "base_url": …, "token": <encrypted>}``: a company's ERP adapter service
      speaking the Business API's own contract;
    - ``{"kind": "nuvemshop", "store_id": …, "access_token": <encrypted>, "user_agent": …}``.

    Secrets in these settings are Fernet-encrypted with the same key as channel secrets.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        demo_erp_url: str,
        box: SecretBox,
        policy: ConnectorPolicy | None = None,
    ) -> None:
        self._policy = policy or ConnectorPolicy()
        self._box = box
        self._sessions = sessions
        self._demo_erp_url = demo_erp_url
        self._connectors: dict[str, ResilientConnector] = {}
        self._demo: DemoErp | None = None
        #: Notices already written by this process (one a tenant, problem and day is enough).
        self._told: set[str] = set()

    async def aclose(self) -> None:
        for connector in self._connectors.values():
            inner = connector.inner
            if inner is not self._demo and isinstance(inner, RestErpConnector | NuvemshopConnector):
                await inner.aclose()
        if self._demo is not None:
            await self._demo.aclose()

    async def erp(self, tenant_id: str) -> ResilientConnector:
        found = self._connectors.get(tenant_id)
        if found is None:
            async with self._sessions() as session:
                tenant = await session.get(Tenant, tenant_id)
            if tenant is None:
                raise NotFound("empresa desconhecida")
            policy = self._policy
            try:
                inner = self._build(dict(tenant.settings or {}).get("erp") or {}, tenant_id)
            except SecretUnreadable:
                # Not cached: once the key is configured, the next call reads the token.
                await self._tell(tenant_id, "erp_secret_unreadable", _CANNOT_DECRYPT_NOTICE)
                raise ErpSecretUnreadable() from None
            found = ResilientConnector(
                inner,
                tenant_id=tenant_id,
                timeout=policy.timeout,
                attempts=policy.attempts,
                backoff_max=policy.backoff_max,
                breaker_failures=policy.breaker_failures,
                breaker_reset=policy.breaker_reset,
            )
            self._connectors[tenant_id] = found
        return found

    def _build(self, config: dict[str, Any], tenant_id: str) -> ErpConnector:
        kind = config.get("kind")
        if kind == "demo":
            # Every demo tenant shares the one embedded demo ERP (and its connection).
            if self._demo is None:
                self._demo = DemoErp(self._demo_erp_url)
            return self._demo
        if kind == "rest":
            return RestErpConnector(
                str(config["base_url"]),
                self._box.decrypt(str(config["token"])),
                on_misconfigured=lambda error: self._tell_admins(tenant_id, error),
            )
        if kind == "nuvemshop":
            return NuvemshopConnector(
                str(config["store_id"]),
                self._box.decrypt(str(config["access_token"])),
                user_agent=str(config["user_agent"]),
                base_url=str(config.get("base_url") or "https://api.tiendanube.com/v1"),
            )
        raise NotFound("esta empresa não tem um sistema (ERP) configurado no Atende")

    async def _tell_admins(self, tenant_id: str, error: AdapterMisconfigured) -> None:
        """Leave the tenant's admins a notice (`atende notices`): only they can fix it."""
        message = _MISCONFIGURED[error.reason].format(
            method=error.method, path=error.path, status=error.http_status
        )
        await self._tell(tenant_id, f"erp_misconfigured:{error.reason}", message)

    async def _tell(self, tenant_id: str, problem: str, message: str) -> None:
        key = f"{problem}:{tenant_id}:{utcnow():%Y-%m-%d}"
        if key in self._told:
            return
        self._told.add(key)
        # Its own short transaction: the connector is called outside any (by the Business API,
        # or by an engine, which holds none while it thinks). Once a day and tenant at most,
        # whatever the number of processes (the key is unique).
        async with self._sessions() as session:
            bind_tenant(session, tenant_id)
            await add_notice(
                session,
                tenant_id,
                key=key,
                kind=problem.split(":", 1)[0],
                message=f"{message} Enquanto isso, o assistente oferece um atendente aos "
                "clientes que pedem dados do ERP.",
            )
            await session.commit()


_CANNOT_DECRYPT_NOTICE = (
    "O token de acesso ao ERP guardado no Atende não pode ser lido com a chave de criptografia "
    "atual (ATENDE_SECRET_KEY): a chave foi trocada sem manter a anterior em "
    "ATENDE_PREVIOUS_SECRET_KEYS. Configure a chave anterior ou salve o token do ERP de novo."
)

_MISCONFIGURED = {
    "wrong_route": (
        "O ERP (conector REST) respondeu {status} à rota {method} /api/v1{path}, que deveria "
        "existir: a URL configurada (base_url) não aponta para a raiz do adaptador."
    ),
    "unauthorized": (
        "O ERP (conector REST) recusou o token configurado ({status} em {method} /api/v1{path}): "
        "confira o token do adaptador."
    ),
}
