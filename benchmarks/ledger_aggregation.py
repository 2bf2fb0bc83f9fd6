"""How long a month's usage report takes for an org with a million ledger rows.

Fills a fresh database with `--rows` ledger rows for one org in one month (plus rows of
other orgs and months around it), then times `usage_by(month, "model", org)`, the query
behind `modelmint usage` and invoices. Target: under a second for a million rows.

    python benchmarks/ledger_aggregation.py                      # SQLite in a temp dir
    python benchmarks/ledger_aggregation.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from modelmint.billing.reports import usage_by
from modelmint.store.database import Database
from modelmint.store.tables import metadata, usage_ledger

MODELS = ["smollm2-135m-instruct", "all-minilm-l6-v2", "gpu-llama", "gpu-qwen"]


def rows(count: int, org_id: str, month_start: datetime, seed: int):
    rng = random.Random(seed)
    for index in range(count):
        prompt, completion = rng.randint(5, 800), rng.randint(0, 400)
        yield {
            "request_id": f"req_{org_id[-4:]}{seed}_{index:09d}",
            "created_at": month_start + timedelta(seconds=rng.randint(0, 29 * 86400)),
            "org_id": org_id,
            "key_id": f"key_{rng.randint(0, 9)}",
            "model": rng.choice(MODELS),
            "endpoint": "chat.completions",
            "status": "ok",
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "latency_ms": rng.uniform(20, 900),
            "ttft_ms": rng.uniform(5, 300),
            "compute_seconds": rng.uniform(0.01, 2),
            "price_nanos": prompt * 100 + completion * 200,
            "cost_nanos": rng.randint(100, 20_000),
        }


def fill(database: Database, count: int, batch: int = 50_000) -> None:
    plan = [
        ("org_target", datetime(2026, 11, 1), count, 1),
        ("org_other", datetime(2026, 11, 1), count // 5, 2),
        ("org_target", datetime(2026, 10, 1), count // 5, 3),
    ]
    for org_id, start, size, seed in plan:
        buffer = []
        for row in rows(size, org_id, start, seed):
            buffer.append(row)
            if len(buffer) == batch:
                database.run(lambda c, b=buffer: c.execute(insert(usage_ledger), b))
                buffer = []
                print(".", end="", file=sys.stderr, flush=True)
        if buffer:
            database.run(lambda c, b=buffer: c.execute(insert(usage_ledger), b))
    print(file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for the org's month")
    parser.add_argument("--runs", type=int, default=5, help="timed runs (median reported)")
    parser.add_argument("--database-url", help="a database to fill (its tables are dropped)")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'ledger.db'}"
    database = Database(url)
    with database.engine.begin() as connection:
        metadata.drop_all(connection)
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    database.migrate()
    print(
        f"filling {args.rows:,} rows (+40% elsewhere) into {database.engine.url!r}", file=sys.stderr
    )
    started = time.perf_counter()
    fill(database, args.rows)
    print(f"filled in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    # what autovacuum does on a live PostgreSQL; the first read after a bulk load also
    # writes hint bits and is several times slower (1.5 s here for a million rows)
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql("ANALYZE" if database.is_sqlite else "VACUUM ANALYZE usage_ledger")
    timings = []
    for _ in range(args.runs):
        started = time.perf_counter()
        with database.read_engine.connect() as connection:
            report = usage_by(connection, "2026-11", "model", "org_target")
        timings.append(time.perf_counter() - started)
    assert sum(r.requests for r in report) == args.rows
    backend = "SQLite" if database.is_sqlite else "PostgreSQL"
    print("| database | rows | median seconds | runs |\n|---|---|---|---|")
    print(f"| {backend} | {args.rows:,} | {statistics.median(timings):.3f} | {args.runs} |")
    database.close()


if __name__ == "__main__":
    main()
