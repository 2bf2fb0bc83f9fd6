"""`POST /v1/ask`: a question answered from the org's knowledge bases, with citations.

The question searches the named vector stores (or the org's most recently used ones);
the sentences of the best chunks are ranked as evidence (the question's words they
contain, their embedding's closeness to the question's, their chunk's rank), and the
answer quotes the best of them, or says the documents do not answer. Citations come in
the order the answer relies on them: the chunks it quotes first. An org without vector
stores gets the chat model's own answer, without citations.

Billed per model call on the metered path: the search's and the ranking's embedded
tokens (ledger rows `req_…:search` and `req_…:rank`, endpoint `ask`), or the chat.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelmint.core.types import Usage
from modelmint.knowledge.evidence import Candidate, chosen, compose, rank_evidence, sentences
from modelmint.knowledge.index import Hit, SearchOptions
from modelmint.knowledge.terms import Terms
from modelmint.privacy.conversation_store import ConversationRecord
from modelmint.services.chat import open_chat
from modelmint.services.context import Estimate, RequestContext, Used
from modelmint.services.conversations import Conversations, item_text, message_item
from modelmint.services.ids import object_id
from modelmint.services.knowledge_schemas import MAX_ASK_STORES, AskRequest
from modelmint.services.knowledge_search import KnowledgeSearch, search_options
from modelmint.services.metering import Metering
from modelmint.services.models import Models
from modelmint.services.personalization import defaults_for, system_prompt
from modelmint.services.schemas import ChatCompletionRequest
from modelmint.store import vector_stores as store_rows
from modelmint.store.vector_stores import Page, VectorStoreRecord
from modelmint.tenancy.personalization import Personalization

MAX_CANDIDATES = 200  # sentences ranked per question
FOLLOW_UP_TERMS = 3  # a question with fewer words than this continues the one before
PLAIN_INSTRUCTIONS = "Answer the question briefly, in the language it is asked in."


@dataclass
class Answered:
    answer: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage = Usage()
    hits: list[Hit] = field(default_factory=list)  # what the search found, best first
    relied: int = 0  # how many of the citations the answer quotes (they come first)


@dataclass
class _Asked:
    """What a question is answered with."""

    stores: list[VectorStoreRecord]
    wanted: Personalization
    conversation: ConversationRecord | None
    history: list[dict[str, Any]]  # the conversation's earlier items
    query: str  # what is searched: the question, with the one before for a follow-up
    options: SearchOptions


def follow_up(terms: Terms, question: str, history: list[dict[str, Any]]) -> str:
    """The question as a search query: a short follow-up ("那运费呢？", "and in the EU?")
    is searched together with the question asked before it."""
    earlier = [item_text(i) for i in history if i.get("role") == "user"]
    if earlier and len(set(terms(question))) < FOLLOW_UP_TERMS:
        return f"{earlier[-1]} {question}"
    return question


class Ask:
    def __init__(
        self,
        search: KnowledgeSearch,
        models: Models,
        metering: Metering,
        terms: Terms,
        conversations: Conversations,
    ) -> None:
        self.conversations = conversations
        self.search = search
        self.models = models
        self.metering = metering
        self.terms = terms

    async def answer(self, context: RequestContext, body: AskRequest) -> dict[str, Any]:
        """The whole `ask` object."""
        asked = await self._prepare(context, body)
        if asked.stores:
            answered = await self.from_stores(
                context,
                asked.stores,
                body.question,
                asked.options,
                asked.wanted.language,
                asked.query,
            )
        else:
            answered = await self._from_model(context, body, asked)
        await self._remember(context, asked, body.question, answered.answer)
        return ask_object(context, answered)

    async def stream(
        self, context: RequestContext, body: AskRequest
    ) -> AsyncIterator[dict[str, Any]]:
        """`ask.chunk` objects: the citations first, then the answer's text, usage last
        (the chat model's answer streams as it is generated)."""
        base = {"id": object_id("ask", context.request_id), "object": "ask.chunk"}
        asked = await self._prepare(context, body)
        said: list[str] = []
        if not asked.stores:
            request = _plain(body, asked, stream=True)
            run = await open_chat(self.models, self.metering, context.step("answer"), request)
            yield {**base, "delta": "", "citations": []}
            async for chunk in run.stream():
                for choice in chunk["choices"]:
                    if choice["delta"].get("content"):
                        said.append(choice["delta"]["content"])
                        yield {**base, "delta": said[-1]}
            usage = run.usage.to_dict()
        else:
            answered = await self.from_stores(
                context,
                asked.stores,
                body.question,
                asked.options,
                asked.wanted.language,
                asked.query,
            )
            yield {**base, "delta": "", "citations": answered.citations}
            for piece in _pieces(answered.answer):
                said.append(piece)
                yield {**base, "delta": piece}
            usage = answered.usage.to_dict()
        await self._remember(context, asked, body.question, "".join(said))
        yield {**base, "delta": "", "finish_reason": "stop", "usage": usage}

    async def _prepare(self, context: RequestContext, body: AskRequest) -> _Asked:
        stores = await self._stores(context, body)
        wanted = await defaults_for(self.search.stores.db, context.account, body.user)
        conversation, history = None, []
        if body.conversation is not None:
            conversation = await self.conversations.get(context.account, body.conversation)
            history = await self.conversations.history(context.account, conversation)
        query = follow_up(self.terms, body.question, history)
        options = search_options(query, body.max_num_results, None, 0.0, None)
        return _Asked(stores, wanted, conversation, history, query, options)

    async def _remember(
        self, context: RequestContext, asked: _Asked, question: str, answer: str
    ) -> None:
        if asked.conversation is not None:
            turn = [message_item("user", question), message_item("assistant", answer)]
            await self.conversations.append(context.account, asked.conversation, turn)

    async def _stores(self, context: RequestContext, body: AskRequest) -> list[VectorStoreRecord]:
        if body.vector_store_ids is not None:
            return await self.search.usable_stores(
                context, body.vector_store_ids, "vector_store_ids"
            )
        recent = Page(None, None, MAX_ASK_STORES)
        found = await self.search.stores.db.read(
            store_rows.list_stores, context.account.org.id, recent
        )
        ids = [store.id for store in found]
        return await self.search.usable_stores(context, ids, "vector_store_ids") if ids else []

    async def from_stores(
        self,
        context: RequestContext,
        stores: list[VectorStoreRecord],
        question: str,
        options: SearchOptions,
        language: str | None = None,
        query: str | None = None,
    ) -> Answered:
        """The answer the stores' documents give, quoted, with what the search found;
        `query` (the question when not given) is what is searched."""
        searched = await self.search.search_stores(
            context.step("search"), stores, [query or question], options
        )
        hits = searched.hits
        # overlapping chunks share sentences: each is a candidate once, from its best chunk
        first_seen = {
            text: Candidate(text, i, hit.score)
            for i, hit in reversed(list(enumerate(hits)))
            for text in sentences(hit.chunk.text)
        }
        candidates = sorted(first_seen.values(), key=lambda c: c.source)[:MAX_CANDIDATES]
        if not candidates:
            return Answered(compose(question, [], language), [], Usage(searched.tokens, 0), hits)
        similarities, tokens = await self._similarities(
            context.step("rank"), stores[0].embedding_model, question, candidates
        )
        ranked = rank_evidence(self.terms, question, candidates, similarities)
        picked = chosen(question, ranked)
        usage = Usage(searched.tokens + tokens, 0)
        if not picked:
            return Answered(compose(question, picked, language), [], usage, hits)
        relied = {e.candidate.source for e in picked}
        citations = _citations(hits, ranked, relied)
        return Answered(compose(question, picked), citations, usage, hits, len(relied))

    async def _similarities(
        self, context: RequestContext, model: str, question: str, candidates: list[Candidate]
    ) -> tuple[np.ndarray, int]:
        """Each candidate's cosine similarity to the question, and the tokens embedded."""
        spec, engine = await self.models.get(context.account, model)
        texts = [question] + [c.text for c in candidates]
        lengths = await engine.count(texts)
        ticket = await self.metering.admit(context.using(spec.name), Estimate(sum(lengths)))
        used = Used()
        async with self.metering.metered(ticket, lambda: used):
            result = await engine.embed(texts, lengths)
            used = Used(Usage(result.prompt_tokens, 0))
        vectors = np.asarray(result.vectors, dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors[1:] @ vectors[0], result.prompt_tokens

    async def _from_model(
        self, context: RequestContext, body: AskRequest, asked: _Asked
    ) -> Answered:
        request = _plain(body, asked)
        run = await open_chat(self.models, self.metering, context.step("answer"), request)
        chat = await run.respond()
        return Answered(chat["choices"][0]["message"]["content"].strip(), [], run.usage)


def _plain(body: AskRequest, asked: _Asked, stream: bool = False) -> ChatCompletionRequest:
    """The chat request that answers a question without a knowledge base (after the
    conversation's earlier turns)."""
    earlier = [{"role": i["role"], "content": item_text(i)} for i in asked.history]
    return ChatCompletionRequest.model_validate(
        {
            "model": body.model or "default",
            "messages": [
                {"role": "system", "content": system_prompt(asked.wanted, PLAIN_INSTRUCTIONS)},
                *earlier,
                {"role": "user", "content": body.question},
            ],
            "user": body.user,
            "stream": stream,
        }
    )


def _citations(hits: list[Hit], ranked: list, relied: set[int]) -> list[dict[str, Any]]:
    """Every hit as a citation: the chunks the answer quotes first, in their search rank
    (measured: the first citation then holds the answer more often than when they come
    by their sentence's score, 0.91 against 0.82-0.86), then the rest by their best
    sentence's evidence score."""
    best: dict[int, float] = {}
    for evidence in ranked:
        best.setdefault(evidence.candidate.source, evidence.score)
    order = sorted(
        range(len(hits)),
        key=lambda i: (i not in relied, -hits[i].score if i in relied else -best.get(i, 0.0)),
    )
    return [
        {
            "file_id": hits[i].chunk.file_id,
            "filename": hits[i].chunk.filename,
            "text": hits[i].chunk.text,
            "score": round(hits[i].score, 6),
        }
        for i in order
    ]


def ask_object(context: RequestContext, answered: Answered) -> dict[str, Any]:
    return {
        "id": object_id("ask", context.request_id),
        "object": "ask",
        "answer": answered.answer,
        "citations": answered.citations,
        "usage": answered.usage.to_dict(),
    }


def _pieces(text: str, size: int = 16) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
