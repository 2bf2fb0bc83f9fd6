"""OpenAI's `/v1/vector_stores`: stores, the files in them, their parsed content, and
search. Every route needs a key with the `inference` scope."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from modelmint.api.deps import API_KEY, InferenceAccount, RequestId, State
from modelmint.api.errors import documented_errors
from modelmint.services import knowledge_responses as shapes
from modelmint.services.context import Endpoint, RequestContext
from modelmint.services.knowledge_schemas import (
    VectorStoreCreate,
    VectorStoreFileBatchCreate,
    VectorStoreFileCreate,
    VectorStoreFileUpdate,
    VectorStoreSearch,
    VectorStoreUpdate,
)
from modelmint.services.vector_stores import MAX_LIST

router = APIRouter(
    prefix="/v1/vector_stores",
    tags=["vector stores"],
    responses=documented_errors(400, 401, 403, 404, 503),
    dependencies=[API_KEY],
)
Limit = Annotated[int, Query(ge=1, le=MAX_LIST)]
Order = Literal["asc", "desc"]
FileStatus = Literal["in_progress", "completed", "failed", "cancelled"]


@router.post(
    "", summary="Create a vector store", responses={200: {"model": shapes.VectorStoreObject}}
)
async def create(body: VectorStoreCreate, state: State, account: InferenceAccount) -> Any:
    return JSONResponse(await state.knowledge.stores.create(account, body))


@router.get("", summary="List vector stores", responses={200: {"model": shapes.VectorStoreList}})
async def list_stores(
    state: State,
    account: InferenceAccount,
    after: str | None = None,
    before: str | None = None,
    limit: Limit = 20,
    order: Order = "desc",
) -> Any:
    stores = state.knowledge.stores
    page = await stores.page(account, after=after, before=before, limit=limit, order=order)
    return JSONResponse(page)


@router.get(
    "/{store_id}",
    summary="Retrieve a vector store",
    responses={200: {"model": shapes.VectorStoreObject}},
)
async def retrieve(store_id: str, state: State, account: InferenceAccount) -> Any:
    return JSONResponse(await state.knowledge.stores.retrieve(account, store_id))


@router.post(
    "/{store_id}",
    summary="Modify a vector store",
    responses={200: {"model": shapes.VectorStoreObject}},
)
async def modify(
    store_id: str, body: VectorStoreUpdate, state: State, account: InferenceAccount
) -> Any:
    return JSONResponse(await state.knowledge.stores.update(account, store_id, body))


@router.delete(
    "/{store_id}",
    summary="Delete a vector store",
    responses={200: {"model": shapes.VectorStoreDeleted}},
)
async def delete(store_id: str, state: State, account: InferenceAccount) -> Any:
    return JSONResponse(await state.knowledge.stores.delete(account, store_id))


@router.post(
    "/{store_id}/search",
    summary="Search a vector store",
    responses={200: {"model": shapes.SearchPage}, **documented_errors(429)},
)
async def search(
    store_id: str,
    body: VectorStoreSearch,
    state: State,
    account: InferenceAccount,
    request_id: RequestId,
) -> Any:
    context = RequestContext(account, request_id, Endpoint.VECTOR_STORES, "")
    return JSONResponse(await state.knowledge.search.search_page(context, store_id, body))


@router.post(
    "/{store_id}/files",
    summary="Add a file to a vector store",
    responses={200: {"model": shapes.VectorStoreFileObject}},
)
async def add_file(
    store_id: str, body: VectorStoreFileCreate, state: State, account: InferenceAccount
) -> Any:
    return JSONResponse(await state.knowledge.stores.add_file(account, store_id, body))


@router.get(
    "/{store_id}/files",
    summary="List a vector store's files",
    responses={200: {"model": shapes.VectorStoreFileList}},
)
async def list_files(
    store_id: str,
    state: State,
    account: InferenceAccount,
    filter: FileStatus | None = None,  # noqa: A002 (OpenAI's name)
    after: str | None = None,
    before: str | None = None,
    limit: Limit = 20,
    order: Order = "desc",
) -> Any:
    page = await state.knowledge.stores.page_files(
        account, store_id, status=filter, after=after, before=before, limit=limit, order=order
    )
    return JSONResponse(page)


@router.get(
    "/{store_id}/files/{file_id}",
    summary="Retrieve a vector store's file",
    responses={200: {"model": shapes.VectorStoreFileObject}},
)
async def retrieve_file(
    store_id: str, file_id: str, state: State, account: InferenceAccount
) -> Any:
    return JSONResponse(await state.knowledge.stores.retrieve_file(account, store_id, file_id))


@router.post(
    "/{store_id}/files/{file_id}",
    summary="Update a vector store file's attributes",
    responses={200: {"model": shapes.VectorStoreFileObject}},
)
async def update_file(
    store_id: str,
    file_id: str,
    body: VectorStoreFileUpdate,
    state: State,
    account: InferenceAccount,
) -> Any:
    stores = state.knowledge.stores
    return JSONResponse(await stores.update_file(account, store_id, file_id, body.attributes))


@router.get(
    "/{store_id}/files/{file_id}/content",
    summary="A vector store file's parsed text, chunk by chunk",
    responses={200: {"model": shapes.FileContentPage}},
)
async def file_content(store_id: str, file_id: str, state: State, account: InferenceAccount) -> Any:
    return JSONResponse(await state.knowledge.stores.file_content(account, store_id, file_id))


@router.delete(
    "/{store_id}/files/{file_id}",
    summary="Remove a file from a vector store",
    responses={200: {"model": shapes.VectorStoreFileDeleted}},
)
async def delete_file(store_id: str, file_id: str, state: State, account: InferenceAccount) -> Any:
    return JSONResponse(await state.knowledge.stores.delete_file(account, store_id, file_id))


@router.post(
    "/{store_id}/file_batches",
    summary="Add several files to a vector store at once",
    responses={200: {"model": shapes.FileBatchObject}},
)
async def create_batch(
    store_id: str, body: VectorStoreFileBatchCreate, state: State, account: InferenceAccount
) -> Any:
    return JSONResponse(await state.knowledge.batches.create(account, store_id, body))


@router.get(
    "/{store_id}/file_batches/{batch_id}",
    summary="Retrieve a file batch",
    responses={200: {"model": shapes.FileBatchObject}},
)
async def retrieve_batch(
    store_id: str, batch_id: str, state: State, account: InferenceAccount
) -> Any:
    return JSONResponse(await state.knowledge.batches.retrieve(account, store_id, batch_id))


@router.post(
    "/{store_id}/file_batches/{batch_id}/cancel",
    summary="Cancel a file batch's files not yet ingested",
    responses={200: {"model": shapes.FileBatchObject}},
)
async def cancel_batch(
    store_id: str, batch_id: str, state: State, account: InferenceAccount
) -> Any:
    return JSONResponse(await state.knowledge.batches.cancel(account, store_id, batch_id))


@router.get(
    "/{store_id}/file_batches/{batch_id}/files",
    summary="List a file batch's files",
    responses={200: {"model": shapes.VectorStoreFileList}},
)
async def list_batch_files(
    store_id: str,
    batch_id: str,
    state: State,
    account: InferenceAccount,
    filter: FileStatus | None = None,  # noqa: A002 (OpenAI's name)
    after: str | None = None,
    before: str | None = None,
    limit: Limit = 20,
    order: Order = "desc",
) -> Any:
    page = await state.knowledge.batches.page_files(
        account, store_id, batch_id, status=filter, after=after, before=before, limit=limit,
        order=order,
    )  # fmt: skip
    return JSONResponse(page)
