"""The SQL tables (SQLAlchemy Core). Migrations in `store/migrations` create exactly these.

Conventions: ids are prefixed strings (`org_`, `key_`, `plan_`, `req_`, `inv_`); times are
naive UTC; money is an integer number of nano-dollars (1e-9 USD), so sums are exact and
fast on every database. A price per million tokens in nanos equals nanos per 1000 tokens.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

metadata = MetaData()

orgs = Table(
    "orgs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    # monthly budgets; NULL means no limit
    Column("spend_limit_nanos", BigInteger),
    Column("token_limit", BigInteger),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("org_id", String(40), ForeignKey("orgs.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    # HMAC-SHA256(server secret, key), hex; the key itself is never stored
    Column("digest", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("scopes", String(100), nullable=False),
    Column("allowed_models", JSON),
    Column("rpm", Integer),
    Column("tpm", Integer),
    Column("spend_limit_nanos", BigInteger),
    Column("token_limit", BigInteger),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime),
    Column("revoked_at", DateTime),
    Column("last_used_at", DateTime),
)

plans = Table(
    "plans",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("monthly_price_nanos", BigInteger, nullable=False),
    Column("included_tokens", BigInteger, nullable=False),
    Column("rpm", Integer, nullable=False),
    Column("tpm", Integer, nullable=False),
    Column("max_concurrent", Integer, nullable=False),
    Column("allowed_models", JSON),
    Column("created_at", DateTime, nullable=False),
)

plan_prices = Table(
    "plan_prices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plan_id", String(40), ForeignKey("plans.id"), nullable=False),
    Column("model", String(256), nullable=False),  # a model name, or "*" for any other
    Column("input_nanos_per_mtok", BigInteger, nullable=False),
    Column("output_nanos_per_mtok", BigInteger, nullable=False),
    # per million trained tokens of a fine-tuning job on this (base) model
    Column("training_nanos_per_mtok", BigInteger, nullable=False, server_default="0"),
    Column("effective_from", DateTime, nullable=False),
    UniqueConstraint("plan_id", "model", "effective_from"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org_id", String(40), ForeignKey("orgs.id"), nullable=False),
    Column("plan_id", String(40), ForeignKey("plans.id"), nullable=False),
    Column("starts_at", DateTime, nullable=False),  # runs until the org's next subscription
    UniqueConstraint("org_id", "starts_at"),
)

usage_counters = Table(
    "usage_counters",
    metadata,
    # an org id or a key id: budgets exist at both levels
    Column("scope_id", String(40), primary_key=True),
    Column("month", String(7), primary_key=True),  # "2026-11"
    Column("tokens", BigInteger, nullable=False, default=0),
    Column("charged_nanos", BigInteger, nullable=False, default=0),
    Column("reserved_tokens", BigInteger, nullable=False, default=0),
    Column("reserved_nanos", BigInteger, nullable=False, default=0),
)

# a request's reservation against its budgets, from `hold` until `settle` or `release`;
# a row past `expires_at` belongs to a request whose replica died or could not settle,
# and is given back by the sweeper. Only requests in flight have rows, so the sweeper's
# scan needs no index, and on SQLite the rows live in the primary key's tree: each
# request writes one tree going in and out, not three
budget_holds = Table(
    "budget_holds",
    metadata,
    Column("request_id", String(40), primary_key=True),
    Column("month", String(7), nullable=False),
    Column("scopes", String(100), nullable=False),  # the org id, then the key id, by commas
    Column("tokens", BigInteger, nullable=False),
    Column("nanos", BigInteger, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    sqlite_with_rowid=False,
)

usage_ledger = Table(
    "usage_ledger",
    metadata,
    Column("request_id", String(40), primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Column("org_id", String(40), nullable=False),
    Column("key_id", String(40)),
    Column("model", String(256), nullable=False),
    Column("endpoint", String(40), nullable=False),
    Column("status", String(16), nullable=False),  # ok | cancelled | error
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("ttft_ms", Float),
    Column("compute_seconds", Float, nullable=False),
    Column("price_nanos", BigInteger, nullable=False),
    Column("cost_nanos", BigInteger, nullable=False),
    # covers the monthly per-model aggregation without touching the table rows
    Index(
        "ix_ledger_org_time",
        "org_id",
        "created_at",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "price_nanos",
        "cost_nanos",
        "compute_seconds",
    ),
)

invoices = Table(
    "invoices",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("org_id", String(40), ForeignKey("orgs.id"), nullable=False),
    Column("month", String(7), nullable=False),
    Column("status", String(16), nullable=False),  # draft | final
    Column("total_cents", BigInteger, nullable=False),
    Column("lines", JSON, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("finalized_at", DateTime),
    UniqueConstraint("org_id", "month"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("actor", String(40), nullable=False),  # a key id, or "cli"
    Column("action", String(60), nullable=False),
    Column("target", String(60)),
    Column("detail", JSON),
)

privacy_policies = Table(
    "privacy_policies",
    metadata,
    Column("org_id", String(40), ForeignKey("orgs.id"), primary_key=True),
    Column("store_bodies", Boolean, nullable=False),
    Column("pii_mode", String(20), nullable=False),  # off | redact_storage | redact_model | block
    Column("retention_days", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

# request and response bodies, only for orgs whose policy stores them; always encrypted
request_bodies = Table(
    "request_bodies",
    metadata,
    Column("request_id", String(40), primary_key=True),
    Column("org_id", String(40), nullable=False, index=True),
    Column("created_at", DateTime, nullable=False, index=True),
    Column("key_id", String(40), nullable=False),  # the encryption key's id
    Column("request_blob", LargeBinary, nullable=False),
    Column("response_blob", LargeBinary, nullable=False),
)

# bumped whenever keys, orgs or plans change, so every replica drops its caches
revisions = Table(
    "revisions",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# uploaded files (OpenAI's /v1/files); their bytes live encrypted in the data dir's
# files/ folder (privacy/vault.py), these rows say whose they are and what they hold
files = Table(
    "files",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("org_id", String(40), ForeignKey("orgs.id"), nullable=False),
    Column("filename", String(512), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("key_id", String(40), nullable=False),  # the encryption key's id
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime),
    # an org's list, newest first, by purpose: the listing reads this index alone
    Index("ix_files_org_created", "org_id", "created_at", "id"),
)

# fine-tuning jobs (OpenAI's /v1/fine_tuning/jobs). The rows are also the work queue: a
# worker claims a job by setting `worker_id` and `lease_until` in one conditional UPDATE,
# renews the lease while it works, and a job whose lease ran out is claimed again
fine_tuning_jobs = Table(
    "fine_tuning_jobs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("org_id", String(40), ForeignKey("orgs.id"), nullable=False),
    Column("key_id", String(40)),  # the key that created it: its budget is held and billed
    Column("model", String(256), nullable=False),  # the base model
    Column("training_file", String(40), nullable=False),
    Column("validation_file", String(40)),
    Column("suffix", String(64)),
    Column("seed", BigInteger, nullable=False),
    # as asked (numbers or "auto"); once the job runs, with the recipe's choices for "auto"
    Column("hyperparameters", JSON, nullable=False),
    Column("metadata", JSON),
    # validating_files | queued | running | succeeded | failed | cancelled
    Column("status", String(20), nullable=False),
    Column("error", JSON),
    Column("output_model", String(256), nullable=False),  # the name the model will have
    Column("fine_tuned_model", String(256)),  # set when the job has succeeded
    Column("trained_tokens", BigInteger),
    Column("estimated_finish", DateTime),
    Column("result_files", JSON, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("worker_id", String(80)),
    Column("lease_until", DateTime),
    Column("cancel_requested", Boolean, nullable=False),
    Column("attempts", Integer, nullable=False),
    Index("ix_ft_jobs_org_created", "org_id", "created_at", "id"),
    Index("ix_ft_jobs_status", "status", "created_at"),
)

fine_tuning_events = Table(
    "fine_tuning_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),  # the events' order
    Column("id", String(40), nullable=False, unique=True),
    Column("job_id", String(40), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("level", String(8), nullable=False),  # info | warn | error
    Column("type", String(8), nullable=False),  # message | metrics
    Column("message", String(2000), nullable=False),
    Column("data", JSON),
    Index("ix_ft_events_job", "job_id", "seq"),
)

fine_tuning_checkpoints = Table(
    "fine_tuning_checkpoints",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("job_id", String(40), nullable=False),
    Column("step", Integer, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("job_id", "step"),
)

# models trained here, each visible only to the org that trained it; the server learns of
# them from these rows and loads one on first use
fine_tuned_models = Table(
    "fine_tuned_models",
    metadata,
    Column("id", String(256), primary_key=True),  # ft:{base}:{org}:{suffix}:{job}
    Column("org_id", String(40), ForeignKey("orgs.id"), nullable=False, index=True),
    Column("job_id", String(40), nullable=False),
    Column("base_model", String(256), nullable=False),
    Column("path", String(1024), nullable=False),  # the GGUF
    Column("bytes", BigInteger, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

# vector stores (OpenAI's /v1/vector_stores): an org's knowledge bases. `revision` grows
# whenever the set of searchable chunks changes, so each replica knows when the index it
# holds in memory is out of date
vector_stores = Table(
    "vector_stores",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("org_id", String(40), ForeignKey("orgs.id"), nullable=False),
    Column("name", String(256)),
    Column("description", String(512)),
    Column("metadata", JSON),
    Column("embedding_model", String(256), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_active_at", DateTime, nullable=False),
    Column("expires_after_days", Integer),  # anchored at last_active_at
    Column("revision", BigInteger, nullable=False),
    Index("ix_vector_stores_org_created", "org_id", "created_at", "id"),
)

# a file in a vector store, and its ingestion: the rows are also the work queue (a
# replica claims a file with a lease, renews it while it works, and a file whose lease
# ran out is claimed again by any replica)
vector_store_files = Table(
    "vector_store_files",
    metadata,
    Column("vector_store_id", String(40), primary_key=True),
    Column("file_id", String(40), primary_key=True),
    Column("org_id", String(40), nullable=False),
    Column("key_id", String(40)),  # the key that added it: ingestion is billed to it
    Column("status", String(20), nullable=False),  # in_progress | completed | failed | cancelled
    Column("last_error", JSON),  # {"code", "message"}
    Column("chunking", JSON, nullable=False),  # the static strategy used
    Column("attributes", JSON),
    Column("usage_bytes", BigInteger, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("lease_until", DateTime),
    Index("ix_vs_files_store_created", "vector_store_id", "created_at", "file_id"),
    Index("ix_vs_files_status", "status", "lease_until"),
)

# files added to a store together (OpenAI's file batches): the batch's status and counts
# are those of its files' rows
vector_store_file_batches = Table(
    "vector_store_file_batches",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("vector_store_id", String(40), nullable=False, index=True),
    Column("org_id", String(40), nullable=False),
    Column("file_ids", JSON, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("cancelled", Boolean, nullable=False),
)

# the chunks of a vector store's files: text and BM25 terms encrypted together (the
# vault's keys), the embedding as little-endian float32 bytes
knowledge_chunks = Table(
    "knowledge_chunks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("vector_store_id", String(40), nullable=False),
    Column("file_id", String(40), nullable=False),
    Column("position", Integer, nullable=False),
    Column("tokens", Integer, nullable=False),
    Column("key_id", String(40), nullable=False),
    Column("content_blob", LargeBinary, nullable=False),
    Column("embedding", LargeBinary, nullable=False),
    Index("ix_chunks_store", "vector_store_id", "id"),
    Index("ix_chunks_file", "vector_store_id", "file_id"),
)

# conversations (OpenAI's /v1/conversations) and their items, each item encrypted and
# redacted as the org's privacy policy asks; purged by retention, erased with the org
conversations = Table(
    "conversations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org_id", String(40), ForeignKey("orgs.id"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("metadata", JSON),
    Index("ix_conversations_org", "org_id", "created_at"),
)

conversation_items = Table(
    "conversation_items",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),  # the items' order
    Column("id", String(64), nullable=False, unique=True),
    Column("conversation_id", String(64), nullable=False),
    Column("org_id", String(40), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("key_id", String(40), nullable=False),
    Column("item_blob", LargeBinary, nullable=False),
    Index("ix_conversation_items", "conversation_id", "seq"),
)

# stored responses (OpenAI's /v1/responses with store=true): the response object and
# the messages it answered, encrypted, for GET and for `previous_response_id`
stored_responses = Table(
    "stored_responses",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org_id", String(40), ForeignKey("orgs.id"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("key_id", String(40), nullable=False),
    Column("response_blob", LargeBinary, nullable=False),
    Index("ix_stored_responses_org", "org_id", "created_at"),
)

# what an org (user NULL) or one of its end users (`user` / `safety_identifier`) wants
# by default from the task endpoints: instructions and an answer language
personalization = Table(
    "personalization",
    metadata,
    Column("org_id", String(40), ForeignKey("orgs.id"), primary_key=True),
    Column("user", String(256), primary_key=True),  # "" for the whole org
    Column("instructions", String(4000)),
    Column("language", String(8)),
    Column("updated_at", DateTime, nullable=False),
)
