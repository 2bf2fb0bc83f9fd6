"""OpenAI's `/v1/fine_tuning/jobs`: create, list, retrieve, cancel, events, checkpoints.
Every route needs a key with the `fine_tune` scope."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from modelmint.api.deps import API_KEY, FineTuneAccount, State
from modelmint.api.errors import documented_errors
from modelmint.services import responses as shapes
from modelmint.services.fine_tuning import MAX_LIST
from modelmint.services.schemas import FineTuningJobCreate

router = APIRouter(
    prefix="/v1/fine_tuning/jobs",
    tags=["fine-tuning"],
    responses=documented_errors(400, 401, 403, 404, 503),
    dependencies=[API_KEY],
)
Limit = Annotated[int, Query(ge=1, le=MAX_LIST)]


@router.post(
    "", summary="Create a fine-tuning job", responses={200: {"model": shapes.FineTuningJob}}
)
async def create(body: FineTuningJobCreate, state: State, account: FineTuneAccount) -> Any:
    return JSONResponse(await state.platform.fine_tuning.create(account, body.model_dump()))


@router.get(
    "", summary="List fine-tuning jobs", responses={200: {"model": shapes.FineTuningJobList}}
)
async def list_jobs(
    request: Request,
    state: State,
    account: FineTuneAccount,
    after: str | None = None,
    limit: Limit = 20,
) -> Any:
    """`metadata[key]=value` query parameters keep the jobs whose metadata has them."""
    metadata = {
        name[len("metadata[") : -1]: value
        for name, value in request.query_params.items()
        if name.startswith("metadata[") and name.endswith("]")
    }
    page = await state.platform.fine_tuning.page(account, after, limit, metadata)
    return JSONResponse(page)


@router.get(
    "/{job_id}",
    summary="Retrieve a fine-tuning job",
    responses={200: {"model": shapes.FineTuningJob}},
)
async def retrieve(job_id: str, state: State, account: FineTuneAccount) -> Any:
    return JSONResponse(await state.platform.fine_tuning.retrieve(account, job_id))


@router.post(
    "/{job_id}/cancel",
    summary="Cancel a fine-tuning job",
    responses={200: {"model": shapes.FineTuningJob}},
)
async def cancel(job_id: str, state: State, account: FineTuneAccount) -> Any:
    return JSONResponse(await state.platform.fine_tuning.cancel(account, job_id))


@router.get(
    "/{job_id}/events",
    summary="A fine-tuning job's events, newest first",
    responses={200: {"model": shapes.FineTuningJobEventList}},
)
async def events(
    job_id: str, state: State, account: FineTuneAccount, after: str | None = None, limit: Limit = 20
) -> Any:
    return JSONResponse(await state.platform.fine_tuning.events(account, job_id, after, limit))


@router.get(
    "/{job_id}/checkpoints",
    summary="A fine-tuning job's checkpoints, latest first",
    responses={200: {"model": shapes.FineTuningJobCheckpointList}},
)
async def checkpoints(
    job_id: str, state: State, account: FineTuneAccount, after: str | None = None, limit: Limit = 10
) -> Any:
    found = await state.platform.fine_tuning.checkpoints(account, job_id, after, limit)
    return JSONResponse(found)
