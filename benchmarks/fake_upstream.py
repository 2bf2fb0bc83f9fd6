"""A fake OpenAI-compatible upstream that answers at once, for benchmarking proxies.

Raw ASGI (no framework) on uvicorn with uvloop and httptools, so that the upstream costs
as little as possible and a proxy in front of it shows its own overhead.

  POST /v1/chat/completions             a tiny fixed `chat.completion`
  POST /v1/chat/completions stream=true the same as SSE chunks (a usage chunk last when
                                        stream_options.include_usage), then [DONE]
  GET  /v1/models, /health              for readiness checks

Run: python benchmarks/fake_upstream.py --port 9100
"""

from __future__ import annotations

import argparse
import json
import time

TEXT = "Hello there, friend."
USAGE = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}


def _completion(model: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": TEXT},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": USAGE,
        },
        separators=(",", ":"),
    ).encode()


def _stream(model: str, include_usage: bool) -> bytes:
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model}

    def chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> str:
        choices = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]
        body = {**base, "choices": choices}
        if include_usage:
            body["usage"] = usage
        return "data: " + json.dumps(body, separators=(",", ":")) + "\n\n"

    parts = [chunk({"role": "assistant", "content": ""})]
    parts += [chunk({"content": word}) for word in ("Hello", " there,", " friend.")]
    parts.append(chunk({}, "stop"))
    if include_usage:
        parts.append(chunk({}, usage=USAGE))
    parts.append("data: [DONE]\n\n")
    return "".join(parts).encode()


async def _read_body(receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def _send(send, status: int, body: bytes, content_type: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    path, method = scope["path"], scope["method"]
    body = await _read_body(receive)
    if method == "POST" and path.endswith("/chat/completions"):
        request = json.loads(body or b"{}")
        model = str(request.get("model", "fake"))
        if request.get("stream"):
            usage = bool((request.get("stream_options") or {}).get("include_usage"))
            await _send(send, 200, _stream(model, usage), b"text/event-stream")
        else:
            await _send(send, 200, _completion(model), b"application/json")
    elif method == "GET" and path in ("/v1/models", "/health"):
        await _send(send, 200, b'{"object":"list","data":[]}', b"application/json")
    else:
        await _send(send, 404, b'{"error":{"message":"not found"}}', b"application/json")


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
