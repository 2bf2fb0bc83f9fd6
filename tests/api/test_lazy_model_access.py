"""A key that may not use a model loaded on first use gets its 403 without loading it:
no one can make the server spend a large model's memory on a request it refuses."""

from __future__ import annotations

import httpx

from modelmint.api import create_app
from modelmint.runtime.fake import FakeEngine
from modelmint.runtime.pool import ModelPool
from modelmint.runtime.registry import ModelSpec, Registry
from tests.business_helpers import business_settings, first_admin_key
from tests.helpers import running_server


def test_a_key_limited_to_other_models_does_not_load_the_big_one(tmp_path):
    registry = Registry([
        ModelSpec(name="small", aliases=["default"], engine="fake"),
        ModelSpec(name="embed", aliases=["text-embedding-default"], engine="fake"),
        ModelSpec(name="big", aliases=["classify"], engine="fake", load_on_first_use=True),
    ])  # fmt: skip
    pool = ModelPool(registry, {name: FakeEngine() for name in ("small", "embed", "big")})
    settings = business_settings(tmp_path)
    admin_key = first_admin_key(settings)
    with running_server(create_app(settings, pool=pool)) as url:
        admin = {"Authorization": f"Bearer {admin_key}"}
        made = httpx.post(url + "/admin/keys", headers=admin, timeout=30,
                          json={"org": "admin", "allowed_models": ["small"]})  # fmt: skip
        assert made.status_code == 201, made.text
        limited = {"Authorization": f"Bearer {made.json()['key']}"}
        chat = {"model": "big", "messages": [{"role": "user", "content": "hi"}]}
        refused = httpx.post(url + "/v1/chat/completions", json=chat, headers=limited)
        assert refused.status_code == 403 and refused.json()["error"]["param"] == "model"
        named = {"input": "hi", "labels": ["a", "b"], "model": "big"}
        refused = httpx.post(url + "/v1/classify", json=named, headers=limited)
        assert refused.status_code == 403
        assert not pool.engines["big"].ready  # nothing loaded for a refused request
        served = httpx.post(url + "/v1/chat/completions", json=chat, headers=admin, timeout=30)
        assert served.status_code == 200 and pool.engines["big"].ready
