"""A tenant's FAQ: Markdown or text documents split into passages and searched with the
database's own full-text engine (SQLite FTS5; PostgreSQL ``portuguese`` text search).

The engine finds candidates; the answer is accepted only if the passage covers enough of the
question's keywords, otherwise the assistant hands off instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from unidecode import unidecode

from atende.assistant.faq_models import FaqPassage
from atende.tenancy.scope import bind_tenant

#: Share of the question's keywords a passage must contain to count as an answer.
MIN_COVERAGE = 0.5
_WORD = re.compile(r"[a-z0-9]+")
# Words that carry no meaning for matching a question to a passage.
_STOPWORDS = frozenset(
    """a o as os um uma uns umas de do da dos das no na nos nas em por para pra pro com sem que
    qual quais quando onde como e ou se ja nao sim voces voce vc vcs eu meu minha me mim te tem
    ter tenho ha sao ser esta estao esse essa isso este isto aqui ai la ao aos the pelo pela
    gostaria queria quero saber sobre favor pf pfv oi ola bom dia boa tarde noite
    obrigado""".split()
)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")


def search_form(value: str) -> str:
    return unidecode(value).lower()


def keywords(question: str) -> list[str]:
    words = _WORD.findall(search_form(question))
    return list(dict.fromkeys(w for w in words if len(w) > 2 and w not in _STOPWORDS))


def split_passages(document: str) -> list[tuple[str | None, str]]:
    """(heading, body) per paragraph; Markdown headings label the paragraphs under them."""
    passages: list[tuple[str | None, str]] = []
    heading: str | None = None
    for block in re.split(r"\n\s*\n", document.strip()):
        lines = [line for line in block.strip().splitlines() if line.strip()]
        if not lines:
            continue
        match = _HEADING.match(lines[0])
        if match:
            heading = match.group(1)
            lines = lines[1:]
        if lines:
            passages.append((heading, "\n".join(lines).strip()))
    return passages


@dataclass(frozen=True, slots=True)
class FaqHit:
    heading: str | None
    body: str
    coverage: float


class FaqIndex:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def replace_document(self, tenant_id: str, name: str, content: str) -> int:
        """Index ``content`` as document ``name`` (replacing an earlier version)."""
        async with self._sessions() as session:
            bind_tenant(session, tenant_id)
            await session.execute(delete(FaqPassage).where(FaqPassage.document == name))
            passages = split_passages(content)
            session.add_all(
                FaqPassage(
                    tenant_id=tenant_id,
                    document=name,
                    heading=heading,
                    body=body,
                    search_text=search_form(f"{heading or ''}\n{body}"),
                )
                for heading, body in passages
            )
            await session.commit()
        return len(passages)

    async def search(self, tenant_id: str, question: str, *, limit: int = 3) -> list[FaqHit]:
        words = keywords(question)
        if not words:
            return []
        async with self._sessions() as session:
            bind_tenant(session, tenant_id)
            ids = await self._candidates(session, tenant_id, words, limit * 3)
            if not ids:
                return []
            # Loaded through the ORM, so the tenant scope applies here too.
            rows = {
                row.id: row
                for row in await session.scalars(select(FaqPassage).where(FaqPassage.id.in_(ids)))
            }
        hits = []
        for passage_id in ids:
            row = rows.get(passage_id)
            if row is None:
                continue
            present = set(_WORD.findall(row.search_text))
            coverage = sum(1 for w in words if w in present or _stem_in(w, present)) / len(words)
            hits.append(FaqHit(row.heading, row.body, coverage))
        hits.sort(key=lambda hit: -hit.coverage)
        return hits[:limit]

    async def answer(self, tenant_id: str, question: str) -> FaqHit | None:
        """The best passage, or None when nothing covers the question well enough."""
        hits = await self.search(tenant_id, question, limit=1)
        return hits[0] if hits and hits[0].coverage >= MIN_COVERAGE else None

    @staticmethod
    async def _candidates(
        session: AsyncSession, tenant_id: str, words: list[str], limit: int
    ) -> list[int]:
        # Full-text engines need their own SQL; the tenant filter is explicit here and the
        # passages are then loaded through the scoped ORM.
        if session.get_bind().dialect.name == "postgresql":
            query = " | ".join(f"{w}:*" for w in words)
            result = await session.execute(
                text(
                    "SELECT id FROM faq_passages "
                    "WHERE tenant_id = :tenant "
                    "AND to_tsvector('portuguese', search_text) @@ to_tsquery('portuguese', :q) "
                    "ORDER BY ts_rank(to_tsvector('portuguese', search_text), "
                    "to_tsquery('portuguese', :q)) DESC LIMIT :limit"
                ),
                {"tenant": tenant_id, "q": query, "limit": limit},
            )
        else:
            query = " OR ".join(f'"{w}"*' for w in words)
            result = await session.execute(
                text(
                    "SELECT p.id FROM faq_fts JOIN faq_passages p ON p.id = faq_fts.rowid "
                    "WHERE faq_fts MATCH :q AND p.tenant_id = :tenant "
                    "ORDER BY bm25(faq_fts) LIMIT :limit"
                ),
                {"tenant": tenant_id, "q": query, "limit": limit},
            )
        return [int(row[0]) for row in result]


def _stem_in(word: str, present: set[str]) -> bool:
    """A cheap plural/gender match ("entregas" ~ "entrega", "trocas" ~ "troca")."""
    stem = word[:-1] if len(word) > 4 and word[-1] in "sa" else word
    return any(candidate.startswith(stem) for candidate in present)
