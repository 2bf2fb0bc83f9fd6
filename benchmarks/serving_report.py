"""The markdown report of benchmarks/serving.py: the results table, the acceptance checks
(ratios against the peers measured in the same run), prefix reuse and resident memory."""

from __future__ import annotations

EARLIER = (
    "Measured earlier on this machine (DESIGN.md): llama-server 84 tok/s at 1 client, "
    "142 at 8; llama-cpp-python's server 66 at 1, 47 at 8."
)


def fmt(value: float, scale: float = 1.0, digits: int = 3) -> str:
    return "-" if value != value else f"{value * scale:.{digits}f}"


def report(results: dict[str, dict | str], args) -> str:
    how = (
        f"{args.requests} requests per level"
        if args.requests
        else f"clients back to back for {args.seconds:g} s after {args.warmup:g} s warm-up"
    )
    runs = f"medians of {args.runs} runs" if args.runs > 1 else "1 run"
    out = [
        f"## Streamed chat, {args.max_tokens}-token answers ({how}; {runs})",
        "",
        "| server | clients | output tok/s | TTFT p50 s | TTFT p95 s | ITL p50 ms "
        "| tokens/answer | requests | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, value in results.items():
        if isinstance(value, str):
            out.append(f"| {name} | skipped: {value} | | | | | | | |")
            continue
        for level, m in value.get("levels", {}).items():
            out.append(
                f"| {name} | {level} | {fmt(m['tok_s'], digits=1)} | {fmt(m['ttft_p50'])} | "
                f"{fmt(m['ttft_p95'])} | {fmt(m['itl_p50'], 1000, 1)} | "
                f"{fmt(m['tok_per_req'], digits=0)} | {fmt(m['requests'], digits=0)} | "
                f"{m['errors']} |"
            )
    out += ["", EARLIER]
    if "modelmint" in results:
        out += ["", *checks(results)]
    out += ["", *prefix_table(results), "", *memory_table(results)]
    return "\n".join(out)


def level_value(results: dict, name: str, level: int, key: str) -> float | None:
    value = results.get(name)
    if not isinstance(value, dict) or level not in value.get("levels", {}):
        return None
    return value["levels"][level][key]


def checks(results: dict) -> list[str]:
    """The acceptance checks: ratios against the peers measured in this run."""
    rows = ["## Checks", "", "| check | measured | target | met |", "|---|---:|---:|---|"]

    def ratio(level: int, peer: str, label: str, target: float) -> None:
        mine = level_value(results, "modelmint", level, "tok_s")
        theirs = level_value(results, peer, level, "tok_s")
        if mine is None or not theirs:
            rows.append(f"| {label} | not measured | >= {target:g}x | |")
        else:
            rows.append(
                f"| {label} | {mine / theirs:.2f}x | >= {target:g}x | "
                f"{'yes' if mine / theirs >= target else 'NO'} |"
            )

    ratio(1, "llama-server", "modelmint / llama-server tok/s, 1 client", 0.95)
    ratio(8, "llama-server", "modelmint / llama-server tok/s, 8 clients", 1.0)
    ratio(8, "llama-cpp-python", "modelmint / llama-cpp-python tok/s, 8 clients", 3.0)
    ttft = level_value(results, "modelmint", 8, "ttft_p50")
    if ttft is None:
        rows.append("| modelmint TTFT p50, 8 clients | not measured | <= 0.5 s | |")
    else:
        rows.append(
            f"| modelmint TTFT p50, 8 clients | {ttft:.3f} s | <= 0.5 s | "
            f"{'yes' if ttft <= 0.5 else 'NO'} |"
        )
    mine = results.get("modelmint")
    if isinstance(mine, dict) and "prefix" in mine:
        r = mine["prefix"]["ratio"]
        rows.append(
            f"| modelmint prefix reuse: TTFT 2nd / 1st | {fmt(r, digits=2)}x | < 0.5x | "
            f"{'yes' if r < 0.5 else 'NO'} |"
        )
    if isinstance(mine, dict) and "rss" in mine:
        gb = mine["rss"] / 1024
        rows.append(
            f"| modelmint RSS after warm-up (default models) | {gb:.2f} GB | <= 1.5 GB "
            f"| {'yes' if gb <= 1.5 else 'NO'} |"
        )
    return rows


def prefix_table(results: dict) -> list[str]:
    rows = [
        "## Prefix reuse (same ~300-token system prompt, then another question; medians)",
        "",
        "| server | prompt tokens | TTFT 1st s | TTFT 2nd s | 2nd / 1st | pairs | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, value in results.items():
        if isinstance(value, dict) and "prefix" in value:
            p = value["prefix"]
            rows.append(
                f"| {name} | {fmt(p['prompt_tokens'], digits=0)} | {fmt(p['first'])} | "
                f"{fmt(p['second'])} | {fmt(p['ratio'], digits=2)} | {p['pairs']} | "
                f"{p['errors']} |"
            )
    return rows if len(rows) > 4 else []


def memory_table(results: dict) -> list[str]:
    rows = [
        "## Resident memory (all the server's processes)",
        "",
        "| server | RSS after warm-up MB | peak RSS MB |",
        "|---|---:|---:|",
    ]
    for name, value in results.items():
        if isinstance(value, dict) and "rss" in value:
            rows.append(f"| {name} | {value['rss']:.0f} | {value.get('peak', float('nan')):.0f} |")
    return rows if len(rows) > 4 else []
