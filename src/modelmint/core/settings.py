"""Process settings: flags > `MODELMINT_*` environment > TOML config file > defaults.

`MODELMINT_DATA_DIR` says where all state lives. Settings are built once by the caller
(CLI or tests) and handed to `create_app(settings)`; nothing reads them at import time.
"""

from __future__ import annotations

import ipaddress
import os
from decimal import Decimal
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _default_threads() -> int:
    return max(1, os.cpu_count() or 1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODELMINT_", extra="ignore")

    data_dir: Path = Field(default=Path.home() / ".modelmint", description="Where all state lives.")
    config_file: Path | None = Field(
        default=None, description="TOML file with settings (keys as in this class)."
    )
    models_file: Path | None = Field(
        default=None, description="TOML models registry; the built-in defaults when unset."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    threads: int = Field(default_factory=_default_threads, ge=1, le=256)
    max_queue: int = Field(
        default=64, ge=0, description="Requests that may wait for a free slot before 429."
    )
    max_body_bytes: int = Field(
        default=2 * 1024 * 1024, ge=1024, description="Largest accepted request body."
    )
    files_dir: Path | None = Field(
        default=None,
        description="Where uploaded files are kept, encrypted (default: files/ in the data "
        "dir); replicas that share uploads need a shared folder here.",
    )
    max_file_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=1024,
        le=1 << 40,
        description="Largest file accepted by POST /v1/files (OpenAI's limit: 512 MB).",
    )
    max_org_files_bytes: int = Field(
        default=10 * 1024**3,
        ge=1024,
        le=1 << 50,
        description="The most an organization's files may hold together.",
    )
    # knowledge bases
    knowledge_embedding_model: str = Field(
        default="text-embedding-default",
        description="The embeddings model new vector stores use (a registry name or alias).",
    )
    knowledge_cache_chunks: int = Field(
        default=500_000,
        ge=1,
        description="Chunks of vector stores each replica holds in its in-memory search "
        "indexes (the least recently searched stores are dropped past this; about 2 KB of "
        "RAM per chunk with 384-dimension embeddings).",
    )
    # fine-tuning
    worker: bool = Field(
        default=True,
        description="`modelmint serve` also runs one fine-tuning worker, as a process of "
        "low priority beside the server (--no-worker: jobs wait for `modelmint worker`).",
    )
    worker_threads: int = Field(
        default=1, ge=1, le=256, description="Threads a fine-tuning worker trains on."
    )
    worker_lease_seconds: float = Field(
        default=30,
        ge=2,
        le=3600,
        description="A worker that stops renewing its job's lease this long loses the job "
        "to another worker, which resumes it from its last checkpoint.",
    )
    fine_tune_checkpoint_every: int = Field(
        default=10, ge=1, description="Optimizer steps between a job's checkpoints."
    )
    fine_tune_quant: str = Field(
        default="base",
        description="How fine-tuned models are quantized: base (the base model's own types "
        "and speed, the steps chosen by GPTQ) or a llama.cpp type (Q8_0, Q4_K_M, F16...).",
    )
    fine_tune_replay: float = Field(
        default=1.0,
        ge=0,
        le=4,
        description="Examples of the base model's own answers mixed into a fine-tune per "
        "customer example, so it keeps what the base knew (0: none). Not billed.",
    )
    fine_tune_quality_set: Path | None = Field(
        default=None,
        description="The questions every job's evaluation asks the base and the fine-tuned "
        "model (JSONL; default: the shipped general quality set).",
    )
    fine_tuned_memory_mb: int = Field(
        default=2048, ge=1, description="Fine-tuned models loaded at once, in MB of GGUF."
    )
    fine_tuned_idle_seconds: float = Field(
        default=600, ge=0, description="A fine-tuned model unused this long is unloaded."
    )
    load_models: list[str] | None = Field(
        default=None, description="Only load these registry names (all when unset)."
    )
    log_level: str = "info"
    # business layer
    auth: bool = Field(
        default=True, description="Require API keys; off (--no-auth) only on loopback."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db; "
        "a SQLite file in the data dir when unset.",
    )
    redis_url: str | None = Field(
        default=None, description="Share rate limits across replicas through this Redis."
    )
    redis_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="A Redis connect or reply slower than this fails the request with 503 "
        "(background give-backs and renewals retry later) instead of stalling it.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Secret that API keys are HMAC'd with; every replica needs the same. "
        "Generated into the data dir when unset.",
    )
    encryption_keys: SecretStr | None = Field(
        default=None,
        description='Keys for stored bodies, JSON {"id": "<base64 of 32 bytes>"}; the last '
        "encrypts. Generated into the data dir when unset.",
    )
    purge_interval_seconds: float = Field(
        default=3600, ge=0, description="How often stored bodies past retention are deleted."
    )
    hold_timeout_seconds: float = Field(
        default=3600,
        gt=0,
        description="A request's budget hold not settled after this long is given back "
        "(its replica died or could not reach the database). Longer than any request runs.",
    )
    hold_sweep_interval_seconds: float = Field(
        default=60, ge=0, description="How often expired budget holds are given back (0: never)."
    )
    usage_ledger: bool = Field(default=True, description="Record every request's usage.")
    engine_cost_per_hour: dict[str, Decimal] = Field(
        default_factory=dict,
        description="What an hour of each model's engine costs to run, in USD.",
    )
    default_engine_cost_per_hour: Decimal = Field(
        default=Decimal("0.05"), ge=0, description="The hourly cost of engines not listed."
    )

    @model_validator(mode="after")
    def _no_open_server_without_auth(self) -> Settings:
        if not self.auth and not _is_loopback(self.host):
            raise ValueError(
                f"auth is off, so the server must bind a loopback address, not {self.host!r}; "
                "turn auth on (create a key with `modelmint admin init`) or use --host 127.0.0.1"
            )
        return self

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'modelmint.db'}"

    def resolved_files_dir(self) -> Path:
        return self.files_dir or self.data_dir / "files"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file_from(init_settings, env_settings)
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _config_file_from(*sources: PydanticBaseSettingsSource) -> Path | None:
    for source in sources:
        value = source().get("config_file")
        if value:
            path = Path(value)
            if not path.is_file():
                raise FileNotFoundError(
                    f"config file {path} does not exist; create it or unset MODELMINT_CONFIG_FILE"
                )
            return path
    return None
