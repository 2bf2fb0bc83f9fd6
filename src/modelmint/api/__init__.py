"""The HTTP API: `create_app(settings)`, OpenAI-compatible routers, errors and metrics."""

from modelmint.api.app import create_app

__all__ = ["create_app"]
