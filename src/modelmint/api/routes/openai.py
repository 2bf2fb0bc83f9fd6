"""OpenAI-compatible endpoints: chat, completions, embeddings and models."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from modelmint.api.deps import (
    API_KEY,
    AppState,
    FineTuneAccount,
    InferenceAccount,
    RequestId,
    State,
)
from modelmint.api.disconnect import ClientDisconnected, client_closed, unless_disconnected
from modelmint.api.errors import documented_errors
from modelmint.api.sse import event_stream, sse_response
from modelmint.services import responses as shapes
from modelmint.services.chat import open_chat
from modelmint.services.completions import open_completion
from modelmint.services.context import Endpoint, RequestContext
from modelmint.services.embeddings import create_embeddings
from modelmint.services.generation import GenerationRun
from modelmint.services.schemas import ChatCompletionRequest, CompletionRequest, EmbeddingRequest
from modelmint.tenancy.directory import Account

router = APIRouter(
    prefix="/v1",
    tags=["openai"],
    responses=documented_errors(401, 403, 503),
    dependencies=[API_KEY],
)
GENERATION_ERRORS = documented_errors(400, 404, 413, 429, 502)


def _answer_or_stream(whole: type, chunk: type) -> dict[int | str, dict[str, Any]]:
    """200: the whole object as JSON, or with stream=true its chunks as server-sent events."""
    streamed = event_stream(chunk, "The whole object; with stream=true, its chunks as events")
    streamed["model"] = whole
    return {200: streamed, **GENERATION_ERRORS}


def _context(account: Account, request_id: str, endpoint: Endpoint, model: str) -> RequestContext:
    return RequestContext(account, request_id, endpoint, model)


async def _answer(
    opening: Awaitable[GenerationRun], stream: bool, state: AppState, request: Request
) -> Any:
    """Open the run (admission, queue) and answer. A stream's first chunk is read before
    the response starts, so errors a caller can fix get their status; a client that
    leaves before its answer is ready stops the work (a stream's writer notices later)."""

    async def start() -> tuple[GenerationRun, Any]:
        run = await opening
        if not stream:
            return run, await run.respond()
        chunks = run.stream()
        return run, (await anext(chunks), chunks)

    try:
        run, answer = await unless_disconnected(request, start())
    except ClientDisconnected:
        return client_closed()

    def observe() -> None:
        usage = run.usage
        timing = run.timing
        per_token = timing.time_per_output_token(usage.completion_tokens)
        state.metrics.observe_generation(
            run.spec.name, usage, timing.time_to_first_token, per_token
        )

    headers = run.ticket.headers
    if not stream:
        observe()
        return JSONResponse(answer, headers=dict(headers))
    first, chunks = answer
    return sse_response(first, chunks, observe, {"X-Accel-Buffering": "no", **headers})


@router.post(
    "/chat/completions",
    summary="Create a chat completion",
    responses=_answer_or_stream(shapes.ChatCompletion, shapes.ChatCompletionChunk),
)
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    state: State,
    account: InferenceAccount,
    request_id: RequestId,
) -> Any:
    context = _context(account, request_id, Endpoint.CHAT, body.model)
    opening = open_chat(state.models, state.platform.metering, context, body)
    return await _answer(opening, body.stream, state, request)


@router.post(
    "/completions",
    summary="Create a text completion",
    responses=_answer_or_stream(shapes.TextCompletion, shapes.TextCompletionChunk),
)
async def completions(
    body: CompletionRequest,
    request: Request,
    state: State,
    account: InferenceAccount,
    request_id: RequestId,
) -> Any:
    context = _context(account, request_id, Endpoint.COMPLETIONS, body.model)
    opening = open_completion(state.models, state.platform.metering, context, body)
    return await _answer(opening, body.stream, state, request)


@router.post(
    "/embeddings",
    summary="Create embeddings",
    responses={200: {"model": shapes.EmbeddingList}, **GENERATION_ERRORS},
)
async def embeddings(
    body: EmbeddingRequest,
    request: Request,
    state: State,
    account: InferenceAccount,
    request_id: RequestId,
) -> Any:
    context = _context(account, request_id, Endpoint.EMBEDDINGS, body.model)
    work = create_embeddings(state.models, state.platform.metering, context, body)
    try:
        result = await unless_disconnected(request, work)
    except ClientDisconnected:
        return client_closed()
    state.metrics.observe_generation(result.body["model"], result.used.usage, None, None)
    return JSONResponse(result.body, headers=dict(result.headers))


@router.get("/models", summary="List models", responses={200: {"model": shapes.ModelList}})
async def models(state: State, account: InferenceAccount) -> Any:
    return await state.models.list(account)


@router.get(
    "/models/{model:path}",
    summary="Retrieve a model",
    responses={200: {"model": shapes.Model}, **documented_errors(404)},
)
async def model(model: str, state: State, account: InferenceAccount) -> Any:
    return await state.models.retrieve(account, model)


@router.delete(
    "/models/{model:path}",
    summary="Delete a fine-tuned model",
    responses={200: {"model": shapes.ModelDeleted}, **documented_errors(404)},
)
async def delete_model(model: str, state: State, account: FineTuneAccount) -> Any:
    return await state.models.delete(account, model)
