"""HTTP routers: OpenAI-compatible endpoints and health."""
