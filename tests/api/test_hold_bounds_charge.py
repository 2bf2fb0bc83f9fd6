"""Every metered endpoint's hold is an upper bound of its charge: over many random
inputs (hypothesis), the ledger row's tokens and price never pass what admission held.

The fast set runs the fake engine; the real_model set runs SmolLM2 and MiniLM, whose
tokenizers are where an estimate made before admission could go wrong (it did: an
embeddings hold of len(text)//3 + 2 tokens per input was charged 3x that for `!!!…`)."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelmint.billing.money import tokens_price
from modelmint.store.tables import usage_ledger
from tests.business_helpers import business_settings, running
from tests.helpers import fake_pool

PRICES = {"*": {"input": "10", "output": "20"}}
CHAT_MODEL, EMBED_MODEL = "default", "embed"

texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=120
)
bodies = st.one_of(
    st.builds(
        lambda t, m, n: ("/v1/chat/completions",
                         {"messages": [{"role": "user", "content": t}], "max_tokens": m, "n": n}),
        texts, st.integers(1, 24), st.integers(1, 3),
    ),
    st.builds(
        lambda ps, m: ("/v1/completions", {"prompt": ps, "max_tokens": m}),
        st.lists(texts, min_size=1, max_size=3), st.integers(1, 24),
    ),
    st.builds(
        lambda ins: ("/v1/embeddings", {"input": ins}),
        st.lists(texts.filter(str.strip), min_size=1, max_size=8),
    ),
)  # fmt: skip


class TicketLog:
    """Wraps `Metering.admit` to keep each request's ticket, by request id."""

    def __init__(self, platform) -> None:
        self.tickets: dict[str, Any] = {}
        admit = platform.metering.admit

        async def admit_and_log(context, estimate):
            ticket = await admit(context, estimate)
            self.tickets[context.request_id] = ticket
            return ticket

        platform.metering.admit = admit_and_log


@asynccontextmanager
async def metered(tmp_path, pool):
    """A running app whose org has limits (so every request takes a hold) and its key."""
    async with running(business_settings(tmp_path), pool) as business:
        await business.plan("pro", prices=PRICES, rpm=100_000, tpm=10_000_000)
        await business.org("acme", plan="pro", spend_limit="1000000", token_limit=10**12)
        key = (await business.key("acme"))["key"]
        await business.caught_up()
        log = TicketLog(business.platform)
        async with business.client(key) as client:
            yield business, client, log


async def check_one(business, client, log, path: str, body: dict, model: str) -> None:
    response = await client.post(path, json={"model": model, **body})
    if response.status_code != 200:
        # a request refused before admission (too long for the context) holds nothing
        assert response.status_code == 400, response.text
        return
    request_id = response.headers["x-request-id"]
    row = business.platform.infra.db.run(
        lambda c: c.execute(
            usage_ledger.select().where(usage_ledger.c.request_id == request_id)
        ).one()
    )
    ticket = log.tickets[request_id]
    worst = ticket.worst
    assert row.prompt_tokens <= worst.input_tokens
    assert row.completion_tokens <= worst.output_tokens
    assert ticket.hold is not None
    assert row.prompt_tokens + row.completion_tokens <= ticket.hold.tokens
    assert row.price_nanos <= ticket.hold.nanos
    assert ticket.hold.nanos == tokens_price(
        worst.input_tokens, ticket.price.input_nanos_per_mtok
    ) + tokens_price(worst.output_tokens, ticket.price.output_nanos_per_mtok)


@pytest.fixture(scope="module")
async def fake_metered(tmp_path_factory):
    async with metered(tmp_path_factory.mktemp("bound"), fake_pool(context_length=512)) as m:
        yield m


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=bodies)
async def test_the_hold_bounds_the_charge_on_every_endpoint(fake_metered, case):
    path, body = case
    model = EMBED_MODEL if path == "/v1/embeddings" else CHAT_MODEL
    await check_one(*fake_metered, path, body, model)


@pytest.fixture(scope="module")
async def real_metered(tmp_path_factory):
    from modelmint.api.app import build_pool

    folder = tmp_path_factory.mktemp("real-bound")
    async with metered(folder, build_pool(business_settings(folder))) as m:
        yield m


@pytest.mark.real_model
@settings(max_examples=int(os.environ.get("MODELMINT_HOLD_EXAMPLES", "40")), deadline=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@given(case=bodies)
async def test_the_hold_bounds_the_charge_on_the_real_models(real_metered, case):
    path, body = case
    model = "minilm" if path == "/v1/embeddings" else "smollm2"
    await check_one(*real_metered, path, body, model)


@pytest.mark.real_model
async def test_embeddings_never_charge_past_the_spend_and_token_limits(tmp_path):
    """The reproduction: $10 / 10,000 tokens; 100 inputs of 250 `!` are 25,200 tokens."""
    from modelmint.api.app import build_pool
    from tests.business_helpers import counter

    settings = business_settings(tmp_path, load_models=["minilm"])
    async with running(settings, build_pool(settings)) as business:
        # $1,000 per million tokens: a token costs $0.001, so $10 is 10,000 tokens
        await business.plan("pro", prices={"*": {"input": "1000", "output": "1000"}})
        org = await business.org("acme", plan="pro", spend_limit="10", token_limit=10_000)
        key = (await business.key("acme"))["key"]
        await business.caught_up()
        async with business.client(key) as client:
            big = {"model": "minilm", "input": ["!" * 250] * 100}
            refused = await client.post("/v1/embeddings", json=big)
            assert refused.status_code == 429, refused.text
            assert refused.json()["error"]["type"] == "insufficient_quota"
            assert "25200 tokens" in refused.json()["error"]["message"]
            # short inputs until the budget refuses: never past it
            for _ in range(60):
                small = {"model": "minilm", "input": ["!" * 200, "hello " * 30]}
                if (await client.post("/v1/embeddings", json=small)).status_code != 200:
                    break
        row = business.platform.infra.db.run(counter, org["id"])
        assert row.tokens <= 10_000
        assert row.charged_nanos <= 10 * 10**9
        assert (row.reserved_tokens, row.reserved_nanos) == (0, 0)
