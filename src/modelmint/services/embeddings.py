"""The embeddings use case: texts in, OpenAI `list` of `embedding` objects out, on the
metered path (counted once, before admission; billed only when vectors are delivered)."""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelmint.core.errors import InvalidRequestError
from modelmint.core.types import Usage
from modelmint.services.context import Estimate, RequestContext, Used
from modelmint.services.metering import Metering
from modelmint.services.models import Models
from modelmint.services.schemas import EmbeddingRequest


def _encode(vector: Sequence[float], encoding_format: str) -> list[float] | str:
    """One vector as the caller asked: little-endian float32 bytes in base64, or floats."""
    if encoding_format == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return vector.tolist() if isinstance(vector, np.ndarray) else list(vector)


@dataclass(frozen=True, slots=True)
class EmbeddingsResult:
    body: dict[str, Any]  # OpenAI's `list` of `embedding` objects
    used: Used  # the same usage the body and the ledger row show
    headers: Mapping[str, str]  # the rate-limit headers


async def create_embeddings(
    models: Models, metering: Metering, context: RequestContext, request: EmbeddingRequest
) -> EmbeddingsResult:
    spec, engine = await models.usable(context.account, request.model)
    texts = request.inputs()
    if any(not text for text in texts):
        raise InvalidRequestError("input must not contain empty strings.", param="input")
    # counted before admission, so the hold is what will be billed (a bound, upstream)
    lengths = await engine.count(texts)
    ticket = await metering.admit(context.using(spec.name), Estimate(sum(lengths)))
    used = Used()  # nothing is billed unless vectors are delivered
    async with metering.metered(ticket, lambda: used):
        started = time.perf_counter()
        result = await engine.embed(texts, lengths)
        width = len(result.vectors[0]) if len(result.vectors) else 0
        if request.dimensions is not None and request.dimensions != width:
            raise InvalidRequestError(
                f"The model {spec.name!r} returns {width} dimensions and cannot shorten "
                f"them; omit `dimensions` or set it to {width}.",
                param="dimensions",
            )
        used = Used(Usage(result.prompt_tokens, 0), time.perf_counter() - started)
    tokens = used.usage.prompt_tokens
    body = {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": _encode(v, request.encoding_format)}
            for i, v in enumerate(result.vectors)
        ],
        "model": spec.name,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return EmbeddingsResult(body, used, ticket.headers)
