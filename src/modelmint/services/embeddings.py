"""The embeddings use case: texts in, OpenAI `list` of `embedding` objects out."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from modelmint.core.errors import InvalidRequestError
from modelmint.core.types import Usage
from modelmint.runtime.pool import ModelPool
from modelmint.services.access import check_model_allowed
from modelmint.services.accounting import Accounting, Size, Used
from modelmint.services.schemas import EmbeddingRequest
from modelmint.tenancy.directory import Account


def _encode(vector: Sequence[float], encoding_format: str) -> list[float] | str:
    """One vector as the caller asked: little-endian float32 bytes in base64, or floats."""
    if encoding_format == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return vector.tolist() if isinstance(vector, np.ndarray) else list(vector)


async def create_embeddings(
    pool: ModelPool,
    accounting: Accounting,
    account: Account,
    request: EmbeddingRequest,
    request_id: str,
) -> tuple[dict[str, Any], Usage, dict[str, str]]:
    """The `list` of embeddings, its usage and the rate-limit headers."""
    spec, engine = pool.get(request.model)
    check_model_allowed(account.principal, spec)
    texts = request.inputs()
    if any(not text for text in texts):
        raise InvalidRequestError("input must not contain empty strings.", param="input")
    # counted before admission, so the hold is what will be billed (a bound, upstream)
    lengths = await engine.count(texts)
    ticket = await accounting.admit(
        account, spec.name, "embeddings", request_id, [Size(sum(lengths), 0)]
    )
    started = time.perf_counter()
    try:
        result = await engine.embed(texts, lengths)
    except asyncio.CancelledError:  # the client left: nothing was delivered, nothing billed
        ticket.settle_later(Used(Usage()), "cancelled")
        raise
    except BaseException:
        ticket.settle_later(Used(Usage()), "error")
        raise
    used = Used(Usage(result.prompt_tokens, 0), time.perf_counter() - started)
    width = len(result.vectors[0]) if len(result.vectors) else 0
    if request.dimensions is not None and request.dimensions != width:
        ticket.settle_later(Used(Usage()), "error")  # the caller is not charged for a 400
        raise InvalidRequestError(
            f"The model {spec.name!r} returns {width} dimensions and cannot shorten them; "
            f"omit `dimensions` or set it to {width}.",
            param="dimensions",
        )
    await ticket.settle(used)
    usage = Usage(result.prompt_tokens, 0)
    body = {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": _encode(v, request.encoding_format)}
            for i, v in enumerate(result.vectors)
        ],
        "model": spec.name,
        "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens},
    }
    return body, usage, ticket.headers
