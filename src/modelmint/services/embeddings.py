"""The embeddings use case: texts in, OpenAI `list` of `embedding` objects out."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from modelmint.core.errors import InvalidRequestError
from modelmint.core.types import Principal, Usage
from modelmint.runtime.pool import ModelPool
from modelmint.services.chat import check_model_allowed
from modelmint.services.schemas import EmbeddingRequest


def _encode(vector: list[float], encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return vector


async def create_embeddings(
    pool: ModelPool, principal: Principal, request: EmbeddingRequest
) -> tuple[dict[str, Any], Usage]:
    spec, engine = pool.get(request.model)
    check_model_allowed(principal, spec)
    texts = request.inputs()
    if any(not text for text in texts):
        raise InvalidRequestError("input must not contain empty strings.", param="input")
    result = await engine.embed(texts)
    width = len(result.vectors[0]) if result.vectors else 0
    if request.dimensions is not None and request.dimensions != width:
        raise InvalidRequestError(
            f"The model {spec.name!r} returns {width} dimensions and cannot shorten them; "
            f"omit `dimensions` or set it to {width}.",
            param="dimensions",
        )
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
    return body, usage
