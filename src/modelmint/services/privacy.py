"""One request's privacy work, as its organization's policy asks.

`prepare` runs before the budget and the engine: in `block` mode a request holding PII is
refused, in `redact_model` mode the engine's prompts get placeholders. `restorer` gives
each streamed choice its own placeholder restorer; `stored` redacts what is kept on disk.
Detection failing refuses the request (fail closed): raw text never goes through because a
detector broke.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from modelmint.core.errors import InvalidRequestError, ModelmintError
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
            done: set[int] = set()
            for request in requests:
                _redact_in_place(request, self.placeholders, done)

    def restorer(self) -> Restorer | None:
        return self.placeholders.restorer() if self.restores else None

    def stored(self, text: str) -> str:
        """What may be written to disk: redacted unless the policy's mode is off/block."""
        if self.policy.pii_mode in ("redact_storage", "redact_model"):
            return _safe(self.placeholders.redact, text)
        return text


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
