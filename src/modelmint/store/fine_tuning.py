"""Rows of fine-tuning: jobs (and claiming them as a queue), their events and checkpoints,
and the models they made.

A job is claimed with one conditional UPDATE (`claim_job`): it changes the row only if no
live lease holds it, so any number of workers on any number of machines can race for the
same job on SQLite or PostgreSQL and exactly one wins. The winner renews its lease
(`renew_lease`); a job whose worker died is claimed again once the lease has run out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, or_, select, update

from modelmint.store.tables import (
    fine_tuned_models,
    fine_tuning_checkpoints,
    fine_tuning_events,
    fine_tuning_jobs,
)

jobs = fine_tuning_jobs.c
ACTIVE = ("validating_files", "queued", "running")
FINISHED = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    org_id: str
    key_id: str | None
    model: str
    training_file: str
    validation_file: str | None
    suffix: str | None
    seed: int
    hyperparameters: dict[str, Any]
    metadata: dict[str, str] | None
    status: str
    created_at: datetime
    output_model: str  # the name the model gets when the job succeeds
    error: dict[str, Any] | None = None
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    estimated_finish: datetime | None = None
    result_files: list[str] = field(default_factory=list)
    finished_at: datetime | None = None
    worker_id: str | None = None
    lease_until: datetime | None = None
    cancel_requested: bool = False
    attempts: int = 0


def add_job(connection: Connection, job: JobRecord) -> None:
    connection.execute(fine_tuning_jobs.insert().values(**asdict(job)))


def find_job(connection: Connection, job_id: str, org_id: str | None = None) -> JobRecord | None:
    """The job, if it exists (and is the org's, when `org_id` is given)."""
    query = select(fine_tuning_jobs).where(jobs.id == job_id)
    if org_id is not None:
        query = query.where(jobs.org_id == org_id)
    row = connection.execute(query).one_or_none()
    return None if row is None else JobRecord(**row._mapping)


def list_jobs(
    connection: Connection, org_id: str, after: JobRecord | None, limit: int
) -> list[JobRecord]:
    """The org's jobs, newest first, after the job `after`."""
    query = select(fine_tuning_jobs).where(jobs.org_id == org_id)
    if after is not None:
        query = query.where(
            or_(
                jobs.created_at < after.created_at,
                and_(jobs.created_at == after.created_at, jobs.id < after.id),
            )
        )
    query = query.order_by(jobs.created_at.desc(), jobs.id.desc()).limit(limit)
    return [JobRecord(**row._mapping) for row in connection.execute(query)]


def update_job(
    connection: Connection, job_id: str, worker_id: str | None, values: dict[str, Any]
) -> bool:
    """Change the job; with `worker_id`, only while that worker holds it."""
    query = update(fine_tuning_jobs).where(jobs.id == job_id)
    if worker_id is not None:
        query = query.where(jobs.worker_id == worker_id)
    return connection.execute(query.values(**values)).rowcount > 0


def claimable(connection: Connection, now: datetime, limit: int = 8) -> list[str]:
    """Ids of jobs a worker may take, oldest first: not finished, no live lease."""
    query = (
        select(jobs.id)
        .where(jobs.status.in_(ACTIVE), or_(jobs.lease_until.is_(None), jobs.lease_until < now))
        .order_by(jobs.created_at)
        .limit(limit)
    )
    return list(connection.execute(query).scalars())


def claim_job(
    connection: Connection, job_id: str, worker_id: str, now: datetime, until: datetime
) -> bool:
    """Take the job for `worker_id` until `until`; False if another worker has it."""
    query = (
        update(fine_tuning_jobs)
        .where(
            jobs.id == job_id,
            jobs.status.in_(ACTIVE),
            or_(jobs.lease_until.is_(None), jobs.lease_until < now),
        )
        .values(worker_id=worker_id, lease_until=until, attempts=jobs.attempts + 1)
    )
    return connection.execute(query).rowcount > 0


def renew_lease(
    connection: Connection, job_id: str, worker_id: str, until: datetime
) -> bool | None:
    """Extend the lease; whether a cancel was asked for, or None if the lease was lost."""
    held = update_job(connection, job_id, worker_id, {"lease_until": until})
    if not held:
        return None
    query = select(jobs.cancel_requested).where(jobs.id == job_id)
    return bool(connection.execute(query).scalar_one())


def request_cancel(connection: Connection, job_id: str, now: datetime) -> None:
    """Ask for the job to stop: a job no worker holds is cancelled here and now; a held
    one is stopped by its worker, which sees the request when it renews its lease."""
    connection.execute(
        update(fine_tuning_jobs)
        .where(jobs.id == job_id, jobs.status.in_(ACTIVE))
        .values(cancel_requested=True)
    )
    connection.execute(
        update(fine_tuning_jobs)
        .where(
            jobs.id == job_id,
            jobs.status.in_(ACTIVE),
            or_(jobs.lease_until.is_(None), jobs.lease_until < now),
        )
        .values(status="cancelled", finished_at=now, estimated_finish=None)
    )


# events -------------------------------------------------------------------------------
events = fine_tuning_events.c


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: str
    job_id: str
    created_at: datetime
    level: str
    type: str
    message: str
    data: dict[str, Any] | None = None
    seq: int | None = None


def add_event(connection: Connection, event: EventRecord) -> None:
    values = asdict(event)
    values.pop("seq")
    connection.execute(fine_tuning_events.insert().values(**values))


def list_events(
    connection: Connection, job_id: str, after: str | None, limit: int
) -> list[EventRecord]:
    """The job's events, newest first, after the event `after`."""
    rows = _newest_first(connection, fine_tuning_events, "seq", job_id, after, limit)
    return [EventRecord(**row._mapping) for row in rows]


def _newest_first(
    connection: Connection, table: Any, order: str, job_id: str, after: str | None, limit: int
) -> Any:
    """A page of the job's rows of `table` by `order` descending, after the row `after`."""
    column = table.c[order]
    query = select(table).where(table.c.job_id == job_id)
    if after is not None:
        query = query.where(column < select(column).where(table.c.id == after).scalar_subquery())
    return connection.execute(query.order_by(column.desc()).limit(limit))


# checkpoints --------------------------------------------------------------------------
checkpoints = fine_tuning_checkpoints.c


@dataclass(frozen=True, slots=True)
class CheckpointRecord:
    id: str
    job_id: str
    step: int
    metrics: dict[str, Any]
    created_at: datetime


def add_checkpoint(connection: Connection, checkpoint: CheckpointRecord) -> None:
    """Record a checkpoint once (a resumed job may pass the same step again)."""
    where = (checkpoints.job_id == checkpoint.job_id, checkpoints.step == checkpoint.step)
    if connection.execute(select(checkpoints.id).where(*where)).first() is None:
        connection.execute(fine_tuning_checkpoints.insert().values(**asdict(checkpoint)))


def list_checkpoints(
    connection: Connection, job_id: str, after: str | None, limit: int
) -> list[CheckpointRecord]:
    """The job's checkpoints, latest step first, after the checkpoint `after`."""
    rows = _newest_first(connection, fine_tuning_checkpoints, "step", job_id, after, limit)
    return [CheckpointRecord(**row._mapping) for row in rows]


# fine-tuned models --------------------------------------------------------------------
models = fine_tuned_models.c


@dataclass(frozen=True, slots=True)
class FineTunedModel:
    id: str
    org_id: str
    job_id: str
    base_model: str
    path: str
    bytes: int
    created_at: datetime


def add_model(connection: Connection, model: FineTunedModel) -> None:
    if connection.execute(select(models.id).where(models.id == model.id)).first() is None:
        connection.execute(fine_tuned_models.insert().values(**asdict(model)))


def find_model(connection: Connection, org_id: str, model_id: str) -> FineTunedModel | None:
    """The org's fine-tuned model; None when it is another org's or does not exist."""
    query = select(fine_tuned_models).where(models.id == model_id, models.org_id == org_id)
    row = connection.execute(query).one_or_none()
    return None if row is None else FineTunedModel(**row._mapping)


def org_models(connection: Connection, org_id: str) -> list[FineTunedModel]:
    query = select(fine_tuned_models).where(models.org_id == org_id).order_by(models.created_at)
    return [FineTunedModel(**row._mapping) for row in connection.execute(query)]


def delete_model(connection: Connection, org_id: str, model_id: str) -> bool:
    query = delete(fine_tuned_models).where(models.id == model_id, models.org_id == org_id)
    return connection.execute(query).rowcount > 0
