"""Without auth anyone who reaches the port is admin: a web page of another site must not
be able to make the user's browser change anything (CSRF), nor reach us under a name of
its own (DNS rebinding), while the CLI, curl and SDKs and same-origin pages keep working."""

from __future__ import annotations

import pytest

from modelmint.api.local_guard import is_loopback_host


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "http://localhost.evil.example"},
        {"origin": "http://localhost:3000"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site", "origin": "http://localhost:3000"},
        {"sec-fetch-site": "cross-site", "origin": "http://localhost"},  # its word decides
    ],
)
async def test_admin_changes_from_another_site_are_refused_without_auth(client, headers):
    answer = await client.post("/admin/privacy/purge", headers=headers)
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["code"] == "cross_origin_refused" and "--no-auth" in error["message"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"origin": "http://localhost"},
        {"origin": "http://LOCALHOST:80", "host": "localhost"},  # default port, any case
        {"sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "none"},
        {"sec-fetch-site": "same-origin", "origin": "https://proxy.example"},  # its word
    ],
)
async def test_admin_changes_from_the_cli_or_the_same_origin_pass(client, headers):
    answer = await client.post("/admin/privacy/purge", headers=headers)
    assert answer.status_code == 200, answer.text


async def test_reading_from_another_site_is_not_refused(client):
    # a GET changes nothing, and without CORS headers the page cannot read the answer
    answer = await client.get("/admin/orgs", headers={"origin": "https://evil.example"})
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("path", ["/admin/orgs", "/v1/models"])
async def test_a_name_that_is_not_loopback_is_refused_without_auth(client, path):
    # a rebinding page at http://rebind.evil:8000 is "same-origin" with us: its Host gives it away
    answer = await client.get(path, headers={"host": "rebind.evil:8000"})
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["code"] == "host_not_allowed" and "rebind.evil:8000" in error["message"]


def test_loopback_names():
    for host in ["localhost", "localhost:8000", "127.0.0.1:8000", "127.1.2.3", "[::1]:8000",
                 "localhost.", "LOCALHOST"]:  # fmt: skip
        assert is_loopback_host(host), host
    for host in ["", "evil.example", "10.0.0.1:8000", "[::2]:80", "localhost.evil", "a.localhost"]:
        assert not is_loopback_host(host), host
