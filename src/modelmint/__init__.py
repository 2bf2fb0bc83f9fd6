"""modelmint: real models behind an OpenAI-compatible API, run as a paid service."""

__version__ = "0.1.0"
