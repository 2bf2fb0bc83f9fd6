"""The shapes of every JSON answer, as pydantic models for the OpenAPI document.

The OpenAI ones follow the `openai` SDK's types (chat.completion and its chunk,
text_completion, the embeddings list, model, error), narrowed to what modelmint sends:
e.g. `finish_reason` is only ever "stop" or "length". The others mirror, field for field
and in the same order, the dicts that health, readiness and `services.admin` return.
Unknown fields are forbidden, so an answer that grows a field its model lacks fails the
contract test instead of going undocumented.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FinishReason = Literal["stop", "length"]
# a stored time as the answers write it: ISO 8601 in UTC with its Z
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


# errors


class ErrorDetail(Shape):
    message: str
    type: str = Field(description="e.g. invalid_request_error, authentication_error")
    param: str | None = Field(description="The request field at fault, when there is one")
    code: str | None = Field(description="e.g. invalid_request, not_found, missing_scope")


class ErrorResponse(Shape):
    """OpenAI's error body; every 4xx and 5xx answer has this shape."""

    error: ErrorDetail


# usage and log-probabilities


class PromptTokensDetails(Shape):
    cached_tokens: int = Field(description="Prompt tokens whose KV cache was reused")


class CompletionUsage(Shape):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails


class TopLogprob(Shape):
    token: str
    logprob: float
    bytes: list[int] | None


class TokenLogprob(Shape):
    token: str
    logprob: float
    bytes: list[int] | None
    top_logprobs: list[TopLogprob]


class ChoiceLogprobs(Shape):
    content: list[TokenLogprob] | None
    refusal: list[TokenLogprob] | None


# chat completions


class ChatCompletionMessage(Shape):
    role: Literal["assistant"]
    content: str | None
    refusal: str | None


class ChatChoice(Shape):
    index: int
    message: ChatCompletionMessage
    logprobs: ChoiceLogprobs | None
    finish_reason: FinishReason


class ChatCompletion(Shape):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    system_fingerprint: str | None
    choices: list[ChatChoice]
    usage: CompletionUsage


class ChoiceDelta(Shape):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChatChunkChoice(Shape):
    index: int
    delta: ChoiceDelta
    logprobs: ChoiceLogprobs | None
    finish_reason: FinishReason | None


class ChatCompletionChunk(Shape):
    """One `data:` event of a streamed chat completion; `[DONE]` ends the stream."""

    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    system_fingerprint: str | None
    choices: list[ChatChunkChoice]
    usage: CompletionUsage | None = Field(
        default=None, description="Only with stream_options.include_usage; set on the last"
    )


# text completions


class CompletionLogprobs(Shape):
    tokens: list[str]
    token_logprobs: list[float]
    top_logprobs: list[dict[str, float]]
    text_offset: list[int]


class CompletionChoice(Shape):
    index: int
    text: str
    logprobs: CompletionLogprobs | None
    finish_reason: FinishReason


class TextCompletion(Shape):
    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    system_fingerprint: str | None
    choices: list[CompletionChoice]
    usage: CompletionUsage


class CompletionChunkChoice(CompletionChoice):
    finish_reason: FinishReason | None


class TextCompletionChunk(Shape):
    """One `data:` event of a streamed text completion; `[DONE]` ends the stream."""

    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    system_fingerprint: str | None
    choices: list[CompletionChunkChoice]
    usage: CompletionUsage | None = Field(
        description="Only with stream_options.include_usage, on the last event"
    )


# embeddings and models


class Embedding(Shape):
    object: Literal["embedding"]
    index: int
    embedding: list[float] | str = Field(
        description="Floats, or base64 of little-endian float32 with encoding_format=base64"
    )


class EmbeddingUsage(Shape):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(Shape):
    object: Literal["list"]
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage


class Model(Shape):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str
    aliases: list[str]
    engine: str
    context_length: int
    description: str
    ready: bool = Field(description="Loaded and answering")


class ModelList(Shape):
    object: Literal["list"]
    data: list[Model]


# files


class FileObject(Shape):
    id: str
    object: Literal["file"]
    bytes: int
    created_at: int = Field(description="Unix seconds")
    expires_at: int | None = Field(description="Unix seconds; null: kept until deleted")
    filename: str
    purpose: str
    status: Literal["processed"]
    status_details: None


class FileList(Shape):
    object: Literal["list"]
    data: list[FileObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


class FileDeleted(Shape):
    id: str
    object: Literal["file"]
    deleted: Literal[True]


class ModelDeleted(Shape):
    id: str
    object: Literal["model"]
    deleted: Literal[True]


# fine-tuning

Auto = Literal["auto"]


class JobError(Shape):
    code: str
    message: str
    param: str | None


class JobHyperparameters(Shape):
    n_epochs: Auto | int
    batch_size: Auto | int
    learning_rate_multiplier: Auto | float


class SupervisedMethod(Shape):
    hyperparameters: JobHyperparameters


class JobMethod(Shape):
    type: Literal["supervised"]
    supervised: SupervisedMethod


class FineTuningJob(Shape):
    id: str
    object: Literal["fine_tuning.job"]
    created_at: int
    error: JobError | None
    fine_tuned_model: str | None
    finished_at: int | None
    hyperparameters: JobHyperparameters
    model: str
    organization_id: str
    result_files: list[str]
    seed: int
    status: Literal["validating_files", "queued", "running", "succeeded", "failed", "cancelled"]
    trained_tokens: int | None
    training_file: str
    validation_file: str | None
    estimated_finish: int | None
    integrations: list[dict[str, Any]]
    metadata: dict[str, str] | None
    method: JobMethod
    user_provided_suffix: str | None


class FineTuningJobList(Shape):
    object: Literal["list"]
    data: list[FineTuningJob]
    has_more: bool


class FineTuningJobEvent(Shape):
    id: str
    object: Literal["fine_tuning.job.event"]
    created_at: int
    level: Literal["info", "warn", "error"]
    message: str
    data: dict[str, Any]
    type: Literal["message", "metrics"]


class FineTuningJobEventList(Shape):
    object: Literal["list"]
    data: list[FineTuningJobEvent]
    has_more: bool


class FineTuningJobCheckpoint(Shape):
    id: str
    object: Literal["fine_tuning.job.checkpoint"]
    created_at: int
    fine_tuned_model_checkpoint: str
    fine_tuning_job_id: str
    metrics: dict[str, float | None]
    step_number: int


class FineTuningJobCheckpointList(Shape):
    object: Literal["list"]
    data: list[FineTuningJobCheckpoint]
    first_id: str | None
    last_id: str | None
    has_more: bool


# operations


class Health(Shape):
    status: Literal["ok"]


class Readiness(Shape):
    """200 once every configured model is loaded, 503 ("loading") until then."""

    status: Literal["ready", "loading"]
    models: dict[str, bool] = Field(description="Each model's name and whether it is loaded")


# admin: orgs, plans, subscriptions


class Organization(Shape):
    id: str
    name: str
    created_at: Timestamp
    spend_limit_nanos: int | None = Field(description="USD per month, in nano-dollars")
    token_limit: int | None


class OrganizationOnPlan(Organization):
    plan: str | None = Field(description="The current plan's name; none before it starts")


class OrganizationList(Shape):
    data: list[OrganizationOnPlan]


class Plan(Shape):
    id: str
    name: str
    monthly_price_nanos: int
    included_tokens: int
    rpm: int
    tpm: int
    max_concurrent: int
    allowed_models: list[str] | None = Field(description="Every model when none")
    monthly_price: str = Field(description='USD per month for people, e.g. "$20.00"')


class PlanList(Shape):
    data: list[Plan]


class PriceChanged(Shape):
    plan: str = Field(description="The plan's id")
    model: str
    effective_from: Timestamp


class Subscription(Shape):
    org_id: str
    plan: str = Field(description="The plan's name")
    starts_at: Timestamp


# admin: keys


class ApiKey(Shape):
    id: str
    org_id: str
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it")
    scopes: list[str]
    allowed_models: list[str] | None
    rpm: int | None
    tpm: int | None
    spend_limit_nanos: int | None
    token_limit: int | None
    created_at: Timestamp
    expires_at: Timestamp | None
    revoked_at: Timestamp | None
    last_used_at: Timestamp | None


class NewApiKey(ApiKey):
    key: str = Field(description="The key itself (mm-...), shown this once and never again")


class ApiKeyList(Shape):
    data: list[ApiKey]


# admin: usage and invoices


class UsageRow(Shape):
    group: str | None = Field(description="The model, org id or key id (none without a key)")
    requests: int
    prompt_tokens: int
    completion_tokens: int
    revenue_nanos: int
    cost_nanos: int
    margin_nanos: int
    margin_ratio: str | None = Field(description="Margin over revenue; none without revenue")
    compute_seconds: float


class UsageReport(Shape):
    month: str = Field(description="YYYY-MM")
    by: Literal["model", "org", "key"]
    org_id: str | None
    rows: list[UsageRow] = Field(description="Biggest revenue first")


class InvoiceLine(Shape):
    kind: Literal["subscription", "usage"]
    description: str
    quantity: str
    amount_cents: int
    amount: str = Field(description='USD, e.g. "12.34"')


class Invoice(Shape):
    id: str
    org_id: str
    month: str = Field(description="YYYY-MM")
    status: Literal["draft", "final"]
    currency: Literal["usd"]
    total: str = Field(description='USD, e.g. "12.34"')
    total_cents: int
    lines: list[InvoiceLine]
    rounding: str = Field(description="How lines and the total are rounded")
    created_at: Timestamp
    finalized_at: Timestamp | None


# admin: privacy


class PrivacyPolicy(Shape):
    org_id: str
    store_bodies: bool
    pii_mode: Literal["off", "redact_storage", "redact_model", "block"]
    retention_days: int


class PrivacyStatus(PrivacyPolicy):
    stored: int = Field(description="Request bodies stored for the org now")


class BodiesErased(Shape):
    org_id: str
    erased: int
    conversations_erased: int = Field(
        description="Rows of conversations, their items and stored responses erased"
    )


class Personalization(Shape):
    user: str
    instructions: str | None
    language: Literal["zh", "en"] | None


class PersonalizationSet(Personalization):
    org_id: str


class PersonalizationList(Shape):
    org_id: str
    data: list[Personalization]


class BodiesPurged(Shape):
    purged: int


class KeysRotated(Shape):
    active_key: str = Field(description="The id of the encryption key now in use")
    reencrypted: int = Field(description="Stored bodies encrypted again")
    conversation_rows: int = Field(description="Conversation items and stored responses")
    chunks: int = Field(description="Knowledge base chunks")
