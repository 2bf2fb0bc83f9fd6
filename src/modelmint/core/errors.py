"""Typed errors that carry OpenAI's error `type`, `code`, `param` and an HTTP status.

Every room raises these; the API room turns them into
`{"error": {"message", "type", "param", "code"}}` with `status`.
"""

from __future__ import annotations


class ModelmintError(Exception):
    """Base error. Subclasses fix the HTTP status and OpenAI error type."""

    status: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.headers = headers or {}

    def to_dict(self) -> dict:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequestError(ModelmintError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class UnsupportedParameterError(InvalidRequestError):
    code = "unsupported_parameter"


class ContextLengthExceededError(InvalidRequestError):
    code = "context_length_exceeded"


class AuthenticationError(ModelmintError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDeniedError(ModelmintError):
    status = 403
    type = "permission_error"
    code = "permission_denied"


class NotFoundError(ModelmintError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class ModelNotFoundError(NotFoundError):
    code = "model_not_found"


class PayloadTooLargeError(ModelmintError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class RateLimitError(ModelmintError):
    status = 429
    type = "rate_limit_exceeded"
    code = "rate_limit_exceeded"


class ServerBusyError(RateLimitError):
    """The engine's queue is full; the client should retry after `retry_after` seconds."""

    code = "server_busy"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class ModelNotReadyError(ModelmintError):
    status = 503
    type = "server_error"
    code = "model_not_ready"


class UpstreamError(ModelmintError):
    status = 502
    type = "upstream_error"
    code = "upstream_error"


class EngineError(ModelmintError):
    status = 500
    type = "server_error"
    code = "engine_error"


class StoreUnavailableError(ModelmintError):
    """The database or Redis that admission needs did not answer: retry shortly."""

    status = 503
    type = "server_error"
    code = "service_unavailable"

    def __init__(self, what: str, *, retry_after: int = 5) -> None:
        super().__init__(
            f"The {what} is unavailable right now, so the request could not be admitted "
            f"(nothing was charged). Retry in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )
