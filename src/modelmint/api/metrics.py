"""Prometheus metrics in a registry owned by one app (no process-global state).

Requests, latency, prompt and completion tokens, queue depth and running requests
(read from the pool at scrape time), time to first token and time per output token.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from modelmint.core.types import Usage

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
TOKEN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28)


class _PoolCollector:
    def __init__(self, stats: Callable[[], dict[str, tuple[int, int]]]) -> None:
        self.stats = stats

    def collect(self):
        waiting = GaugeMetricFamily(
            "modelmint_queue_depth", "Requests waiting for a free slot", labels=["model"]
        )
        running = GaugeMetricFamily(
            "modelmint_running_requests", "Requests being generated", labels=["model"]
        )
        for model, (run, wait) in self.stats().items():
            waiting.add_metric([model], wait)
            running.add_metric([model], run)
        yield waiting
        yield running


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "modelmint_http_requests", "HTTP requests", ["method", "path", "status"], registry=r
        )
        self.latency = Histogram(
            "modelmint_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "path"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.prompt_tokens = Counter(
            "modelmint_prompt_tokens", "Prompt tokens processed", ["model"], registry=r
        )
        self.completion_tokens = Counter(
            "modelmint_completion_tokens", "Completion tokens generated", ["model"], registry=r
        )
        self.ttft = Histogram(
            "modelmint_time_to_first_token_seconds",
            "Time to first token",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tpot = Histogram(
            "modelmint_time_per_output_token_seconds",
            "Time per output token after the first",
            ["model"],
            buckets=TOKEN_BUCKETS,
            registry=r,
        )

    def watch_pool(self, stats: Callable[[], dict[str, tuple[int, int]]]) -> None:
        self.registry.register(_PoolCollector(stats))  # type: ignore[arg-type]

    def observe_http(self, method: str, path: str, status: int, seconds: float) -> None:
        self.requests.labels(method, path, str(status)).inc()
        self.latency.labels(method, path).observe(seconds)

    def observe_generation(
        self, model: str, usage: Usage, ttft: float | None, tpot: float | None
    ) -> None:
        self.prompt_tokens.labels(model).inc(usage.prompt_tokens)
        self.completion_tokens.labels(model).inc(usage.completion_tokens)
        if ttft is not None:
            self.ttft.labels(model).observe(ttft)
        if tpot is not None:
            self.tpot.labels(model).observe(tpot)

    def render(self) -> bytes:
        return generate_latest(self.registry)
