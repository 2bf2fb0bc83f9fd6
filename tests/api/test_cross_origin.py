"""Without auth anyone who reaches the port is admin: a web page of another site must not
be able to make the user's browser change anything, while the CLI, curl and SDKs (which
send no Origin) and the server's own pages keep working."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "http://test.evil.example"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site", "origin": "http://localhost:3000"},
    ],
)
async def test_admin_changes_from_another_site_are_refused_without_auth(client, headers):
    answer = await client.post("/admin/privacy/purge", headers=headers)
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["code"] == "cross_origin_refused" and "--no-auth" in error["message"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"origin": "http://test"}, {"sec-fetch-site": "same-origin"}, {"sec-fetch-site": "none"}],
)
async def test_admin_changes_from_the_cli_or_the_same_origin_pass(client, headers):
    answer = await client.post("/admin/privacy/purge", headers=headers)
    assert answer.status_code == 200, answer.text


async def test_reading_from_another_site_is_not_refused(client):
    # a GET changes nothing, and without CORS headers the page cannot read the answer
    answer = await client.get("/admin/orgs", headers={"origin": "https://evil.example"})
    assert answer.status_code == 200, answer.text
