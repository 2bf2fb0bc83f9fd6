"""OpenAI's `/v1/responses` (create, streamed or whole; retrieve; delete; input items)
and `/v1/conversations` with its items. Every route needs a key with the `inference`
scope."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse

from modelmint.api.deps import API_KEY, InferenceAccount, RequestId, State
from modelmint.api.disconnect import ClientDisconnected, answered, client_closed, first_of
from modelmint.api.errors import documented_errors
from modelmint.api.sse import event_stream, sse_response
from modelmint.services import conversation_responses as shapes
from modelmint.services.context import Endpoint, RequestContext
from modelmint.services.conversations import MAX_LIST
from modelmint.services.response_schemas import ResponseCreate

router = APIRouter(
    prefix="/v1",
    tags=["responses"],
    responses=documented_errors(400, 401, 403, 404, 503),
    dependencies=[API_KEY],
)
AnyBody = Annotated[dict[str, Any], Body()]


@router.post(
    "/responses",
    summary="Create a model response",
    responses={
        200: event_stream(shapes.ResponseEvent, "The response; with stream=true, its events")
        | {"model": shapes.ResponseObject},
        **documented_errors(413, 429, 502),
    },
)
async def create_response(
    body: ResponseCreate,
    request: Request,
    state: State,
    account: InferenceAccount,
    request_id: RequestId,
) -> Any:
    context = RequestContext(account, request_id, Endpoint.RESPONSES, body.model)
    service = state.knowledge.responses
    if not body.stream:
        return await answered(request, service.create(context, body))
    events = service.stream(context, body)
    try:
        first = await first_of(request, events)
    except ClientDisconnected:
        return client_closed()
    return sse_response(first, events, lambda: None, {"X-Accel-Buffering": "no"}, named=True)


@router.get(
    "/responses/{response_id}",
    summary="Retrieve a stored response",
    responses={200: {"model": shapes.ResponseObject}},
)
async def retrieve_response(response_id: str, state: State, account: InferenceAccount) -> Any:
    return JSONResponse(await state.knowledge.responses.retrieve(account, response_id))


@router.delete(
    "/responses/{response_id}",
    summary="Delete a stored response",
    responses={200: {"model": shapes.ResponseDeleted}},
)
async def delete_response(response_id: str, state: State, account: InferenceAccount) -> Any:
    return JSONResponse(await state.knowledge.responses.delete(account, response_id))


@router.get(
    "/responses/{response_id}/input_items",
    summary="The input items of a stored response",
    responses={200: {"model": shapes.ItemList}},
)
async def input_items(response_id: str, state: State, account: InferenceAccount) -> Any:
    return JSONResponse(await state.knowledge.responses.input_items(account, response_id))


@router.post(
    "/conversations",
    summary="Create a conversation",
    responses={200: {"model": shapes.ConversationObject}},
)
async def create_conversation(state: State, account: InferenceAccount, body: AnyBody) -> Any:
    return JSONResponse(await state.knowledge.conversations.create(account, body))


@router.get(
    "/conversations/{conversation_id}",
    summary="Retrieve a conversation",
    responses={200: {"model": shapes.ConversationObject}},
)
async def retrieve_conversation(
    conversation_id: str, state: State, account: InferenceAccount
) -> Any:
    return JSONResponse(await state.knowledge.conversations.retrieve(account, conversation_id))


@router.post(
    "/conversations/{conversation_id}",
    summary="Update a conversation's metadata",
    responses={200: {"model": shapes.ConversationObject}},
)
async def update_conversation(
    conversation_id: str, state: State, account: InferenceAccount, body: AnyBody
) -> Any:
    conversations = state.knowledge.conversations
    return JSONResponse(await conversations.update(account, conversation_id, body))


@router.delete(
    "/conversations/{conversation_id}",
    summary="Delete a conversation",
    responses={200: {"model": shapes.ConversationDeleted}},
)
async def delete_conversation(conversation_id: str, state: State, account: InferenceAccount) -> Any:
    return JSONResponse(await state.knowledge.conversations.delete(account, conversation_id))


@router.get(
    "/conversations/{conversation_id}/items",
    summary="List a conversation's items",
    responses={200: {"model": shapes.ItemList}},
)
async def list_items(
    conversation_id: str,
    state: State,
    account: InferenceAccount,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 20,
    order: Literal["asc", "desc"] = "desc",
) -> Any:
    page = await state.knowledge.conversations.page_items(
        account, conversation_id, after=after, limit=limit, order=order
    )
    return JSONResponse(page)


@router.post(
    "/conversations/{conversation_id}/items",
    summary="Add items to a conversation",
    responses={200: {"model": shapes.ItemList}},
)
async def add_items(
    conversation_id: str, state: State, account: InferenceAccount, body: AnyBody
) -> Any:
    conversations = state.knowledge.conversations
    return JSONResponse(await conversations.add_items(account, conversation_id, body))


@router.get(
    "/conversations/{conversation_id}/items/{item_id}",
    summary="Retrieve a conversation's item",
    responses={200: {"model": shapes.MessageItem}},
)
async def retrieve_item(
    conversation_id: str, item_id: str, state: State, account: InferenceAccount
) -> Any:
    conversations = state.knowledge.conversations
    return JSONResponse(await conversations.retrieve_item(account, conversation_id, item_id))


@router.delete(
    "/conversations/{conversation_id}/items/{item_id}",
    summary="Delete a conversation's item",
    responses={200: {"model": shapes.ConversationObject}},
)
async def delete_item(
    conversation_id: str, item_id: str, state: State, account: InferenceAccount
) -> Any:
    conversations = state.knowledge.conversations
    return JSONResponse(await conversations.delete_item(account, conversation_id, item_id))
