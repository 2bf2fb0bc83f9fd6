"""OpenAI-compatible endpoints: chat, completions, embeddings and models."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from modelmint.api.deps import AppState, get_request_id, get_state, require_scope
from modelmint.api.disconnect import ClientDisconnected, client_closed, unless_disconnected
from modelmint.api.sse import sse_response
from modelmint.services.chat import ChatRun, open_chat
from modelmint.services.completions import CompletionRun, open_completion
from modelmint.services.embeddings import create_embeddings
from modelmint.services.models import get_model, list_models
from modelmint.services.schemas import ChatCompletionRequest, CompletionRequest, EmbeddingRequest
from modelmint.tenancy.directory import Account

router = APIRouter(prefix="/v1", tags=["openai"])


async def _answer(
    opening: Awaitable[ChatRun | CompletionRun], stream: bool, state: AppState, request: Request
) -> Any:
    """Open the run (admission, queue) and answer; a client that leaves before its answer
    is ready stops the work (a stream's own writer notices once it has started)."""

    async def work() -> Any:
        return await _respond(await opening, stream, state)

    try:
        return await unless_disconnected(request, work())
    except ClientDisconnected:
        return client_closed()


async def _respond(run: ChatRun | CompletionRun, stream: bool, state: AppState) -> Any:
    def record() -> None:
        run.abandon("cancelled")  # does nothing once the run is settled
        usage = run.usage
        state.metrics.observe_generation(
            run.spec.name,
            usage,
            run.timing.time_to_first_token,
            run.timing.time_per_output_token(usage.completion_tokens),
        )

    headers = run.ticket.headers if run.ticket else {}
    if stream:
        return sse_response(run.billed_chunks(), record, {"X-Accel-Buffering": "no", **headers})
    try:
        return JSONResponse(await run.billed_response(), headers=headers)
    finally:
        record()


@router.post("/chat/completions", summary="Create a chat completion")
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    state: AppState = Depends(get_state),
    account: Account = Depends(require_scope("inference")),
    request_id: str = Depends(get_request_id),
) -> Any:
    opening = open_chat(state.pool, state.accounting, account, body, request_id)
    return await _answer(opening, body.stream, state, request)


@router.post("/completions", summary="Create a text completion")
async def completions(
    body: CompletionRequest,
    request: Request,
    state: AppState = Depends(get_state),
    account: Account = Depends(require_scope("inference")),
    request_id: str = Depends(get_request_id),
) -> Any:
    opening = open_completion(state.pool, state.accounting, account, body, request_id)
    return await _answer(opening, body.stream, state, request)


@router.post("/embeddings", summary="Create embeddings")
async def embeddings(
    body: EmbeddingRequest,
    request: Request,
    state: AppState = Depends(get_state),
    account: Account = Depends(require_scope("inference")),
    request_id: str = Depends(get_request_id),
) -> Any:
    work = create_embeddings(state.pool, state.accounting, account, body, request_id)
    try:
        result, usage, headers = await unless_disconnected(request, work)
    except ClientDisconnected:
        return client_closed()
    state.metrics.observe_generation(result["model"], usage, None, None)
    return JSONResponse(result, headers=headers)


@router.get("/models", summary="List models")
async def models(
    state: AppState = Depends(get_state), account: Account = Depends(require_scope("inference"))
) -> Any:
    return list_models(state.pool)


@router.get("/models/{model:path}", summary="Retrieve a model")
async def model(
    model: str,
    state: AppState = Depends(get_state),
    account: Account = Depends(require_scope("inference")),
) -> Any:
    return get_model(state.pool, model)
