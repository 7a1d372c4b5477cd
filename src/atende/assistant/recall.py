"""Long-term semantic recall: what a contact talked about in earlier sessions, found by meaning.

Off by default (``ATENDE_LLM_RECALL`` or a tenant's ``llm.recall``). When on, each turn the agent
answers embeds the customer's message (personal data already replaced by placeholders, so the
embeddings provider sees no more than the chat provider) through the same OpenAI-compatible API,
finds the closest turns of the contact's *earlier* sessions (the current one is already in the
prompt as recent turns), and after answering keeps this turn as a :class:`Memorize` action that
the conversation service writes in the turn's own transaction.

Search is exact, within one contact's memories. That is the whole design: the candidates are a
contact's few hundred turns, narrowed by an ordinary index, and an approximate index (pgvector's
HNSW, sqlite-vec's vec0 partitions) would add nothing but post-filtering surprises at that size.
Where the ranking runs:

- PostgreSQL with the ``vector`` extension (pgvector) when the migration ran: in SQL, with
  ``<=>`` on ``embedding_v``, a ``vector`` column generated from the ``real[]`` one;
- otherwise (SQLite; PostgreSQL without pgvector, as Debian 12's PostgreSQL 15): the candidates'
  vectors ranked with numpy in this process (vectors are stored at unit length, so a dot product
  is the cosine). Measured, a dot product in plain SQL over ``unnest`` was 30 times slower than
  fetching the vectors (docs/benchmarks.md, recall). sqlite-vec's distance functions would do
  numpy's brute-force scan inside SQLite, but loading it needs
  ``sqlite3.enable_load_extension``, which many CPython builds (this project's CI Python among
  them) are compiled without.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import REAL, bindparam, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from atende.assistant.recall_models import Memory
from atende.tenancy.scope import bind_tenant

__all__ = ["RecallStore", "Recalled", "memory_text", "neutral", "unit"]

#: Memories longer than this are cut: recall reminds the model, it does not replay transcripts.
MAX_MEMORY_CHARS = 600
#: Without pgvector, the newest memories of a contact that are ranked: a bound on what each turn
#: reads (measured: 500 vectors of 1,536 dimensions cost about 5 ms on SQLite and 70 ms on
#: PostgreSQL, where asyncpg decodes each ``real[]`` into Python floats). Older turns are not
#: recalled there; with pgvector every memory is.
MAX_CANDIDATES = 500

# ``[CPF_1]`` means one value in one session only; a memory read in another session must not
# point at whatever ``[CPF_1]`` means there, so placeholders are kept without their number.
_NUMBERED = re.compile(r"\[(CPF|CNPJ|TELEFONE|EMAIL)_[0-9]+\]")


def neutral(value: str) -> str:
    return _NUMBERED.sub(r"[\1]", value)


def memory_text(user: str, answer: str) -> str:
    text = f"Cliente: {neutral(user).strip()}\nAssistente: {neutral(answer).strip()}"
    return text if len(text) <= MAX_MEMORY_CHARS else text[: MAX_MEMORY_CHARS - 1] + "…"


def unit(vector: Any) -> np.ndarray:
    array = np.asarray(vector, dtype="<f4")
    norm = float(np.linalg.norm(array))
    return array / norm if norm > 0 else array


@dataclass(frozen=True, slots=True)
class Recalled:
    text: str
    created_at: datetime
    score: float


class RecallStore:
    """Reads a contact's memories (writing them is the conversation service's job)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        #: "pgvector" or "numpy", found on first use.
        self.ranker: str | None = None

    async def search(
        self,
        tenant_id: str,
        contact_id: str,
        *,
        model: str,
        vector: np.ndarray,
        exclude_session: str,
        before: datetime,
        limit: int,
        min_score: float,
    ) -> list[Recalled]:
        """Memories written before ``before`` (the turn's time: a replayed turn does not see what
        was said after it) outside ``exclude_session``, best first."""
        query = unit(vector)
        async with self._sessions() as session:
            bind_tenant(session, tenant_id)
            ranker = self.ranker or await self._ranker(session)
            self.ranker = ranker
            params = {
                "tenant": tenant_id,
                "contact": contact_id,
                "model": model,
                "dims": int(query.shape[0]),
                "session": exclude_session,
                "before": before,
                "min": min_score,
                "limit": limit,
            }
            if ranker == "numpy":
                return await self._numpy(session, query, params)
            return await self._pgvector(session, query, params)

    @staticmethod
    async def _ranker(session: AsyncSession) -> str:
        if session.get_bind().dialect.name != "postgresql":
            return "numpy"
        found = await session.scalar(
            text(
                "SELECT 1 FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'memories' "
                "AND column_name = 'embedding_v'"
            )
        )
        return "pgvector" if found else "numpy"

    @staticmethod
    async def _pgvector(
        session: AsyncSession, query: np.ndarray, params: dict[str, Any]
    ) -> list[Recalled]:
        statement = text(
            "SELECT text, created_at, score FROM (SELECT m.text, m.created_at, "
            "1 - (m.embedding_v <=> CAST(:query AS real[])::vector) AS score FROM memories m "
            "WHERE m.tenant_id = :tenant AND m.contact_id = :contact "
            "AND m.model = :model AND m.dims = :dims AND m.session_id <> :session "
            "AND m.created_at < :before) ranked "
            "WHERE score >= :min ORDER BY score DESC LIMIT :limit"
        ).bindparams(bindparam("query", type_=postgresql.ARRAY(REAL())))
        rows = await session.execute(statement, {**params, "query": query.tolist()})
        return [Recalled(row.text, row.created_at, float(row.score)) for row in rows]

    @staticmethod
    async def _numpy(
        session: AsyncSession, query: np.ndarray, params: dict[str, Any]
    ) -> list[Recalled]:
        rows = (
            await session.execute(
                select(Memory.text, Memory.created_at, Memory.embedding)
                .where(
                    Memory.contact_id == params["contact"],
                    Memory.model == params["model"],
                    Memory.dims == params["dims"],
                    Memory.session_id != params["session"],
                    Memory.created_at < params["before"],
                )
                .order_by(Memory.id.desc())
                .limit(MAX_CANDIDATES)
            )
        ).all()
        if not rows:
            return []
        scores = np.stack([row.embedding for row in rows]) @ query
        best = [int(i) for i in np.argsort(-scores, kind="stable")[: params["limit"]]]
        return [
            Recalled(rows[i].text, rows[i].created_at, float(scores[i]))
            for i in best
            if scores[i] >= params["min"]
        ]
