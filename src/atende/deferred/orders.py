"""Orders through the Business API survive an ERP outage.

Every order posted to ``/api/v1/vendas/pedido`` is written to ``deferred_requests`` (kind
``order``) under its idempotency key: the ledger that answers "what happened to my order?"
(``GET /api/v1/vendas/pedido/{key}``). An order the ERP could not take is kept as ``pending``; the
worker's ``order`` job places it again with the same idempotency key (so the ERP never books it
twice) until it goes through, is refused by the business's rules, or grows older than the policy.

A key names one request, not one slot: posting it again with another body is the client's bug
(a key reused for a new order), answered with :class:`IdempotencyKeyReused` (422) rather than
with the earlier order, as Stripe and the IETF ``Idempotency-Key`` draft do. The ledger row keeps
the normalised request it was created for, which is what a repeat is compared with.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.connectors.port import (
    ConnectorResolver,
    ConnectorUnavailable,
    InvalidRequest,
    OrderReceipt,
    OrderRequest,
    Refused,
)
from atende.deferred.metrics import count
from atende.deferred.models import DeferredKind, DeferredRequest, DeferredStatus
from atende.deferred.policy import RetryPolicy
from atende.kit.clock import utcnow
from atende.kit.errors import AtendeError
from atende.kit.logging import get_logger
from atende.kit.notify import Notifier
from atende.queue.port import Job, JobQueue
from atende.tenancy.scope import bind_tenant

log = get_logger(__name__)

#: The job that places a kept order again (key: the row's id).
ORDER = "order"

#: The request's fields as the Business API names them, in the order a reason lists them.
_WIRE_NAMES = {"document": "doc", "items": "items", "notes": "notes"}


class IdempotencyKeyReused(AtendeError):
    """The key was first used with another request. ``fields`` names what differs, as the API
    spells it (never the values: they may be a CPF)."""

    status_code = 422
    title = "idempotency key reused"

    def __init__(self, fields: list[str]) -> None:
        listed = ", ".join(fields)
        plural = "s" if len(fields) > 1 else ""
        super().__init__(
            "esta Idempotency-Key já foi usada em outro pedido, com outro conteúdo "
            f"(campo{plural} diferente{plural}: {listed}); use uma chave nova para um pedido "
            "novo, ou reenvie exatamente o mesmo pedido para saber o que aconteceu com ele"
        )
        self.fields = fields

    def extensions(self) -> dict[str, object]:
        return {"reason": "idempotency_key_reused", "fields": self.fields}


def _same_request(row: DeferredRequest, request: OrderRequest) -> DeferredRequest:
    """``row`` when it was created for ``request``; IdempotencyKeyReused otherwise."""
    stored = dict(row.payload or {})
    posted = request.model_dump(mode="json")
    differ = [wire for name, wire in _WIRE_NAMES.items() if stored.get(name) != posted.get(name)]
    if differ:
        log.warning("idempotency key reused with another order", fields=differ)
        raise IdempotencyKeyReused(differ)
    return row


class OrderLedger:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: ConnectorResolver,
        queue: JobQueue,
        policy: RetryPolicy,
        notifier: Notifier | None = None,
    ) -> None:
        self._notifier = notifier
        self._sessions = sessions
        self._registry = registry
        self._queue = queue
        self._policy = policy

    async def find(self, tenant_id: str, idempotency_key: str) -> DeferredRequest | None:
        async with self._sessions() as session:
            bind_tenant(session, tenant_id)
            return await _by_key(session, idempotency_key)

    async def place(
        self, tenant_id: str, request: OrderRequest, idempotency_key: str
    ) -> DeferredRequest:
        """Place the order now, or keep it if the ERP is down. Business refusals propagate (the
        caller gets them at once); a key seen before returns what became of it, untouched, if it
        comes with the same request (IdempotencyKeyReused if not)."""
        known = await self.find(tenant_id, idempotency_key)
        if known is not None:
            return _same_request(known, request)
        erp = await self._registry.erp(tenant_id)
        now = utcnow()
        row = DeferredRequest(
            tenant_id=tenant_id,
            kind=DeferredKind.order.value,
            idempotency_key=idempotency_key,
            payload=request.model_dump(mode="json"),
            created_at=now,
            next_attempt_at=now,
        )
        try:
            receipt = await erp.place_order(request, idempotency_key)
        except ConnectorUnavailable as error:
            delay = self._policy.delay(0)
            row.status = DeferredStatus.pending.value
            row.attempts = 1
            row.next_attempt_at = now + timedelta(seconds=delay)
            row.last_error = _reason(error)
        else:
            row.status = DeferredStatus.done.value
            row.attempts = 1
            row.result = receipt.model_dump(mode="json")
        stored = await self._insert(row)
        if stored is not row:
            return _same_request(stored, request)
        if row.status == DeferredStatus.pending.value:
            count(ORDER, "kept")
            log.warning("ERP unavailable; order kept", retry_in=round(delay, 1))
            await self._queue.enqueue(Job(ORDER, row.id, tenant_id), delay=delay)
        return stored

    async def _insert(self, row: DeferredRequest) -> DeferredRequest:
        async with self._sessions() as session:
            bind_tenant(session, row.tenant_id)
            session.add(row)
            try:
                await session.commit()
            except IntegrityError:
                # The same key posted twice at once: the ERP deduplicated the order by its key;
                # the first row written is the ledger's answer.
                await session.rollback()
                existing = await _by_key(session, str(row.idempotency_key))
                assert existing is not None
                return existing
        return row

    async def give_up(self, job: Job, since: datetime) -> int:
        """The worker gave up on this order's job (its handler kept raising): the order is
        closed as failed, and the caller polling its idempotency key sees so."""
        del since  # one order per job: nothing can have arrived behind it
        async with self._sessions() as session:
            bind_tenant(session, job.tenant_id)
            result = await session.execute(
                update(DeferredRequest)
                .where(
                    DeferredRequest.id == job.key,
                    DeferredRequest.status == DeferredStatus.pending.value,
                )
                .values(
                    status=DeferredStatus.failed.value,
                    result={"reason": "internal_error"},
                    last_error="gave up: placing it kept failing (see the server's logs)",
                    updated_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        closed = int(result.rowcount)  # type: ignore[attr-defined]
        if closed:
            count(ORDER, DeferredStatus.failed.value)
        return closed

    async def handle(self, job: Job) -> None:
        """Try a kept order again (the worker holds the row's lock)."""
        now = utcnow()
        async with self._sessions() as session:
            bind_tenant(session, job.tenant_id)
            row = await session.get(DeferredRequest, job.key)
            if row is None or row.status != DeferredStatus.pending.value:
                return
            if row.next_attempt_at > now:
                await self._queue.enqueue(job, delay=(row.next_attempt_at - now).total_seconds())
                return
            if self._policy.expired(row.created_at, now):
                count(ORDER, DeferredStatus.expired.value)
                row.status = DeferredStatus.expired.value
                await session.commit()
                log.warning("kept order expired without the ERP coming back", order_row=row.id)
                return
            request = OrderRequest.model_validate(row.payload)
            key = str(row.idempotency_key)
        erp = await self._registry.erp(job.tenant_id)
        values: dict[str, Any]
        try:
            receipt: OrderReceipt = await erp.place_order(request, key)
        except ConnectorUnavailable as error:
            delay = self._policy.delay(row.attempts)
            values = {
                "attempts": row.attempts + 1,
                "next_attempt_at": utcnow() + timedelta(seconds=delay),
                "last_error": _reason(error),
            }
            await self._update(job.tenant_id, row.id, values)
            await self._queue.enqueue(job, delay=delay)
            log.info("ERP still unavailable; order kept", retry_in=round(delay, 1))
            return
        except (Refused, InvalidRequest) as error:
            reason = error.reason if isinstance(error, Refused) else str(error)
            values = {
                "status": DeferredStatus.failed.value,
                "attempts": row.attempts + 1,
                "result": {"reason": reason},
            }
            await self._update(job.tenant_id, row.id, values)
            log.warning("kept order refused by the ERP", order_row=row.id)
            return
        values = {
            "status": DeferredStatus.done.value,
            "attempts": row.attempts + 1,
            "result": receipt.model_dump(mode="json"),
        }
        await self._update(job.tenant_id, row.id, values)
        log.info(
            "kept order placed",
            order_row=row.id,
            waited_s=round((utcnow() - row.created_at).total_seconds()),
        )

    async def _update(self, tenant_id: str, row_id: str, values: dict[str, Any]) -> None:
        count(ORDER, str(values.get("status", "retried")))
        async with self._sessions() as session:
            bind_tenant(session, tenant_id)
            row = await session.get(DeferredRequest, row_id)
            assert row is not None
            for name, value in values.items():
                setattr(row, name, value)
            await session.commit()
        if self._notifier is not None:
            await self._notifier.publish(f"order:{row_id}")


async def _by_key(session: AsyncSession, key: str) -> DeferredRequest | None:
    found: DeferredRequest | None = await session.scalar(
        select(DeferredRequest).where(
            DeferredRequest.kind == DeferredKind.order.value,
            DeferredRequest.idempotency_key == key,
        )
    )
    return found


def _reason(error: Exception) -> str:
    # The connector's own words about the outage (a timeout, "circuit open", a 503): no PII.
    return (str(error) or type(error).__name__)[:200]
