"""What the business layer costs: modelmint's proxy overhead, with and without keys, limits
and the usage ledger, against the upstream alone and against LiteLLM's proxy.

Everything is set up in one run, each piece in its own process:

1. a fake OpenAI-compatible upstream that answers at once (benchmarks/fake_upstream.py);
2. in front of it, one server at a time (one uvicorn worker each):
   - modelmint "bare": --no-auth, MODELMINT_USAGE_LEDGER=false (the proxy alone);
   - modelmint "full, SQLite": API key, plan limits, budget and ledger in the data dir;
   - modelmint "full, PostgreSQL": the same on --postgres-url (skipped if unreachable;
     modelmint's tables there are dropped first);
   - LiteLLM's proxy (master key, no database), from its own venv (--litellm), never a
     dependency of modelmint;
3. a load client in a separate process (benchmarks/loadgen.py: a lean asyncio HTTP/1.1
   client with keep-alive, since httpx itself would be the bottleneck):
   non-streamed chat requests with max_tokens 16, (i) req/s at --concurrency connections
   for --seconds after --warmup, (ii) p50/p99 latency at one connection over --requests.
   The upstream is measured directly too: that row is the client's own ceiling.

Each measurement is repeated --runs times; the table shows medians. "server CPU ms/req" is
the CPU time the server (for the direct row: the upstream) spent per answered request, read
from /proc: steadier than req/s when something else loads the machine. --profile DIR adds
one unmeasured throughput run per modelmint server under py-spy (collapsed stacks in DIR).

Example: python benchmarks/business.py --runs 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loadgen import BODY, MODEL, measure, run_client

HERE = Path(__file__).resolve().parent
DEFAULT_LITELLM = HERE.parent / ".peers" / "litellm"
# its own database: the benchmark drops modelmint's tables in it
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/modelmint_bench"
LITELLM_HINT = (
    "python3.11 -m venv {0} && {0}/bin/pip install 'litellm[proxy]'  (its own venv, "
    "never modelmint's)"
)
MASTER_KEY = "sk-bench-master"
TARGETS = ("direct", "bare", "sqlite", "postgres", "litellm")
LABELS = {
    "direct": "upstream direct",
    "bare": "modelmint bare",
    "sqlite": "modelmint full, SQLite",
    "postgres": "modelmint full, PostgreSQL",
    "litellm": "LiteLLM proxy",
}
TARGET_RPS, TARGET_ADDED_MS = 500, 2.0
LITELLM_EARLIER = "LiteLLM measured earlier on this machine: 56 req/s, ~23 ms added"


def log(message: str) -> None:
    print(f"[business] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the servers ------------------------------------------------------------------------


class Servers:
    """Subprocesses in their own sessions, stopped (with their children) by `stop_all`."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.running = tmp, []

    def start(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        log_file = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115 (closed with the run)
        proc = subprocess.Popen(
            argv,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        proc.name, proc.log_file = name, log_file  # type: ignore[attr-defined]
        self.running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        proc.log_file.close()  # type: ignore[attr-defined]
        self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.running):
            self.stop(proc)

    def wait_ready(self, proc, port: int, path: str, token: str | None, timeout: float) -> None:
        import httpx

        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        deadline, last = time.monotonic() + timeout, ""
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                answer = httpx.post(
                    f"http://127.0.0.1:{port}{path}", content=BODY, headers=headers, timeout=5
                )
                if answer.status_code == 200:
                    return
                last = f"{answer.status_code} {answer.text[:300]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.3)
        tail = (self.tmp / f"{proc.name}.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{proc.name} did not become ready ({last}); its log ends:\n{tail}")


def modelmint_argv(tmp: Path, upstream_port: int, data_dir: Path, port: int, args) -> list[str]:
    models = tmp / "models.toml"
    models.write_text(
        f'[[models]]\nname = "{MODEL}"\nengine = "upstream"\n'
        f'base_url = "http://127.0.0.1:{upstream_port}/v1"\nparallel = 64\n'
    )
    exe = Path(sys.executable).parent / "modelmint"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "modelmint.cli.main"]
    return [*command, "serve", "--models", str(models), "--data-dir", str(data_dir),
            "--port", str(port), "--log-level", args.log_level]  # fmt: skip


def prepare_business(url: str, data_dir: Path, postgres: bool) -> str:
    """Fresh schema, a plan with room to spare, an org and an inference key (returned)."""
    from sqlalchemy import create_engine, text

    from modelmint.services import admin
    from modelmint.store.database import Database
    from modelmint.store.tables import metadata
    from modelmint.tenancy.secret import load_secret

    if postgres:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.begin() as connection:
            metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()
    db = Database(url)
    try:
        db.migrate()
        secret = load_secret(data_dir, None)
        plan = admin.PlanCreate(
            name="bench", rpm=10**7, tpm=10**8, max_concurrent=1000,
            prices={"*": {"input": "0.10", "output": "0.20"}},
        )  # fmt: skip
        db.run(admin.create_plan, plan, "bench")
        db.run(admin.create_org, admin.OrgCreate(name="bench", plan="bench"), "bench")
        return db.run(admin.create_key, secret, admin.KeyCreate(org="bench"), "bench")["key"]
    finally:
        db.close()


def postgres_problem(url: str) -> str | None:
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure means: skip this row
        return str(exc).splitlines()[0]
    return None


def litellm_argv(tmp: Path, litellm: Path, upstream_port: int, port: int) -> list[str]:
    config = tmp / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: openai/{MODEL}\n"
        f"      api_base: http://127.0.0.1:{upstream_port}/v1\n"
        "      api_key: fake\n"
        "general_settings:\n"
        f"  master_key: {MASTER_KEY}\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
    )
    return [str(litellm / "bin" / "litellm"), "--config", str(config), "--port", str(port),
            "--num_workers", "1"]  # fmt: skip


def start_target(name: str, servers: Servers, upstream_port: int, args):
    """Start one target's server; (port, path, token, process) or a reason to skip."""
    if name == "direct":
        return upstream_port, "/v1/chat/completions", None, None
    port, tmp = free_port(), servers.tmp
    data_dir = tmp / f"data-{name}"
    env: dict[str, str] = {}
    token = None
    if name == "litellm":
        litellm = Path(args.litellm)
        if not (litellm / "bin" / "litellm").exists():
            return f"LiteLLM not found at {litellm}; install: {LITELLM_HINT.format(litellm)}"
        argv, token = litellm_argv(tmp, litellm, upstream_port, port), MASTER_KEY
        env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
        timeout = 180.0
    else:
        argv, timeout = modelmint_argv(tmp, upstream_port, data_dir, port, args), 60.0
        if name == "bare":
            argv.append("--no-auth")
            env["MODELMINT_USAGE_LEDGER"] = "false"
        else:
            url = f"sqlite:///{data_dir / 'modelmint.db'}"
            if name == "postgres":
                url = args.postgres_url
                if problem := postgres_problem(url):
                    return f"PostgreSQL unreachable at {url}: {problem}"
                argv += ["--database-url", url]
            token = prepare_business(url, data_dir, postgres=name == "postgres")
    proc = servers.start(name, argv, env)
    servers.wait_ready(proc, port, "/v1/chat/completions", token, timeout)
    return port, "/v1/chat/completions", token, proc


def profile(pid: int, name: str, port: int, token: str | None, args) -> None:
    py_spy = shutil.which("py-spy") or str(Path(args.litellm) / "bin" / "py-spy")
    if not Path(py_spy).exists():
        log(f"py-spy not found; skipping the profile ({Path(args.litellm)}/bin/pip install py-spy)")
        return
    out = Path(args.profile) / f"{name}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    duration = str(int(args.warmup + args.seconds + 1))
    spy = subprocess.Popen(
        [py_spy, *f"record -p {pid} -d {duration} -r 200 -f raw -o".split(), str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        opts = {**vars(args), "requests": 0}
        rps = run_client(port, "/v1/chat/completions", token, opts)["rps"]
        spy.wait(30)
        log(f"  profile: {out} (measured {rps:.0f} req/s under py-spy)")
    finally:
        if spy.poll() is None:
            spy.terminate()
            spy.wait()


# --- the table --------------------------------------------------------------------------


def table(results: dict[str, dict | str], conns: int) -> str:
    measured = {k: v for k, v in results.items() if isinstance(v, dict)}
    direct = measured.get("direct", {}).get("p50")
    peer = measured.get("litellm", {}).get("rps")
    rows = [
        f"| target | req/s @{conns} | p50 ms @1 | p99 ms @1 | added p50 vs direct (ms) "
        "| req/s vs LiteLLM | server CPU ms/req |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, value in results.items():
        if isinstance(value, str):
            rows.append(f"| {LABELS[name]} | skipped: {value} | | | | | |")
            continue
        added = "-" if direct is None or name == "direct" else f"{value['p50'] - direct:+.2f}"
        ratio = f"{value['rps'] / peer:.1f}x" if peer else "-"
        failed = f" ({value['failed']} failed)" if value["failed"] else ""
        rows.append(
            f"| {LABELS[name]} | {value['rps']:.0f}{failed} | {value['p50']:.2f} | "
            f"{value['p99']:.2f} | {added} | {ratio} | {value['cpu_ms']:.2f} |"
        )
    lines = ["\n".join(rows), ""]
    bare = measured.get("bare", {}).get("p50")
    for name in ("sqlite", "postgres"):
        if bare is not None and name in measured:
            added = measured[name]["p50"] - bare
            lines.append(f"Added by the business layer ({LABELS[name]} minus bare): "
                         f"{added:+.2f} ms at p50")  # fmt: skip
    lines += [
        f"Targets: modelmint full >= {TARGET_RPS} req/s at 16 connections and <= "
        f"{TARGET_ADDED_MS:g} ms added at p50.",
        f"{LITELLM_EARLIER}.",
    ]
    return "\n".join(lines)


def median_of(runs: list[dict]) -> dict:
    keys = ("rps", "p50", "p99", "cpu_ms")
    return {k: statistics.median(r[k] for r in runs) for k in keys} | {
        "failed": sum(r["failed"] for r in runs)
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        epilog="Prints progress to stderr and a markdown table to stdout.",
    )
    parser.add_argument("--runs", type=int, default=3, help="repeats per measurement; medians (3)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds (2)")
    parser.add_argument("--concurrency", type=int, default=16, help="connections for req/s (16)")
    parser.add_argument("--requests", type=int, default=1000, help="requests for latency (1000)")
    parser.add_argument(
        "--only", nargs="+", choices=TARGETS, default=list(TARGETS), help="targets to measure"
    )
    parser.add_argument("--litellm", default=str(DEFAULT_LITELLM), help="LiteLLM venv folder")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("MODELMINT_BENCH_POSTGRES_URL", DEFAULT_PG),
        help="PostgreSQL for the full mode (env MODELMINT_BENCH_POSTGRES_URL; create the "
        "database first: createdb modelmint_bench); its modelmint tables are DROPPED",
    )
    parser.add_argument("--log-level", default="warning", help="modelmint's log level (warning)")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="py-spy each modelmint server into DIR (py-spy from PATH or the LiteLLM venv)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (server logs)")
    return parser.parse_args(argv)


def interrupted(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, interrupted)
    tmp = Path(tempfile.mkdtemp(prefix="modelmint-bench-"))
    servers, results = Servers(tmp), {}
    try:
        upstream_port = free_port()
        fake = [sys.executable, str(HERE / "fake_upstream.py"), "--port", str(upstream_port)]
        upstream = servers.start("upstream", fake)
        servers.wait_ready(upstream, upstream_port, "/v1/chat/completions", None, 30)
        for name in [t for t in TARGETS if t in args.only]:
            log(f"{LABELS[name]}: starting")
            started = start_target(name, servers, upstream_port, args)
            if isinstance(started, str):
                log(f"{LABELS[name]}: skipped: {started}")
                results[name] = started
                continue
            port, path, token, proc = started
            runs = []
            for run in range(args.runs):
                runs.append(measure(port, path, token, vars(args), (proc or upstream).pid))
                r = runs[-1]
                log(f"  run {run + 1}/{args.runs}: {r['rps']:.0f} req/s, p50 {r['p50']:.2f} ms, "
                    f"p99 {r['p99']:.2f} ms, server CPU {r['cpu_ms']:.2f} ms/req, "
                    f"{r['failed']} failed")  # fmt: skip
            results[name] = median_of(runs)
            if args.profile and proc is not None and name != "litellm":
                profile(proc.pid, name, port, token, args)
            if proc is not None:
                servers.stop(proc)
    except KeyboardInterrupt:
        log("interrupted; stopping the servers")
        raise SystemExit(130) from None
    finally:
        servers.stop_all()
        if args.keep:
            log(f"logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(table(results, args.concurrency))


if __name__ == "__main__":
    main()
