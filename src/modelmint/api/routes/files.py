"""OpenAI's `/v1/files`: multipart upload, cursor list, retrieve, content and delete."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse

from modelmint.api.deps import API_KEY, InferenceAccount, State
from modelmint.api.errors import documented_errors
from modelmint.services import responses as shapes
from modelmint.services.files import MAX_LIST, Upload

router = APIRouter(
    prefix="/v1/files",
    tags=["files"],
    responses=documented_errors(400, 401, 403, 404, 503),
    dependencies=[API_KEY],
)


@router.post(
    "",
    summary="Upload a file",
    responses={200: {"model": shapes.FileObject}, **documented_errors(413)},
)
async def upload(
    file: UploadFile,
    purpose: Annotated[str, Form(description="fine-tune, assistants, user_data, ...")],
    state: State,
    account: InferenceAccount,
    anchor: Annotated[Literal["created_at"] | None, Form(alias="expires_after[anchor]")] = None,
    seconds: Annotated[int | None, Form(alias="expires_after[seconds]")] = None,
) -> Any:
    try:
        made = await state.platform.files.upload(
            account, Upload(file.filename or "", purpose, file.file, seconds)
        )
    finally:
        await file.close()
    return JSONResponse(made)


@router.get("", summary="List files", responses={200: {"model": shapes.FileList}})
async def list_files(
    state: State,
    account: InferenceAccount,
    purpose: str | None = None,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = MAX_LIST,
    order: Literal["asc", "desc"] = "desc",
) -> Any:
    files = state.platform.files
    page = await files.page(account, purpose=purpose, after=after, limit=limit, order=order)
    return JSONResponse(page)


@router.get("/{file_id}", summary="Retrieve a file", responses={200: {"model": shapes.FileObject}})
async def retrieve(file_id: str, state: State, account: InferenceAccount) -> Any:
    return JSONResponse(await state.platform.files.retrieve(account, file_id))


@router.get(
    "/{file_id}/content",
    summary="The file's bytes",
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def content(file_id: str, state: State, account: InferenceAccount) -> Any:
    record, chunks = await state.platform.files.content(account, file_id)
    disposition = f"attachment; filename*=UTF-8''{quote(record.filename, safe='')}"
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={"Content-Length": str(record.bytes), "Content-Disposition": disposition},
    )


@router.delete(
    "/{file_id}", summary="Delete a file", responses={200: {"model": shapes.FileDeleted}}
)
async def delete(file_id: str, state: State, account: InferenceAccount) -> Any:
    return JSONResponse(await state.platform.files.delete(account, file_id))
