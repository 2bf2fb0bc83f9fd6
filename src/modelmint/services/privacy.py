"""One request's privacy work, as its organization's policy asks.

`redacted` runs before the budget and the engine: in `block` mode a request holding PII is
refused, in `redact_model` mode the engine gets a copy of the prompts with placeholders.
`restorer` gives each streamed choice its own placeholder restorer; `stored_bodies` redacts
what is kept on disk, reading the request and the answer as one text: a completion
continues its prompt, an answer its conversation, and a number split between them
(`Phone: 138123` + `45678`) is redacted in both. Detection failing refuses the request
(fail closed): raw text never goes through because a detector broke.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from modelmint.core.errors import InvalidRequestError, ModelmintError, UnsupportedParameterError
from modelmint.privacy.detect import detect
from modelmint.privacy.entities import CARD, CN_ID, PHONE
from modelmint.privacy.joined import Thread
from modelmint.privacy.placeholders import Placeholders, Restorer
from modelmint.privacy.policy import PrivacyPolicy

logger = logging.getLogger(__name__)

Where = tuple[str | int, ...]  # the keys and indices that lead to a string in a body


# what may be split between a chat's messages and still be one value
NUMBERS = frozenset({PHONE, CN_ID, CARD})


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

    def redacted(self, texts: list[str], *, param: str, logprobs: bool = False) -> list[str]:
        """`texts` as the engine may see them: refused in `block` mode when they hold
        PII, a copy with placeholders in `redact_model` mode (`restorer` puts the values
        back into the answer), else the texts themselves."""
        mode = self.policy.pii_mode
        if mode == "block":
            found = sorted({e.type for text in texts for e in _safe(detect, text)})
            if found:
                raise PiiDetectedError(
                    f"The request contains personal data ({', '.join(found)}), which this "
                    "organization's privacy policy refuses. Remove it, or ask an admin to "
                    "change the policy.",
                    param=param,
                )
        elif mode == "redact_model":
            if logprobs:
                raise UnsupportedParameterError(
                    "logprobs are not available to this organization: its privacy policy "
                    "(redact_model) has the model see placeholders, whose tokens are not the "
                    "text you get back. Drop logprobs.",
                    param="logprobs",
                )
            return [_safe(self.placeholders.redact, text) for text in texts]
        return texts

    def restorer(self) -> Restorer | None:
        return self.placeholders.restorer() if self.restores else None

    @property
    def redacts_storage(self) -> bool:
        return self.policy.pii_mode in ("redact_storage", "redact_model")

    def stored(self, value: Any) -> str:
        """JSON of `value` as it may be written to disk (`stored_bodies`, for one body)."""
        return self._stored({"value": value})["value"]

    def stored_bodies(self, request_body: Any, response_body: Any) -> tuple[str, str]:
        """JSON of a generation's request body and its answers (`{"0": text, ...}`, by
        choice index) as they may be written to disk: every string redacted (before JSON
        escapes hide a value behind a `\\n`) unless the mode is off or block, and each
        answer read together with what it continues (`threads`)."""
        stored = self._stored({"request": request_body, "response": response_body})
        return stored["request"], stored["response"]

    def _stored(self, bodies: dict[str, Any]) -> dict[str, str]:
        if self.redacts_storage:
            paths: list[Where] = []
            texts: list[str] = []
            _walk(bodies, (), lambda path, text: (paths.append(path), texts.append(text)))
            redact = self.placeholders.redact_parts
            redacted = iter(_safe(redact, texts, threads(paths, bodies.get("request"))))
            bodies = _rebuilt(bodies, lambda _: next(redacted))
        return {name: json.dumps(body, ensure_ascii=False) for name, body in bodies.items()}


def _walk(value: Any, path: Where, visit: Callable[[Where, str], object]) -> None:
    """Visit every string in `value` (with its path), in order."""
    if isinstance(value, str):
        visit(path, value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk(item, (*path, key), visit)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, (*path, index), visit)


def _rebuilt(value: Any, fn: Callable[[str], str]) -> Any:
    """`value` with every string `s` replaced by `fn(s)`, visited in `_walk`'s order."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {key: _rebuilt(item, fn) for key, item in value.items()}
    if isinstance(value, list):
        return [_rebuilt(item, fn) for item in value]
    return value


def threads(paths: list[Where], request: Any) -> list[Thread]:
    """Which stored strings (by index in `paths`) continue one another, in order: for each
    answer, the conversation's texts (every message's content or text parts; only
    numbers may cross between them) or its prompt (a completion's choice i answers prompt
    i // n), then the answer."""
    conversation: list[int] = []
    prompts: dict[int, list[int]] = {}
    answers: list[tuple[int, int]] = []
    for index, path in enumerate(paths):
        where, *rest = path
        if where == "request" and _is_message_text(rest):
            conversation.append(index)
        elif where == "request" and rest[:1] == ["prompt"]:
            prompts[int(rest[1]) if len(rest) > 1 else 0] = [index]
        elif where == "response" and len(rest) == 1 and str(rest[0]).isdigit():
            answers.append((int(rest[0]), index))
    per_prompt = request.get("n", 1) if isinstance(request, dict) else 1
    per_prompt = per_prompt if isinstance(per_prompt, int) and per_prompt > 0 else 1
    types = NUMBERS if conversation else None
    found = [
        Thread([*(conversation or prompts.get(choice // per_prompt, [])), index], types)
        for choice, index in answers
    ]
    return found or ([Thread(conversation, types)] if conversation else [])


def _is_message_text(path: list) -> bool:
    """messages[i].content, or messages[i].content[k].text"""
    if path[:1] != ["messages"] or path[2:3] != ["content"]:
        return False
    return len(path) == 3 or (len(path) == 5 and path[4] == "text")


def _safe(fn: Callable, *args: Any):
    try:
        return fn(*args)
    except Exception as exc:
        logger.error("PII detection failed (%s); the request is refused", type(exc).__name__)
        raise PrivacyCheckError(
            "The privacy check failed, so the request was refused rather than passed on "
            "unchecked. Retry; if it persists, tell the operator."
        ) from exc
