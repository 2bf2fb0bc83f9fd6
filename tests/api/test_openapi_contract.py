"""The OpenAPI document tells the truth: schemathesis reads `/openapi.json` from a running
server (fake engines, SQLite) and sends every operation generated requests, valid and
invalid, checking that no answer is a 5xx, that each status and content type is
documented, and that each body matches its documented schema (each event of a stream
too); plus a few successful answers that generated requests seldom get.

Twice: with auth and an admin key (so the admin routes get past their guard), and
without auth (loopback only, every caller is admin). The budget is fixed and the run
seeded, so it takes about the same time and finds the same things on every run.

schemathesis runs here through its engine (the one its CLI uses: the examples, coverage
and fuzzing phases), not its pytest plugin, whose lazy schemas do not work with pytest 9.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events

from modelmint.api import create_app
from tests.business_helpers import business_settings, first_admin_key
from tests.helpers import fake_pool, running_server

EXAMPLES = 20  # generated requests per operation in the fuzzing phase
SEED = 20261105
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",  # a request outside the document is refused
)
# with auth: a request without the documented key, or with a wrong one, is refused
AUTH_CHECKS = ("ignored_auth",)
def contract_config(headers: dict[str, str]) -> SchemathesisConfig:
    checks = CHECKS + AUTH_CHECKS if headers else CHECKS
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "headers": headers,
            "generation": {
                "mode": "all",  # valid requests and invalid ones
                "max-examples": EXAMPLES,
                "deterministic": True,
                "database": "none",
                # without auth no key is needed, although the document names one
                "with-security-parameters": bool(headers),
            },
            "phases": {"stateful": {"enabled": False}},
            # real names half the time, so that requests get past the lookups and the
            # answers that succeed are checked too
            "dictionaries": {
                "models": {"values": ["default", "fake-chat", "embed", "fake-embed"]},
                "orgs": {"values": ["admin"]},
                "plans": {"values": ["starter"]},
            },
            "parameters": {
                "body.model": {"dictionary": "models", "probability": 0.5},
                "path.model": {"dictionary": "models", "probability": 0.5},
                "body.org": {"dictionary": "orgs", "probability": 0.5},
                "path.org": {"dictionary": "orgs", "probability": 0.5},
                "query.org": {"dictionary": "orgs", "probability": 0.5},
                "body.plan": {"dictionary": "plans", "probability": 0.5},
                "path.plan": {"dictionary": "plans", "probability": 0.5},
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in checks}},
        }
    )


# a fresh server per test: the generated requests change the admin org (its limits, plan)
@pytest.fixture(params=["auth", "no-auth"])
def served(request, tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:
    folder: Path = tmp_path_factory.mktemp(f"contract-{request.param}")
    settings = business_settings(folder, auth=request.param == "auth")
    headers = {"Authorization": f"Bearer {first_admin_key(settings)}"} if settings.auth else {}
    with running_server(create_app(settings, pool=fake_pool())) as url:
        yield url, headers


def describe(event: events.ScenarioFinished) -> list[str]:
    """Each failed check of a scenario: what, and the request that shows it."""
    found = []
    for case_id, checks in event.recorder.checks.items():
        for check in checks:
            if check.failure_info is None:
                continue
            failure = check.failure_info.failure
            interaction = event.recorder.interactions.get(case_id)
            answer = interaction.response if interaction else None
            got = f"{answer.status_code} {answer.content[:300]!r}" if answer else "no answer"
            steps = "\n".join(step.curl for step in check.failure_info.steps)
            found.append(
                f"{event.label}: {check.name}: {failure.title}\n{failure.message}\n"
                f"{steps or check.failure_info.code_sample}\n-> {got}"
            )
    return found


def run_contract(url: str, headers: dict[str, str]) -> tuple[list[str], int]:
    """(every problem found, how many requests were sent)."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=contract_config(headers))
    problems: list[str] = []
    sent = 0
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            sent += len(event.recorder.interactions)
            if event.status in (Status.FAILURE, Status.ERROR):
                problems.extend(describe(event) or [f"{event.label}: {event.status}"])
        elif isinstance(event, events.NonFatalError):
            problems.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    return problems, sent


def test_answers_match_the_document(served: tuple[str, dict[str, str]]) -> None:
    problems, sent = run_contract(*served)
    assert sent > 500, f"only {sent} requests were sent: the run did not reach every operation"
    assert not problems, f"{len(problems)} problems:\n\n" + "\n\n".join(dict.fromkeys(problems))


USAGE = {"include_usage": True}
CHAT = [{"role": "user", "content": "one two three"}]
# answers that generated requests seldom get: streams, log-probabilities, n, echo, base64
SUCCESSES = [
    ("/v1/chat/completions", {"messages": CHAT, "n": 2, "logprobs": True, "top_logprobs": 2}),
    ("/v1/chat/completions", {"messages": CHAT, "stream": True, "logprobs": True}),
    ("/v1/chat/completions", {"messages": CHAT, "stream": True, "stream_options": USAGE}),
    ("/v1/completions", {"prompt": ["a b", "c"], "n": 2, "logprobs": 2}),
    ("/v1/completions", {"prompt": "a b", "stream": True, "echo": True, "stream_options": USAGE}),
    ("/v1/embeddings", {"model": "embed", "input": ["a", "b"], "encoding_format": "base64"}),
]


def test_successful_answers_match_the_document(served: tuple[str, dict[str, str]]) -> None:
    url, headers = served
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=contract_config(headers))
    for path, body in SUCCESSES:
        case = schema[path]["POST"].Case(body={"model": "default", **body})
        assert case.call_and_validate(headers=headers).status_code == 200, (path, body)


def test_the_document_is_whole(served: tuple[str, dict[str, str]]) -> None:
    """Every operation documents a JSON (or text) answer with a schema; no FastAPI 422."""
    import httpx

    document: dict[str, Any] = httpx.get(f"{served[0]}/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)
            for status, answer in responses.items():
                assert answer.get("content"), (method, path, status)
