"""Chat latency while a fine-tuning job trains on the same machine.

Starts `modelmint serve --no-worker` (default models, auth and the ledger on, in a temp
data dir), then alternates, --runs times: one client sends --requests chats one after
another (max_tokens 64, temperature 0) with no job running; then a worker started exactly
as `modelmint serve` starts its own (`modelmint worker --idle --threads 1`) trains a
job (48 chat examples, enough epochs to outlast the measurement) while the same client
measures again. Prints p50/p95 latency and tokens/s with and without the job, medians of
the runs, and the ratio (with / without).

    .venv/bin/python benchmarks/serving_while_training.py --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from business import Servers, free_port, prepare_business

QUESTION = "Write a short story about a lighthouse keeper."
WORKER_FLAGS = ["--idle"]  # as `modelmint serve` starts its worker


def log(message: str) -> None:
    print(f"[serving_while_training] {message}", file=sys.stderr, flush=True)


def examples() -> bytes:
    lines = [
        {"messages": [{"role": "user", "content": f"What is the code word number {i}?"},
                      {"role": "assistant", "content": f"The code word number {i} is w{i*7}."}]}
        for i in range(48)
    ]  # fmt: skip
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def fine_tune_key(data_dir: Path) -> str:
    """The benchmark's plan and org (benchmarks/business.py) and a key that may fine-tune."""
    from modelmint.services import admin
    from modelmint.store.database import Database
    from modelmint.tenancy.secret import load_secret

    url = f"sqlite:///{data_dir / 'modelmint.db'}"
    prepare_business(url, data_dir, postgres=False)
    db = Database(url)
    try:
        body = admin.KeyCreate(org="bench", scopes=["inference", "fine_tune"])
        return db.run(admin.create_key, load_secret(data_dir, None), body, "bench")["key"]
    finally:
        db.close()


def start_server(servers: Servers, data_dir: Path) -> tuple[str, str]:
    key = fine_tune_key(data_dir)
    port = free_port()
    command = [sys.executable, "-m", "modelmint", "serve", "--no-worker", "--port", str(port),
               "--threads", "2", "--data-dir", str(data_dir), "--log-level", "warning"]  # fmt: skip
    servers.start("modelmint", command)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if chat(url, key, 4) > 0:
                return url, key
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not start; see its log in " + str(servers.tmp))


def chat(url: str, key: str, max_tokens: int = 64) -> int:
    body = {"model": "default", "max_tokens": max_tokens, "temperature": 0,
            "messages": [{"role": "user", "content": QUESTION}]}  # fmt: skip
    answer = httpx.post(url + "/chat/completions", json=body, timeout=120,
                        headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    answer.raise_for_status()
    return answer.json()["usage"]["completion_tokens"]


def measure(url: str, key: str, requests: int) -> dict:
    latencies, tokens = [], 0
    for _ in range(requests):
        started = time.perf_counter()
        tokens += chat(url, key)
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))] * 1000,
        "tokens_per_s": tokens / sum(latencies),
    }


def start_job(url: str, key: str) -> str:
    headers = {"Authorization": f"Bearer {key}"}
    files = {"file": ("train.jsonl", examples())}
    made = httpx.post(url + "/files", headers=headers, files=files, data={"purpose": "fine-tune"})
    body = {"model": "default", "training_file": made.json()["id"],
            "hyperparameters": {"n_epochs": 50}}  # fmt: skip
    job = httpx.post(url + "/fine_tuning/jobs", headers=headers, json=body)
    job.raise_for_status()
    return job.json()["id"]


def wait_running(url: str, key: str, job_id: str) -> None:
    """Until the job's first training step: validation and loading are past."""
    headers = {"Authorization": f"Bearer {key}"}
    while True:
        events = httpx.get(f"{url}/fine_tuning/jobs/{job_id}/events", headers=headers).json()
        if any(e["type"] == "metrics" for e in events["data"]):
            return
        time.sleep(1)


def run(servers: Servers, data_dir: Path, url: str, key: str, requests: int) -> tuple[dict, dict]:
    quiet = measure(url, key, requests)
    job_id = start_job(url, key)
    command = [sys.executable, "-m", "modelmint", "worker", *WORKER_FLAGS, "--threads", "1",
               "--data-dir", str(data_dir), "--log-level", "warning"]  # fmt: skip
    worker = servers.start("worker", command)
    try:
        wait_running(url, key, job_id)
        busy = measure(url, key, requests)
    finally:
        httpx.post(f"{url}/fine_tuning/jobs/{job_id}/cancel",
                   headers={"Authorization": f"Bearer {key}"}, timeout=30)  # fmt: skip
        servers.stop(worker)
    return quiet, busy


def median(runs: list[dict], field: str) -> float:
    return statistics.median(r[field] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=20, help="Chats per measurement.")
    parser.add_argument("--worker-flags", default="--idle",
                        help='How the worker is started, e.g. "--nice 19" (default: --idle).')
    args = parser.parse_args()
    WORKER_FLAGS[:] = args.worker_flags.split()
    with tempfile.TemporaryDirectory(prefix="mm-serving-training-") as tmp:
        servers = Servers(Path(tmp))
        try:
            data_dir = Path(tmp) / "data"
            url, key = start_server(servers, data_dir)
            quiet_runs, busy_runs = [], []
            for number in range(args.runs):
                quiet, busy = run(servers, data_dir, url, key, args.requests)
                log(f"run {number + 1}: without a job {quiet}, with one {busy}")
                quiet_runs.append(quiet)
                busy_runs.append(busy)
        finally:
            servers.stop_all()
    print("| chat, 1 client, 64 tokens | p50 ms | p95 ms | tokens/s |")
    print("|---|---|---|---|")
    for name, runs in (("no job", quiet_runs), ("a job training", busy_runs)):
        print(f"| {name} | {median(runs, 'p50_ms'):.0f} | {median(runs, 'p95_ms'):.0f} | "
              f"{median(runs, 'tokens_per_s'):.1f} |")  # fmt: skip
    ratio = median(busy_runs, "p50_ms") / median(quiet_runs, "p50_ms")
    print(f"\np50 with a job / without: {ratio:.2f}x (median of {args.runs} runs)")


if __name__ == "__main__":
    main()
