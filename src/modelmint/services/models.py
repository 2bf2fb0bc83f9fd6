"""The models an org may call: the registry's, and its own fine-tunes.

A fine-tuned model (`ft:...`) is a database row the org that trained it alone can see;
another org asking for it gets the same `model_not_found` as for a name that does not
exist. It is loaded on first use, on the same llama.cpp engine (and settings) as its
base, and unloaded once idle, or to make room under `MODELMINT_FINE_TUNED_MEMORY_MB`.
A fine-tune of an embeddings model is a text classifier: a small head file read by
`classifier()`, run on the base model the pool already serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelmint.core.background import Background
from modelmint.core.errors import (
    InvalidRequestError,
    ModelNotFoundError,
    PermissionDeniedError,
    ServerBusyError,
)
from modelmint.core.ids import unix_seconds
from modelmint.runtime.engine import Engine
from modelmint.runtime.linear_head import HeadFileError, LinearHead
from modelmint.runtime.pool import ModelPool, PoolOptions, build_engine
from modelmint.runtime.registry import ModelSpec
from modelmint.services.access import check_model_allowed
from modelmint.store import fine_tuning as rows
from modelmint.store.database import Database
from modelmint.store.fine_tuning import FineTunedModel
from modelmint.tenancy.directory import Account

logger = logging.getLogger(__name__)
CREATED = 1_735_689_600  # registry entries have no creation time; a fixed one keeps output stable
FINE_TUNED = "ft:"
RECONFIRM_SECONDS = 5.0  # a model deleted on another replica answers here at most this long
RETIRE_WAIT_SECONDS = 600.0  # the longest a deleted model's requests are let finish
MAX_HEADS = 256  # classifier heads kept in memory (each a few kB per label)


@dataclass(frozen=True, slots=True)
class FineTunedOptions:
    memory_mb: int = 2048  # GGUF bytes of fine-tunes loaded at once
    idle_seconds: float = 600.0  # a fine-tune unused this long is unloaded
    pool: PoolOptions = PoolOptions()


@dataclass
class _Loaded:
    spec: ModelSpec
    engine: Engine
    bytes: int
    last_used: float = field(default_factory=time.monotonic)
    confirmed: float = field(default_factory=time.monotonic)  # its row last read then

    @property
    def busy(self) -> bool:
        stats = self.engine.stats()
        return stats.running + stats.waiting > 0


class Models:
    def __init__(self, pool: ModelPool, db: Database, options: FineTunedOptions) -> None:
        self.pool = pool
        self.db = db
        self.options = options
        self._loaded: dict[str, _Loaded] = {}
        self._loading = asyncio.Lock()
        self._retiring = Background()  # deleted models finishing their requests
        self._heads: dict[str, LinearHead] = {}  # trained classifiers' heads, by model

    def shipped(self, name: str) -> ModelSpec | None:
        """The registry's entry for `name` without loading it; None for an unknown name."""
        try:
            return self.pool.registry.resolve(name)
        except ModelNotFoundError:
            return None

    async def usable(self, account: Account, name: str) -> tuple[ModelSpec, Engine]:
        """As `get`, for a request the key's model limits apply to: a model it may not use
        is a 403, before a model loaded on first use is loaded for it."""
        if (shipped := self.shipped(name)) is not None:
            check_model_allowed(account.principal, shipped)
        spec, engine = await self.get(account, name)
        check_model_allowed(account.principal, spec)
        return spec, engine

    async def get(self, account: Account, name: str) -> tuple[ModelSpec, Engine]:
        """The spec and engine for `name` as `account` may call it."""
        if not name.startswith(FINE_TUNED):
            return await self.pool.acquire(name)
        loaded = self._loaded.get(name)
        if loaded is None or loaded.spec.owned_by != account.org.id:
            row = await self._row(account, name)
            if _is_classifier(row):
                raise InvalidRequestError(
                    f"{name!r} is a text classifier: call POST /v1/classify with it as "
                    "`model` and without `labels` (it answers the labels it was trained on).",
                    param="model",
                )
            loaded = await self._load(row)
        elif time.monotonic() - loaded.confirmed > RECONFIRM_SECONDS:
            await self._reconfirm(account, loaded)
        loaded.last_used = time.monotonic()
        return loaded.spec, loaded.engine

    async def classifier(
        self, account: Account, name: str
    ) -> tuple[ModelSpec, Engine, LinearHead]:
        """A trained text classifier of `account`'s: the spec it is called and billed by
        (its own name), the engine of its base embeddings model (the one the pool
        serves), and its head."""
        row = await self._row(account, name) if name.startswith(FINE_TUNED) else None
        if row is None or not _is_classifier(row):
            raise InvalidRequestError(
                f"{name!r} is not a text classifier of yours; train one with a fine-tuning "
                "job on an embeddings model, or pass `labels` to classify zero-shot.",
                param="model",
            )
        try:
            base, engine = await self.pool.acquire(row.base_model)
        except ModelNotFoundError:
            raise ModelNotFoundError(
                f"{name!r} was trained on {row.base_model!r}, which this server no longer "
                "serves; train it again on one it does.",
                param="model",
            ) from None
        head = self._heads.get(row.id)
        if head is None:
            try:
                head = await asyncio.to_thread(LinearHead.load, Path(row.path))
            except (HeadFileError, FileNotFoundError) as exc:
                logger.error("classifier %s cannot be read: %s", row.id, exc)
                raise ModelNotFoundError(
                    f"The classifier {name!r} is missing on this server; train it again.",
                    param="model",
                ) from None
            while len(self._heads) >= MAX_HEADS:
                self._heads.pop(next(iter(self._heads)))
            self._heads[row.id] = head
        spec = base.model_copy(
            update={"name": row.id, "aliases": [], "owned_by": row.org_id,
                    "description": f"text classifier trained on {base.name}"}
        )  # fmt: skip
        return spec, engine, head

    async def _reconfirm(self, account: Account, loaded: _Loaded) -> None:
        """A loaded model is answered from memory; its row is read again now and then, so
        one deleted through another replica stops answering here too."""
        try:
            await self._row(account, loaded.spec.name)
        except ModelNotFoundError:
            await self._retire(loaded.spec.name)
            raise
        loaded.confirmed = time.monotonic()

    async def _row(self, account: Account, name: str) -> FineTunedModel:
        row = await self.db.read(rows.find_model, account.org.id, name)
        if row is None:
            raise ModelNotFoundError(
                f"The model {name!r} does not exist or you do not have access to it.",
                param="model",
            )
        return row

    async def _load(self, row: FineTunedModel) -> _Loaded:
        async with self._loading:
            if row.id in self._loaded:
                return self._loaded[row.id]
            await self._make_room(row.bytes)
            spec = self._spec(row)
            engine = build_engine(spec, self.options.pool)
            logger.info("loading fine-tuned model %s", row.id)
            await engine.start()
            self._loaded[row.id] = _Loaded(spec, engine, row.bytes)
            return self._loaded[row.id]

    def _spec(self, row: FineTunedModel) -> ModelSpec:
        base = self.pool.registry.resolve(row.base_model)
        changes = {"name": row.id, "aliases": [], "path": Path(row.path), "package": None}
        changes |= {"file": None, "owned_by": row.org_id}
        return base.model_copy(update=changes | {"description": f"fine-tuned from {base.name}"})

    async def _make_room(self, wanted: int) -> None:
        cap = self.options.memory_mb * 1024 * 1024
        idle = sorted((m for m in self._loaded.values() if not m.busy), key=lambda m: m.last_used)
        while self._loaded and sum(m.bytes for m in self._loaded.values()) + wanted > cap:
            if not idle:
                raise ServerBusyError(
                    "Every fine-tuned model this server has room for is busy; retry shortly."
                )
            await self._unload(idle.pop(0).spec.name)

    async def _unload(self, name: str) -> None:
        loaded = self._loaded.pop(name, None)
        if loaded is not None:
            logger.info("unloading fine-tuned model %s", name)
            await loaded.engine.close()

    async def _retire(self, name: str) -> None:
        """Take `name` out of service: no new requests reach it, and its engine closes
        once the requests it is answering have finished."""
        loaded = self._loaded.pop(name, None)
        if loaded is not None:
            self._retiring.spawn(self._close_when_idle(loaded), f"closing {name}")

    @staticmethod
    async def _close_when_idle(loaded: _Loaded) -> None:
        deadline = time.monotonic() + RETIRE_WAIT_SECONDS
        while loaded.busy and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        logger.info("unloading fine-tuned model %s", loaded.spec.name)
        await loaded.engine.close()

    async def unload_idle(self) -> int:
        """The chore: unload fine-tunes unused for `idle_seconds`; how many."""
        cutoff = time.monotonic() - self.options.idle_seconds
        idle = [n for n, m in self._loaded.items() if m.last_used < cutoff and not m.busy]
        for name in idle:
            await self._unload(name)
        return len(idle)

    def generating(self) -> bool:
        """Whether any engine, shipped or fine-tuned, has a request in hand."""
        engines = [*self.pool.engines.values(), *(m.engine for m in self._loaded.values())]
        return any(s.running + s.waiting > 0 for s in (e.stats() for e in engines))

    async def close(self) -> None:
        for name in list(self._loaded):
            with contextlib.suppress(Exception):
                await self._unload(name)
        await self._retiring.drain()

    # what /v1/models shows ------------------------------------------------------------
    def _object(self, spec: ModelSpec) -> dict[str, Any]:
        engine = self.pool.engines.get(spec.name)
        return {
            "id": spec.name,
            "object": "model",
            "created": CREATED,
            "owned_by": spec.owned_by,
            "aliases": spec.aliases,
            "engine": spec.engine,
            "context_length": spec.context_length,
            "description": spec.description,
            "ready": bool(engine and engine.ready),
        }

    def _fine_tuned_object(self, row: FineTunedModel) -> dict[str, Any]:
        base = self.pool.registry.specs.get(row.base_model)
        return {
            "id": row.id,
            "object": "model",
            "created": unix_seconds(row.created_at),
            "owned_by": row.org_id,
            "aliases": [],
            "engine": "embeddings" if _is_classifier(row) else base.engine if base else "llamacpp",
            "context_length": base.context_length if base else None,
            "description": (
                f"text classifier trained on {row.base_model}"
                if _is_classifier(row)
                else f"fine-tuned from {row.base_model}"
            ),
            "ready": True,  # loaded on first use
        }

    async def list(self, account: Account) -> dict[str, Any]:
        served = [self._object(s) for s in self.pool.registry.specs.values()]
        own = await self.db.read(rows.org_models, account.org.id)
        return {"object": "list", "data": served + [self._fine_tuned_object(r) for r in own]}

    async def retrieve(self, account: Account, name: str) -> dict[str, Any]:
        if name.startswith(FINE_TUNED):
            return self._fine_tuned_object(await self._row(account, name))
        return self._object(self.pool.registry.resolve(name))

    async def delete(self, account: Account, name: str) -> dict[str, Any]:
        """Delete one of the org's fine-tuned models (the shipped ones cannot be)."""
        if not name.startswith(FINE_TUNED):
            self.pool.registry.resolve(name)  # a 404 for names that do not exist
            raise PermissionDeniedError(
                f"The model {name!r} is served from this server's models file and cannot be "
                "deleted through the API; only your fine-tuned models (ft:...) can.",
                param="model",
            )
        row = await self._row(account, name)
        await self.db.write(rows.delete_model, account.org.id, name)
        await self._retire(name)
        self._heads.pop(name, None)
        Path(row.path).unlink(missing_ok=True)
        return {"id": name, "object": "model", "deleted": True}


def _is_classifier(row: FineTunedModel) -> bool:
    """A classifier job writes its head as a `.npz`; a chat fine-tune, a GGUF."""
    return row.path.endswith(".npz")
