"""The real server the end-to-end job tests share within a module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelmint.api import create_app
from tests.business_helpers import business_settings, first_admin_key
from tests.helpers import running_server
from tests.training.job_helpers import PRICES


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[dict]:
    """A real server (the default models) with two orgs; each with a fine_tune key."""
    data_dir = tmp_path_factory.mktemp("jobs")
    quality = data_dir / "quality.jsonl"  # the job's evaluation: three questions, to be quick
    lines = (Path(__file__).parents[2] / "src/modelmint/training/quality_set.jsonl").read_text()
    quality.write_text("\n".join(lines.splitlines()[:3]) + "\n")
    settings = business_settings(data_dir)
    admin_key = first_admin_key(settings)
    with running_server(create_app(settings)) as url:
        keys = {}
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}) as http:
            assert http.post("/admin/plans", json={"name": "pro", "prices": PRICES}).is_success
            for org in ("acme", "globex"):
                assert http.post("/admin/orgs", json={"name": org, "plan": "pro"}).is_success
                made = http.post(
                    "/admin/keys", json={"org": org, "scopes": ["inference", "fine_tune"]}
                )
                keys[org] = made.json()["key"]
        yield {"url": url, "keys": keys, "settings": settings, "quality": quality}
