"""Services: transport-free use cases (chat, completions, embeddings, models).

They take a parsed request and the caller's Principal, apply the business steps around
the runtime and return OpenAI-shaped results. No FastAPI types here.
"""
