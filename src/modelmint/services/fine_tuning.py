"""Fine-tuning jobs as OpenAI's `/v1/fine_tuning/jobs` has them: create, list, retrieve,
cancel, events and checkpoints, each within the caller's org (another org's job is 404).

Creating a job checks what can be checked at once (the base model, the files, the
hyperparameters) and queues it as `validating_files`; a worker (`training/worker.py`)
takes it from there. Cancelling asks the job's worker to stop and waits up to
`CANCEL_WAIT_SECONDS` for it to say it has.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime
from typing import Any

from modelmint.core.errors import InvalidRequestError, ModelNotFoundError, NotFoundError
from modelmint.core.ids import unix_seconds, utcnow
from modelmint.runtime.registry import Registry
from modelmint.services.access import check_model_allowed
from modelmint.services.files import Files
from modelmint.store import fine_tuning as rows
from modelmint.store.database import Database
from modelmint.store.fine_tuning import FINISHED, CheckpointRecord, EventRecord, JobRecord
from modelmint.tenancy.directory import Account
from modelmint.training.jobs import (
    HyperparameterError,
    Hyperparameters,
    check_suffix,
    fine_tuned_name,
    method_of,
)

MAX_LIST = 100
CANCEL_WAIT_SECONDS = 5.0
MAX_METADATA = 16
FINE_TUNABLE = ("llamacpp", "embeddings")  # an embeddings model's job makes a classifier


def _epoch(moment: datetime | None) -> int | None:
    return None if moment is None else unix_seconds(moment)


def job_object(job: JobRecord) -> dict[str, Any]:
    """OpenAI's `fine_tuning.job`."""
    hyperparameters = Hyperparameters(**job.hyperparameters)
    return {
        "id": job.id,
        "object": "fine_tuning.job",
        "created_at": _epoch(job.created_at),
        "error": job.error,
        "fine_tuned_model": job.fine_tuned_model,
        "finished_at": _epoch(job.finished_at),
        "hyperparameters": hyperparameters.as_dict(),
        "model": job.model,
        "organization_id": job.org_id,
        "result_files": job.result_files,
        "seed": job.seed,
        "status": job.status,
        "trained_tokens": job.trained_tokens,
        "training_file": job.training_file,
        "validation_file": job.validation_file,
        "estimated_finish": _epoch(job.estimated_finish),
        "integrations": [],
        "metadata": job.metadata,
        "method": method_of(hyperparameters),
        "user_provided_suffix": job.suffix,
    }


def event_object(event: EventRecord) -> dict[str, Any]:
    return {
        "id": event.id,
        "object": "fine_tuning.job.event",
        "created_at": _epoch(event.created_at),
        "level": event.level,
        "message": event.message,
        "data": event.data or {},
        "type": event.type,
    }


def checkpoint_object(checkpoint: CheckpointRecord, job: JobRecord) -> dict[str, Any]:
    name = job.output_model
    return {
        "id": checkpoint.id,
        "object": "fine_tuning.job.checkpoint",
        "created_at": _epoch(checkpoint.created_at),
        "fine_tuned_model_checkpoint": f"{name}:ckpt-step-{checkpoint.step}",
        "fine_tuning_job_id": job.id,
        "metrics": checkpoint.metrics,
        "step_number": checkpoint.step,
    }


class FineTuning:
    def __init__(self, db: Database, files: Files, registry: Registry) -> None:
        self.db = db
        self.files = files
        self.registry = registry

    async def create(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        try:
            spec = self.registry.resolve(body["model"])
        except ModelNotFoundError as error:
            raise InvalidRequestError(
                str(error), param="model", code="model_not_available"
            ) from None
        check_model_allowed(account.principal, spec)
        if spec.engine not in FINE_TUNABLE:
            raise InvalidRequestError(
                f"The model {spec.name!r} cannot be fine-tuned here; fine-tune a GGUF chat "
                "model served by llama.cpp, or an embeddings model into a text classifier "
                "(see GET /v1/models).",
                param="model",
                code="model_not_available",
            )
        for param in ("training_file", "validation_file"):
            if body.get(param) is not None:
                await self._fine_tune_file(account, body[param], param)
        try:
            hyperparameters = _hyperparameters(body)
            check_suffix(body.get("suffix"))
        except HyperparameterError as error:
            raise InvalidRequestError(str(error), param=error.param) from None
        job_id = "ftjob-" + secrets.token_hex(12)
        job = JobRecord(
            id=job_id,
            org_id=account.org.id,
            key_id=account.key.id if account.key else None,
            model=spec.name,
            training_file=body["training_file"],
            validation_file=body.get("validation_file"),
            suffix=body.get("suffix"),
            seed=body["seed"] if body.get("seed") is not None else secrets.randbelow(2**31),
            hyperparameters=hyperparameters.as_dict(),
            metadata=_metadata(body.get("metadata")),
            status="validating_files",
            created_at=utcnow(),
            output_model=fine_tuned_name(spec.name, account.org.name, body.get("suffix"), job_id),
        )
        created = EventRecord(
            "ftevent-" + secrets.token_hex(12),
            job.id,
            job.created_at,
            "info",
            "message",
            f"Created fine-tuning job: {job.id}",
        )
        await self.db.write(_add_job_and_event, job, created)
        return job_object(job)

    async def _fine_tune_file(self, account: Account, file_id: str, param: str) -> None:
        try:
            record = await self.files.get(account, file_id)
        except NotFoundError:
            raise InvalidRequestError(
                f"{param}: no file {file_id!r} in your organization; upload it with "
                "POST /v1/files (purpose fine-tune).",
                param=param,
                code="invalid_file",
            ) from None
        if record.purpose != "fine-tune":
            raise InvalidRequestError(
                f"{param}: the file {file_id!r} was uploaded with purpose "
                f"{record.purpose!r}; upload it again with purpose fine-tune.",
                param=param,
                code="invalid_file",
            )

    async def get(self, account: Account, job_id: str) -> JobRecord:
        job = await self.db.read(rows.find_job, job_id, account.org.id)
        if job is None:
            raise NotFoundError(f"No such fine-tuning job: {job_id}", param="fine_tuning_job_id")
        return job

    async def retrieve(self, account: Account, job_id: str) -> dict[str, Any]:
        return job_object(await self.get(account, job_id))

    async def page(
        self,
        account: Account,
        after: str | None,
        limit: int,
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        _check_limit(limit)
        cursor = None if after is None else await self.get(account, after)
        # metadata filters are applied to pages of jobs: fetch until the page is full
        found: list[JobRecord] = []
        while True:
            batch = await self.db.read(rows.list_jobs, account.org.id, cursor, MAX_LIST + 1)
            found += [j for j in batch if _matches(j, metadata)]
            if len(found) > limit or len(batch) <= MAX_LIST:
                break
            cursor = batch[-1]
        data = [job_object(job) for job in found[:limit]]
        return {"object": "list", "data": data, "has_more": len(found) > limit}

    async def cancel(self, account: Account, job_id: str) -> dict[str, Any]:
        job = await self.get(account, job_id)
        if job.status in FINISHED:
            raise InvalidRequestError(
                f"The job {job_id} has {job.status} already; only a validating, queued or "
                "running job can be cancelled.",
                param="fine_tuning_job_id",
            )
        await self.db.write(rows.request_cancel, job_id, utcnow())
        deadline = asyncio.get_running_loop().time() + CANCEL_WAIT_SECONDS
        while (job := await self.get(account, job_id)).status not in FINISHED:
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.2)
        return job_object(job)

    async def events(
        self, account: Account, job_id: str, after: str | None, limit: int
    ) -> dict[str, Any]:
        _check_limit(limit)
        await self.get(account, job_id)
        found = await self.db.read(rows.list_events, job_id, after, limit + 1)
        data = [event_object(e) for e in found[:limit]]
        return {"object": "list", "data": data, "has_more": len(found) > limit}

    async def checkpoints(
        self, account: Account, job_id: str, after: str | None, limit: int
    ) -> dict[str, Any]:
        _check_limit(limit)
        job = await self.get(account, job_id)
        found = await self.db.read(rows.list_checkpoints, job_id, after, limit + 1)
        data = [checkpoint_object(c, job) for c in found[:limit]]
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(found) > limit,
        }


def _add_job_and_event(connection: Any, job: JobRecord, event: EventRecord) -> None:
    rows.add_job(connection, job)
    rows.add_event(connection, event)


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIST:
        raise InvalidRequestError(f"limit must be 1 to {MAX_LIST}.", param="limit")


def _matches(job: JobRecord, metadata: dict[str, str] | None) -> bool:
    if not metadata:
        return True
    return all((job.metadata or {}).get(k) == v for k, v in metadata.items())


def _hyperparameters(body: dict[str, Any]) -> Hyperparameters:
    """From `method.supervised.hyperparameters`, or the legacy `hyperparameters`."""
    method, legacy = body.get("method"), body.get("hyperparameters")
    if method is not None:
        if method.get("type") != "supervised":
            raise HyperparameterError(
                f"method.type {method.get('type')!r} is not supported here; use "
                '"supervised" (LoRA on the chat model).',
                param="method.type",
            )
        if legacy:
            raise HyperparameterError(
                "Give the hyperparameters in method.supervised.hyperparameters or in the "
                "legacy hyperparameters field, not both.",
                param="hyperparameters",
            )
        supervised = method.get("supervised") or {}
        where = "method.supervised.hyperparameters"
        return Hyperparameters.parse(supervised.get("hyperparameters"), where)
    return Hyperparameters.parse(legacy, "hyperparameters")


def _metadata(metadata: dict[str, Any] | None) -> dict[str, str] | None:
    if metadata is None:
        return None
    fits = len(metadata) <= MAX_METADATA and all(
        isinstance(k, str) and isinstance(v, str) and len(k) <= 64 and len(v) <= 512
        for k, v in metadata.items()
    )
    if not fits:
        raise InvalidRequestError(
            f"metadata holds up to {MAX_METADATA} pairs of strings: keys up to 64 "
            "characters, values up to 512.",
            param="metadata",
        )
    return metadata
