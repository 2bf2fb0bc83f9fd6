"""`POST /v1/summarize`: a text (or an uploaded file's text) summarized in its own
language, within `max_words` (characters for Chinese), on the metered path.

The summary is extractive (knowledge/extractive.py): the sentences that best stand for
the text, in their order, so it never says what the text does not. A long text is cut
into pieces, each piece summarized, and the pieces' picks summarized as a whole. The
sentences are embedded once, with the default embeddings model, and billed as such.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import numpy as np

from modelmint.core.errors import InvalidRequestError
from modelmint.core.types import Usage
from modelmint.knowledge.chunking import chunk_text
from modelmint.knowledge.documents import DocumentError, document_text
from modelmint.knowledge.evidence import language_of, sentences
from modelmint.knowledge.extractive import pick_in_pieces
from modelmint.knowledge.terms import Terms
from modelmint.knowledge.tokens import estimate_tokens
from modelmint.services.context import Estimate, RequestContext, Used
from modelmint.services.embedding_fit import fitted_counts
from modelmint.services.files import Files
from modelmint.services.ids import object_id
from modelmint.services.metering import Metering
from modelmint.services.models import Models
from modelmint.services.privacy import RequestPrivacy
from modelmint.services.task_schemas import MAX_SUMMARY_CHARS, SummarizeRequest
from modelmint.tenancy.directory import Account

PIECE_TOKENS = 1500  # a long text is summarized in pieces of this size, then as a whole
MAX_SENTENCES = 4000
MAX_SUMMARY_FILE_BYTES = 16 * 1024 * 1024  # read whole into memory to be parsed
_FILE_ID = re.compile(r"^file-[0-9a-f]{24}$")


class Summarize:
    def __init__(
        self, models: Models, metering: Metering, files: Files, terms: Terms, embeddings: str
    ) -> None:
        self.models = models
        self.metering = metering
        self.files = files
        self.terms = terms
        self.embeddings = embeddings

    async def summarize(self, context: RequestContext, body: SummarizeRequest) -> dict[str, Any]:
        text = await self._text(context.account, body.input)
        language = language_of(text) if body.language == "auto" else body.language
        privacy = RequestPrivacy(context.account.policy)
        text = privacy.redacted([text], param="input")[0]
        pieces, found = _sentences(text)
        if not found:
            raise InvalidRequestError("input has no sentences to summarize.", param="input")
        spec, engine = await self.models.usable(context.account, body.model or self.embeddings)
        lengths = await fitted_counts(engine, list(found))
        ticket = await self.metering.admit(context.using(spec.name), Estimate(sum(lengths)))
        used = Used()
        async with self.metering.metered(ticket, lambda: used):
            result = await engine.embed(list(found), lengths)
            used = Used(Usage(result.prompt_tokens, 0))
        vectors = np.asarray(result.vectors, dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        kept = await asyncio.to_thread(
            pick_in_pieces, self.terms, found, vectors, pieces, body.max_words, language
        )
        separator = "" if language == "zh" else " "
        return {
            "id": object_id("summary", context.request_id),
            "object": "summary",
            "model": spec.name,
            "language": language,
            "summary": separator.join(found[i] for i in kept),
            "usage": used.usage.to_dict(),
        }

    async def _text(self, account: Account, given: str) -> str:
        """The text itself, or the text of the org's uploaded file `given`."""
        if not _FILE_ID.match(given.strip()):
            return given
        record, chunks = await self.files.content(account, given.strip())
        if record.bytes > MAX_SUMMARY_FILE_BYTES:
            raise InvalidRequestError(
                f"{record.filename} is {record.bytes:,} bytes; summaries read files of up to "
                f"{MAX_SUMMARY_FILE_BYTES:,} bytes. Split the file.",
                param="input",
            )

        def read() -> str:
            return document_text(record.filename, b"".join(chunks))

        try:
            text = await asyncio.to_thread(read)
        except DocumentError as exc:
            raise InvalidRequestError(str(exc), param="input") from None
        if len(text) > MAX_SUMMARY_CHARS:
            raise InvalidRequestError(
                f"{record.filename} holds {len(text):,} characters of text; summaries take at "
                f"most {MAX_SUMMARY_CHARS:,}. Split the file.",
                param="input",
            )
        return text


def _sentences(text: str) -> tuple[list[range], list[str]]:
    """The text's sentences, and the pieces (ranges of them) it is summarized in."""
    found: list[str] = []
    pieces = []
    for chunk in chunk_text(text, estimate_tokens, PIECE_TOKENS, 0):
        start = len(found)
        found += sentences(chunk.text)
        if len(found) > start:
            pieces.append(range(start, len(found)))
    if len(found) > MAX_SENTENCES:
        raise InvalidRequestError(
            f"input has {len(found)} sentences; summaries take at most {MAX_SENTENCES}.",
            param="input",
        )
    return pieces, found
