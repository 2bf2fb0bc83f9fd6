"""The streaming load client of benchmarks/serving.py: streamed chat completions against
any OpenAI-compatible endpoint, timed chunk by chunk, with httpx's async client.

At the rates measured here (a few hundred chunks per second) httpx costs well under 5%
of one core; `run_level` reports the client's own CPU time so that this stays checked.

- `run_level`: C clients send requests back to back, either for `seconds` after a warm-up
  (only tokens that arrive inside the window count, and only requests started inside it
  give latencies; requests in flight at the end run to completion) or for `requests`
  requests in all (tokens over the whole wall time).
- `prefix_pairs`: pairs of requests with the same new random ~300-token system prompt and
  different questions, one after the other: the second one's time to first token shows
  whether the server reuses the cached prefix.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from dataclasses import dataclass, field

import httpx

TOPICS = (
    "a lighthouse keeper", "a lost robot", "two rival bakers", "a dragon who hates gold",
    "a city under the sea", "the last train of the night", "a cat who runs a library",
    "a mountain village", "a time traveller's mistake", "a garden on Mars", "an old map",
    "a violin that plays itself", "a detective in the rain", "a ship made of glass",
    "a forgotten king", "a winter festival", "a clockmaker's apprentice", "a haunted farm",
)  # fmt: skip
WORDS = (
    "river", "stone", "market", "window", "garden", "silver", "morning", "letter", "travel",
    "quiet", "engine", "bright", "history", "orange", "mountain", "paper", "forest", "signal",
    "winter", "harbor", "pocket", "lantern", "careful", "number", "simple", "yellow", "island",
    "rhythm", "blanket", "copper", "thunder", "valley", "mirror", "gentle", "ladder", "ribbon",
    "planet", "kitchen", "meadow", "socket", "puzzle", "velvet", "anchor", "bottle", "canyon",
    "feather", "marble", "orchard", "pepper", "saddle", "tunnel", "whistle",
)  # fmt: skip
QUESTIONS = (
    "What is the capital of France?", "Name three primary colors.", "How many legs has a spider?",
    "What does a thermometer measure?", "Why is the sky blue?", "What is two plus three?",
    "Which planet is closest to the sun?", "What do bees make?", "Translate 'hello' to Spanish.",
)  # fmt: skip


@dataclass
class Target:
    """Where to send requests and how."""

    base_url: str  # ending in /v1
    model: str
    api_key: str | None = None
    extra: dict = field(default_factory=dict)  # added to every body (e.g. repeat_penalty)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


@dataclass
class Stream:
    """One streamed request: when it started, when each content chunk came, how it ended."""

    start: float
    chunks: list[float] = field(default_factory=list)
    tokens: int | None = None  # from the usage chunk, when the server sends one
    prompt_tokens: int | None = None
    error: str | None = None

    @property
    def output_tokens(self) -> int:
        return self.tokens if self.tokens is not None else len(self.chunks)

    @property
    def ttft(self) -> float | None:
        return self.chunks[0] - self.start if self.chunks else None


def story_body(target: Target, max_tokens: int, index: int) -> dict:
    topic = TOPICS[index % len(TOPICS)]
    prompt = f"Write a long story about {topic}, with many details. (story {index})"
    return chat_body(target, [{"role": "user", "content": prompt}], max_tokens)


def chat_body(target: Target, messages: list[dict], max_tokens: int) -> dict:
    return {
        "model": target.model,
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
        **target.extra,
    }


async def stream_one(client: httpx.AsyncClient, target: Target, body: dict) -> Stream:
    """Send one streamed chat completion and time its content chunks."""
    result = Stream(time.perf_counter())
    done = False
    try:
        url = f"{target.base_url}/chat/completions"
        async with client.stream("POST", url, json=body, headers=target.headers()) as answer:
            if answer.status_code != 200:
                text = (await answer.aread()).decode(errors="replace")
                result.error = f"HTTP {answer.status_code}: {text[:200]}"
                return result
            async for line in answer.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    done = True
                    break
                read_event(json.loads(data), result, time.perf_counter())
    except (httpx.HTTPError, OSError, ValueError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:200]
    if result.error is None and not done:
        result.error = "the stream ended without [DONE]"
    elif result.error is None and not result.chunks:
        result.error = "an answer without content"
    return result


def read_event(event: dict, result: Stream, now: float) -> None:
    if "error" in event:
        result.error = f"error event: {json.dumps(event['error'])[:200]}"
        return
    for choice in event.get("choices") or ():
        if (choice.get("delta") or {}).get("content"):
            result.chunks.append(now)
    if usage := event.get("usage"):
        result.tokens = usage.get("completion_tokens")
        result.prompt_tokens = usage.get("prompt_tokens")


def new_client(connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(600.0, connect=10.0))


# --- one concurrency level --------------------------------------------------------------


async def run_level(
    target: Target,
    clients: int,
    max_tokens: int,
    seconds: float | None = 30.0,
    warmup: float = 5.0,
    requests: int | None = None,
) -> dict:
    """`clients` clients back to back; either `seconds` (after `warmup`) or `requests`."""
    streams: list[Stream] = []
    counter = iter(range(10**9))
    begin = time.perf_counter()
    window = (begin + warmup, begin + warmup + (seconds or 0))
    cpu = time.process_time()

    async def worker(client: httpx.AsyncClient) -> None:
        for index in counter:
            if requests is not None and index >= requests:
                return
            if requests is None and time.perf_counter() >= window[1]:
                return
            streams.append(await stream_one(client, target, story_body(target, max_tokens, index)))

    async with new_client(clients) as client:
        await asyncio.gather(*(worker(client) for _ in range(clients)))
    end = time.perf_counter()
    cpu = time.process_time() - cpu
    if requests is not None:
        window = (begin, end)
    return summarize(streams, window, requests is None) | {"client_cpu": cpu / (end - begin)}


def summarize(streams: list[Stream], window: tuple[float, float], timed: bool) -> dict:
    """Output tok/s inside the window; latencies of the requests started inside it."""
    ok = [s for s in streams if s.error is None]
    counted = [s for s in ok if window[0] <= s.start < window[1]] if timed else ok
    tokens = 0.0
    for s in ok:
        if not s.chunks:
            continue
        inside = sum(window[0] <= t <= window[1] for t in s.chunks)
        tokens += inside * s.output_tokens / len(s.chunks)  # usage may count > chunks
    ttfts = [s.ttft for s in counted if s.ttft is not None]
    gaps = [b - a for s in counted for a, b in zip(s.chunks, s.chunks[1:], strict=False)]
    errors = [s.error for s in streams if s.error is not None]
    return {
        "tok_s": tokens / (window[1] - window[0]),
        "ttft_p50": median(ttfts),
        "ttft_p95": percentile(ttfts, 95),
        "itl_p50": median(gaps),
        "tok_per_req": median([s.output_tokens for s in counted]),
        "requests": len(counted),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


# --- prefix reuse -----------------------------------------------------------------------


def system_prompt(rng: random.Random, words: int = 255) -> str:
    """About 300 tokens of fresh text: a random tag first, so no earlier prefix matches."""
    tag = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
    body = " ".join(rng.choice(WORDS) for _ in range(words))
    return f"Session {tag}. You are a helpful assistant. Background notes: {body}."


async def prefix_pairs(target: Target, pairs: int, seed: int | None = None) -> dict:
    """TTFT of the first and the second request sharing a new system prompt, per pair."""
    rng = random.Random(seed)
    firsts, seconds, ratios, prompt_tokens, errors = [], [], [], [], []
    async with new_client(1) as client:
        for _ in range(pairs):
            system = {"role": "system", "content": system_prompt(rng)}
            first_q, second_q = rng.sample(QUESTIONS, 2)
            pair = []
            for question in (first_q, second_q):
                messages = [system, {"role": "user", "content": question}]
                pair.append(await stream_one(client, target, chat_body(target, messages, 8)))
            bad = [s.error for s in pair if s.error or s.ttft is None]
            if bad:
                errors.append(bad[0] or "no content")
                continue
            firsts.append(pair[0].ttft)
            seconds.append(pair[1].ttft)
            ratios.append(pair[1].ttft / pair[0].ttft)
            if pair[0].prompt_tokens:
                prompt_tokens.append(pair[0].prompt_tokens)
    return {
        "first": median(firsts),
        "second": median(seconds),
        "ratio": median(ratios),
        "prompt_tokens": median(prompt_tokens),
        "pairs": len(ratios),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }
