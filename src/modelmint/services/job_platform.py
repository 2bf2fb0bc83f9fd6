"""What a fine-tuning worker's jobs get from the platform (`training.worker.JobPlatform`):
the base model and where the job works, its files, its budget hold and its one ledger
row (endpoint `fine_tuning`, trained tokens at the plan's fine-tuning price, the worker's
compute seconds as its cost), its result files and the registry row of its model.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from modelmint.billing.money import format_usd
from modelmint.core.ids import utcnow
from modelmint.core.types import Usage
from modelmint.privacy.policy import get_policy
from modelmint.runtime.hf.export import export_gguf
from modelmint.runtime.registry import ModelSpec, Registry
from modelmint.services.context import Endpoint, Estimate, RequestContext, Status, Ticket, Used
from modelmint.services.owners import owner_account
from modelmint.services.platform import Platform
from modelmint.store import files as file_rows
from modelmint.store import fine_tuning as rows
from modelmint.store.files import FileRecord
from modelmint.store.fine_tuning import FineTunedModel, JobRecord
from modelmint.tenancy.directory import Account
from modelmint.training.classifier_job import ClassifierSetup
from modelmint.training.fine_tune import JobSetup, QualityCache
from modelmint.training.worker import WorkerOptions

RESULTS_PURPOSE = "fine-tune-results"


def _digest(spec: ModelSpec) -> str:
    """What the base's replay answers depend on besides its weights."""
    served = f"{spec.default_system_prompt}|{spec.defaults.get('repeat_penalty', 1.0)}"
    return hashlib.sha256(served.encode()).hexdigest()[:12]


class JobServices:
    def __init__(self, platform: Platform, registry: Registry, data_dir: Path) -> None:
        self.platform = platform
        self.registry = registry
        self.root = data_dir / "fine_tuning"
        self.models_dir = data_dir / "fine_tuned"
        self.quality = QualityCache()  # the base's score, measured once per worker
        self._tickets: dict[str, Ticket] = {}

    @property
    def db(self):
        return self.platform.infra.db

    async def setup(self, job: JobRecord, options: WorkerOptions) -> JobSetup | ClassifierSetup:
        spec = self.registry.resolve(job.model)
        if spec.engine == "embeddings":
            return await self._classifier_setup(job, spec)
        base_dir = await asyncio.to_thread(self._base_checkpoint, spec)
        policy = await self.db.read(get_policy, job.org_id)
        return JobSetup(
            base_gguf=await asyncio.to_thread(spec.weights_path),  # may assemble pieces
            base_checkpoint=base_dir,
            context_length=spec.context_length,
            work_dir=self.root / "jobs" / job.id,
            model_path=self._model_path(job, ".gguf"),
            model_name=job.output_model,
            system_prompt=spec.default_system_prompt,
            repeat_penalty=float(spec.defaults.get("repeat_penalty", 1.0)),
            quality_set=options.quality_set,
            pii_mode=policy.pii_mode,
            replay=options.replay,
            replay_cache=base_dir / f"replay-{_digest(spec)}.json",
            quant=options.quant,
            checkpoint_every=options.checkpoint_every,
            quality=self.quality,
        )

    async def _classifier_setup(self, job: JobRecord, spec: ModelSpec) -> ClassifierSetup:
        """An embeddings model's job: a text classifier on it (training/classifier_job.py)."""
        policy = await self.db.read(get_policy, job.org_id)
        return ClassifierSetup(
            encoder_path=await asyncio.to_thread(spec.weights_path),
            model_path=self._model_path(job, ".npz"),
            model_name=job.output_model,
            gloss_chinese=not spec.reads("zh"),
            pii_mode=policy.pii_mode,
        )

    def _model_path(self, job: JobRecord, suffix: str) -> Path:
        """Where the job's model is written (its folder made); the suffix says its kind."""
        path = self.models_dir / job.org_id / f"{job.id}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _base_checkpoint(self, spec: ModelSpec) -> Path:
        """The base model as a Hugging Face folder, exported once per machine."""
        folder = self.root / "base" / spec.name
        if (folder / "config.json").exists():
            return folder
        scratch = folder.with_name(f".{spec.name}-{secrets.token_hex(4)}")
        export_gguf(spec.weights_path(), scratch)
        try:
            scratch.rename(folder)
        except OSError:  # another worker here exported it first
            shutil.rmtree(scratch, ignore_errors=True)
        return folder

    async def open_file(self, job: JobRecord, file_id: str) -> Iterator[bytes]:
        record = await self.db.read(file_rows.find_file, job.org_id, file_id)
        if record is None:
            return iter(())  # deleted since the job was created: read as empty, so it fails
        return self.platform.infra.vault.read(record.org_id, record.id, record.key_id)

    async def _account(self, job: JobRecord) -> Account:
        return await owner_account(self.db, job.org_id, job.key_id, "fine_tune")

    async def hold(self, job: JobRecord, worst_tokens: int) -> str:
        context = RequestContext(await self._account(job), job.id, Endpoint.FINE_TUNING, job.model)
        ticket = await self.platform.metering.admit_job(context, Estimate(worst_tokens))
        self._tickets[job.id] = ticket
        cost = format_usd(ticket.worst.price(ticket.price), 4)
        return (
            f"Estimated cost: up to {cost} for {worst_tokens} trained tokens "
            "(the examples' tokens, times the epochs for a chat model), held against your "
            "budgets."
        )

    async def bill(
        self, job: JobRecord, trained_tokens: int, seconds: float, cancelled: bool
    ) -> None:
        ticket = self._tickets.pop(job.id, None)
        if ticket is None:  # nothing was held, so nothing was trained
            return
        used = Used(Usage(min(trained_tokens, ticket.worst.input_tokens), 0), seconds)
        status = Status.CANCELLED if cancelled else Status.OK
        await self.platform.metering.settle_job(ticket, used, status)

    async def release(self, job: JobRecord) -> None:
        ticket = self._tickets.pop(job.id, None)
        if ticket is not None:
            await self.platform.metering.settle_job(ticket, Used(), Status.ERROR)

    async def save_result(self, job: JobRecord, filename: str, content: bytes) -> str:
        file_id = "file-" + secrets.token_hex(12)
        vault = self.platform.infra.vault
        sealed = await asyncio.to_thread(
            vault.write, job.org_id, file_id, io.BytesIO(content), len(content) + 1
        )
        record = FileRecord(
            file_id, job.org_id, filename, RESULTS_PURPOSE, sealed.bytes, sealed.sha256,
            sealed.key_id, utcnow(), None,
        )  # fmt: skip
        await self.db.write(file_rows.add_file, record)
        return file_id

    async def register(self, job: JobRecord, model_id: str, path: Path) -> None:
        model = FineTunedModel(
            model_id, job.org_id, job.id, job.model, str(path), path.stat().st_size, utcnow()
        )
        await self.db.write(rows.add_model, model)
