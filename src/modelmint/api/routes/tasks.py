"""The task endpoints: `POST /v1/ask` (answers from the org's knowledge bases, with
citations), `/v1/classify` and `/v1/summarize`. Every route needs a key with the
`inference` scope."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from modelmint.api.deps import API_KEY, InferenceAccount, RequestId, State
from modelmint.api.disconnect import ClientDisconnected, answered, client_closed, first_of
from modelmint.api.errors import documented_errors
from modelmint.api.sse import event_stream, sse_response
from modelmint.services import task_responses as shapes
from modelmint.services.context import Endpoint, RequestContext
from modelmint.services.knowledge_schemas import AskRequest
from modelmint.services.task_schemas import ClassifyRequest, SummarizeRequest

router = APIRouter(
    prefix="/v1",
    tags=["tasks"],
    responses=documented_errors(400, 401, 403, 404, 429, 503),
    dependencies=[API_KEY],
)


def _whole_or_stream(whole: type, chunk: type) -> dict[int | str, dict[str, Any]]:
    streamed = event_stream(chunk, "The whole object; with stream=true, its chunks as events")
    streamed["model"] = whole
    return {200: streamed}


@router.post(
    "/ask",
    summary="Answer a question from your knowledge bases, with citations",
    responses=_whole_or_stream(shapes.AskObject, shapes.AskChunk),
)
async def ask(
    body: AskRequest,
    request: Request,
    state: State,
    account: InferenceAccount,
    request_id: RequestId,
) -> Any:
    context = RequestContext(account, request_id, Endpoint.ASK, body.model or "")
    service = state.knowledge.ask
    if not body.stream:
        return await answered(request, service.answer(context, body))
    chunks = service.stream(context, body)
    try:
        first = await first_of(request, chunks)
    except ClientDisconnected:
        return client_closed()
    return sse_response(first, chunks, lambda: None, {"X-Accel-Buffering": "no"})


@router.post(
    "/classify",
    summary="Classify texts among your labels (zero-shot)",
    responses={200: {"model": shapes.ClassificationList}},
)
async def classify(
    body: ClassifyRequest,
    request: Request,
    state: State,
    account: InferenceAccount,
    request_id: RequestId,
) -> Any:
    context = RequestContext(account, request_id, Endpoint.CLASSIFY, body.model or "")
    return await answered(request, state.tasks.classify.classify(context, body))


@router.post(
    "/summarize",
    summary="Summarize a text or an uploaded file",
    responses={200: {"model": shapes.Summary}},
)
async def summarize(
    body: SummarizeRequest,
    request: Request,
    state: State,
    account: InferenceAccount,
    request_id: RequestId,
) -> Any:
    context = RequestContext(account, request_id, Endpoint.SUMMARIZE, body.model or "")
    return await answered(request, state.tasks.summarize.summarize(context, body))
