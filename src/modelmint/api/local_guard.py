"""What a server without auth (`--no-auth`, loopback only) refuses, because anyone who can
reach its port is admin and a browser can be made to reach it:

- requests addressed to a name that is not loopback: a page of another site that gets its
  name resolved to 127.0.0.1 (DNS rebinding) would otherwise be same-origin with us;
- admin changes that a browser sends for a page of another origin (cross-site request
  forgery): browsers label them with Sec-Fetch-Site, older ones at least with Origin.
CLIs, curl and SDKs send neither header and address localhost, so they are unaffected.
"""

from __future__ import annotations

import ipaddress

from fastapi import Request

from modelmint.core.errors import PermissionDeniedError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": "80", "https": "443"}


def _split_host(host: str) -> tuple[str, str | None]:
    """'[::1]:8000' -> ('::1', '8000'); 'localhost' -> ('localhost', None)."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, rest[1:] if rest.startswith(":") else None
    name, colon, port = host.rpartition(":")
    return (name, port) if colon and port.isdigit() else (host, None)


def is_loopback_host(host: str) -> bool:
    name = _split_host(host)[0].removesuffix(".")
    if name == "localhost":  # not *.localhost: not every browser pins those to loopback
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _same_origin(origin: str, host: str) -> bool:
    scheme, _, rest = origin.strip().lower().partition("://")
    if not rest:  # "null" (sandboxed frames, file://) is never our origin
        return False
    origin_name, origin_port = _split_host(rest.rstrip("/"))
    host_name, host_port = _split_host(host)
    default = DEFAULT_PORTS.get(scheme)
    return origin_name == host_name and (origin_port or default) == (host_port or default)


def from_another_site(request: Request) -> bool:
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:  # modern browsers: their word decides
        return fetch_site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin is not None and not _same_origin(origin, request.headers.get("host", ""))


def check_local_request(request: Request, admin: bool) -> None:
    """Raise a 403 for what a server without auth must not do for this request."""
    host = request.headers.get("host", "")
    if not is_loopback_host(host):
        raise PermissionDeniedError(
            f"This server runs without auth (--no-auth) and answers only requests addressed "
            f"to localhost, 127.0.0.1 or [::1], not {host!r}. Use one of those, or run the "
            "server with auth.",
            code="host_not_allowed",
        )
    if admin and request.method not in SAFE_METHODS and from_another_site(request):
        raise PermissionDeniedError(
            "This server runs without auth (--no-auth), so it refuses admin changes sent by "
            "a web page of another origin. Use the CLI, curl or an API client, or run the "
            "server with auth and an admin key.",
            code="cross_origin_refused",
        )
