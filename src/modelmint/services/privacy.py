"""One request's privacy work, as its organization's policy asks.

`prepare` runs before the budget and the engine: in `block` mode a request holding PII is
refused, in `redact_model` mode the engine's prompts get placeholders. `restorer` gives
each streamed choice its own placeholder restorer; `stored` redacts what is kept on disk.
Detection failing refuses the request (fail closed): raw text never goes through because a
detector broke.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from modelmint.core.errors import InvalidRequestError, ModelmintError, UnsupportedParameterError
from modelmint.privacy.detect import detect
from modelmint.privacy.placeholders import Placeholders, Restorer
from modelmint.privacy.policy import PrivacyPolicy
from modelmint.runtime.engine import GenerationRequest

logger = logging.getLogger(__name__)


class PrivacyCheckError(ModelmintError):
    status = 503
    type = "server_error"
    code = "pii_check_failed"


class PiiDetectedError(InvalidRequestError):
    code = "pii_detected"


class RequestPrivacy:
    def __init__(self, policy: PrivacyPolicy) -> None:
        self.policy = policy
        self.placeholders = Placeholders()

    @property
    def restores(self) -> bool:
        return self.policy.pii_mode == "redact_model"

    def prepare(self, requests: list[GenerationRequest], param: str) -> None:
        mode = self.policy.pii_mode
        if mode == "block":
            found = sorted(
                {e.type for r in requests for text in _texts(r) for e in _safe(detect, text)}
            )
            if found:
                raise PiiDetectedError(
                    f"The request contains personal data ({', '.join(found)}), which this "
                    "organization's privacy policy refuses. Remove it, or ask an admin to "
                    "change the policy.",
                    param=param,
                )
        elif mode == "redact_model":
            if any(request.params.logprobs for request in requests):
                raise UnsupportedParameterError(
                    "logprobs are not available to this organization: its privacy policy "
                    "(redact_model) has the model see placeholders, whose tokens are not the "
                    "text you get back. Drop logprobs.",
                    param="logprobs",
                )
            done: set[int] = set()
            for request in requests:
                _redact_in_place(request, self.placeholders, done)

    def restorer(self) -> Restorer | None:
        return self.placeholders.restorer() if self.restores else None

    @property
    def redacts_storage(self) -> bool:
        return self.policy.pii_mode in ("redact_storage", "redact_model")

    def stored(self, value: Any) -> str:
        """JSON of what may be written to disk: every string in it redacted (before JSON
        escapes hide a value behind a `\\n`) unless the mode is off or block."""
        if self.redacts_storage:
            value = _map_strings(value, lambda text: _safe(self.placeholders.redact, text))
        return json.dumps(value, ensure_ascii=False)


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {key: _map_strings(item, fn) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_strings(item, fn) for item in value]
    return value


def _texts(request: GenerationRequest) -> list[str]:
    if request.messages is not None:
        return [str(m.get("content") or "") for m in request.messages]
    return [request.prompt or ""]


def _redact_in_place(request: GenerationRequest, placeholders: Placeholders, done: set[int]):
    if request.messages is not None:
        if id(request.messages) in done:  # the choices of one chat share their messages
            return
        done.add(id(request.messages))
        for message in request.messages:
            message["content"] = _safe(placeholders.redact, str(message.get("content") or ""))
    else:
        request.prompt = _safe(placeholders.redact, request.prompt or "")


def _safe(fn: Callable, text: str):
    try:
        return fn(text)
    except Exception as exc:
        logger.error("PII detection failed (%s); the request is refused", type(exc).__name__)
        raise PrivacyCheckError(
            "The privacy check failed, so the request was refused rather than passed on "
            "unchecked. Retry; if it persists, tell the operator."
        ) from exc
