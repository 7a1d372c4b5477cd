"""A tenant's FAQ: Markdown or text documents split into passages, and questions answered with
the passage that covers them.

Customers ask in their own words ("posso trocar se nao servir?", "vcs entregam em manaus?"), so
retrieval compares *terms* (:mod:`atende.assistant.faq_terms`: stems, shop concepts, places read
as regions), not the words a full-text engine sees. Each question term is weighted by how rare it
is among the tenant's passages (a word in no passage weighs most: it is what the FAQ does not
talk about), and a passage answers only if it covers more than half of the question's weight;
otherwise the assistant offers a human instead of guessing ("vcs vendem carro?" covers nothing,
"vcs fazem entrega de pizza?" only its least telling half), and a passage that shares only the
words every shop passage has ("pedido", "produto") answers nothing.

A tenant's passages are read once and kept in memory until its documents change, so both
database engines give the same answers: a FAQ has tens of passages, and scoring them in Python
costs less than a full-text query would. A change made through this index is seen by the next
question; one made by another process (`atende faq add`) within :data:`RECHECK_SECONDS` (the
check is one aggregate query, and a query per question was a tenth of an answer's cost).
Measured in docs/benchmarks.md (faq).
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from unidecode import unidecode

from atende.assistant.faq_models import FaqPassage
from atende.assistant.faq_terms import GENERIC, terms
from atende.tenancy.scope import bind_tenant

#: Share of the question's weight a passage must cover to count as an answer (more than half:
#: chosen on the dev half of benchmarks/faq_questions.yaml).
MIN_COVERAGE = 0.5
#: How long a tenant's passages are used before their version is checked again.
RECHECK_SECONDS = 5.0
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"\s*(?:[-*+•]|\d+[.)])\s")


def search_form(value: str) -> str:
    return unidecode(value).lower()


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
            passages.append((heading, _unwrap(lines)))
    return passages


def _unwrap(lines: list[str]) -> str:
    """A paragraph's lines as the customer should read them: a line break inside a sentence is
    only how the file was wrapped (Markdown's soft break), so it becomes a space; list items and
    lines ending in a hard break (two spaces or a backslash) keep their own line."""
    text = lines[0].strip()
    for previous, line in pairwise(lines):
        hard = previous.endswith(("  ", "\\")) or _LIST_ITEM.match(line)
        text = text.rstrip("\\").rstrip() + ("\n" if hard else " ") + line.strip()
    return text


@dataclass(frozen=True, slots=True)
class FaqHit:
    heading: str | None
    body: str
    coverage: float


@dataclass(frozen=True, slots=True)
class FaqDocument:
    name: str
    passages: int
    added_at: datetime


@dataclass(frozen=True, slots=True)
class _Passage:
    heading: str | None
    body: str
    terms: frozenset[str]
    heading_terms: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Corpus:
    """A tenant's passages as terms, with each term's weight (inverse document frequency)."""

    version: tuple[int, int | None, datetime | None]
    passages: tuple[_Passage, ...]
    document_frequency: dict[str, int]

    def weight(self, term: str) -> float:
        # Smoothed IDF (as scikit-learn's): a term in no passage weighs the most.
        count = len(self.passages)
        return math.log((count + 1) / (self.document_frequency.get(term, 0) + 1)) + 1.0


class FaqIndex:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._corpora: dict[str, _Corpus] = {}
        #: When each tenant's cached corpus was last known current (``time.monotonic()``).
        self._checked: dict[str, float] = {}

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
        self._checked.pop(tenant_id, None)
        return len(passages)

    async def documents(self, tenant_id: str) -> list[FaqDocument]:
        """The tenant's documents, by name."""
        async with self._sessions() as session:
            bind_tenant(session, tenant_id)
            rows = await session.execute(
                select(
                    FaqPassage.document, func.count(FaqPassage.id), func.max(FaqPassage.created_at)
                )
                .group_by(FaqPassage.document)
                .order_by(FaqPassage.document)
            )
            return [FaqDocument(name, int(count), added) for name, count, added in rows]

    async def remove_document(self, tenant_id: str, name: str) -> int:
        """Remove document ``name``; the number of passages removed (0: no such document)."""
        async with self._sessions() as session:
            bind_tenant(session, tenant_id)
            result = await session.execute(delete(FaqPassage).where(FaqPassage.document == name))
            await session.commit()
        self._checked.pop(tenant_id, None)
        return int(getattr(result, "rowcount", 0) or 0)

    async def search(self, tenant_id: str, question: str, *, limit: int = 3) -> list[FaqHit]:
        """The passages that share terms with ``question``, best first."""
        asked = terms(question)
        if not asked:
            return []
        corpus = await self._corpus(tenant_id)
        weights = {term: corpus.weight(term) for term in asked}
        total = sum(weights.values())
        ranked: list[tuple[tuple[float, int, int], FaqHit]] = []
        for passage in corpus.passages:
            shared = [term for term in asked if term in passage.terms]
            if not shared or all(term in GENERIC for term in shared):
                continue
            covered = sum(weights[term] for term in shared)
            in_heading = sum(1 for term in asked if term in passage.heading_terms)
            # Ties go to the passage whose heading names the topic, then to the shorter one.
            key = (covered / total, in_heading, -len(passage.terms))
            ranked.append((key, FaqHit(passage.heading, passage.body, covered / total)))
        ranked.sort(key=lambda item: item[0], reverse=True)
        return [hit for _, hit in ranked[:limit]]

    async def answer(self, tenant_id: str, question: str) -> FaqHit | None:
        """The best passage, or None when nothing covers the question well enough."""
        hits = await self.search(tenant_id, question, limit=1)
        return hits[0] if hits and hits[0].coverage > MIN_COVERAGE else None

    async def _corpus(self, tenant_id: str) -> _Corpus:
        now = time.monotonic()
        cached = self._corpora.get(tenant_id)
        if cached is not None and now - self._checked.get(tenant_id, -RECHECK_SECONDS) < (
            RECHECK_SECONDS
        ):
            return cached
        async with self._sessions() as session:
            bind_tenant(session, tenant_id)
            # Any change to the tenant's documents changes one of these (a replaced document's
            # rows are newer, a removed one lowers the count).
            count, last_id, last_at = (
                await session.execute(
                    select(
                        func.count(FaqPassage.id),
                        func.max(FaqPassage.id),
                        func.max(FaqPassage.created_at),
                    )
                )
            ).one()
            version = (int(count), last_id, last_at)
            if cached is not None and cached.version == version:
                self._checked[tenant_id] = now
                return cached
            rows = (await session.execute(select(FaqPassage.heading, FaqPassage.body))).all()
        passages = tuple(
            _Passage(
                heading,
                body,
                frozenset(terms(f"{heading or ''}\n{body}")),
                frozenset(terms(heading or "")),
            )
            for heading, body in rows
        )
        frequency = Counter(term for passage in passages for term in passage.terms)
        corpus = _Corpus(version, passages, dict(frequency))
        self._corpora[tenant_id] = corpus
        self._checked[tenant_id] = now
        return corpus
