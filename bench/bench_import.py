"""Benchmark: registry import of a generated 500 000-account file into a fresh store.

    .venv/bin/python bench/bench_import.py [--accounts 500000] [--runs 3]
    .venv/bin/python bench/bench_import.py --url postgresql://postgres@127.0.0.1:5432/postgres

Without `--url` each run imports into a new SQLite file; with it, into a new PostgreSQL
database (`gw_bench_<hex>`, created on that server and dropped after the run).

The file is generated once per (accounts, seed) under var/bench/. Each run imports it in
a child process into a new database, so the peak memory reported (ru_maxrss) is the
import's alone. Prints rows/s, seconds and peak MB per run, then the medians.
Target (2-core machine): under 60 s and under 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.registry import DEFAULT_BATCH  # noqa: E402 - after the path is set


def child(db_path: str, csv_path: str, batch: int) -> None:
    """Run one import and print its figures as JSON (runs in the child process)."""
    from storage.open import database_for, store_target
    from storage.registry import import_customers

    async def run() -> dict[str, float | int]:
        target = store_target(db_path if "://" in db_path else "", db_path)
        async with database_for(target) as db:
            started = time.perf_counter()
            report = await import_customers(db, csv_path, batch_size=batch)
            seconds = time.perf_counter() - started
        return {
            "rows": report.rows,
            "accounts": report.accounts,
            "meters": report.meters,
            "rejected": len(report.rejected),
            "seconds": seconds,
        }

    figures = asyncio.run(run())
    # ru_maxrss is in KiB on Linux
    figures["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(figures))


def _child_run(target: str, csv_path: Path, batch: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--batch", str(batch), "--child", target, str(csv_path)],
        check=True, capture_output=True, text=True, timeout=600,
    )
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def _run_on_postgresql(
    admin_url: str, batch: int, csv_path: Path
) -> tuple[dict[str, float], float]:
    """One import into a fresh PostgreSQL database; (figures, database MB)."""
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import asyncpg

    name = f"gw_bench_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def size() -> float:
        conn = await asyncpg.connect(admin_url)
        try:
            return float(await conn.fetchval("SELECT pg_database_size($1)", name)) / 2**20
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
        figures = _child_run(url, csv_path, batch)
        return figures, asyncio.run(size())
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> int:
    parser = argparse.ArgumentParser(description="registry import benchmark")
    parser.add_argument("--accounts", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--url", default="", help="a PostgreSQL server (its admin url)")
    parser.add_argument("--child", nargs=2, metavar=("DB", "CSV"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.batch)
        return 0

    from bench.gen_registry import write

    csv_path = ROOT / "var" / "bench" / f"registry-{args.accounts}-{args.seed}.csv"
    if not csv_path.exists():
        started = time.perf_counter()
        tmp = csv_path.with_suffix(".tmp")
        write(tmp, args.accounts, args.seed)
        tmp.replace(csv_path)
        print(f"generated {csv_path} in {time.perf_counter() - started:.1f} s", flush=True)
    size_mb = csv_path.stat().st_size / 2**20
    results = []
    for run in range(1, args.runs + 1):
        if args.url:
            figures, db_mb = _run_on_postgresql(args.url, args.batch, csv_path)
        else:
            with tempfile.TemporaryDirectory(prefix="bench-import-") as tmpdir:
                db_path = Path(tmpdir) / "gateway.db"
                figures = _child_run(str(db_path), csv_path, args.batch)
                db_mb = sum(p.stat().st_size for p in Path(tmpdir).iterdir()) / 2**20
        figures["rows_per_s"] = figures["rows"] / figures["seconds"]
        results.append(figures)
        print(
            f"run {run}: {figures['rows']} rows ({figures['accounts']} accounts,"
            f" {figures['meters']} meters, {figures['rejected']} rejected) in"
            f" {figures['seconds']:.1f} s = {figures['rows_per_s']:,.0f} rows/s,"
            f" peak {figures['peak_mb']:.0f} MB, database {db_mb:.0f} MB",
            flush=True,
        )
    print(
        f"median of {len(results)}: {statistics.median(r['seconds'] for r in results):.1f} s,"
        f" {statistics.median(r['rows_per_s'] for r in results):,.0f} rows/s,"
        f" peak {statistics.median(r['peak_mb'] for r in results):.0f} MB"
        f" (file {size_mb:.0f} MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
