"""Benchmark: one and two `gateway run` instances on one PostgreSQL database (issue #14).

    .venv/bin/python bench/bench_instances.py [--recipients 100000] [--instances 1,2]
        [--mo-rate 100] [--mo-seconds 30] [--window 10] [--binds 1] [--receipts] [--lease 30]
        [--url postgresql://postgres@127.0.0.1:5432/postgres] [--store postgresql|sqlite]

Whole processes over loopback, as tests/bot/test_instances_e2e.py runs them
(tests/bot/instances.py): this process runs the SMSC (`SmscSimulator`, no TPS cap,
counting parts instead of keeping them during the broadcast) and starts the instances
as `gateway run` subprocesses with one shared settings file (`[smpp] simulator = false`,
`[smpp] tps` per bind far above what is reached, `tps_total = 0`), each with its own
`[api] port` and instance id from the environment. Each case gets a fresh database
(CREATE DATABASE on the server of `--url`, dropped at the end) with the registry loaded
through the store's import (what `gateway import customers` runs).

- broadcast: an outage notice to `--recipients` people (2 UCS2 parts each) started with
  `POST /api/outages`; msgs/s = recipients ÷ seconds from the request to the last part
  at the SMSC; with 1 and with 2 instances, and the ratio. CPU seconds of each instance
  over the same span (Linux /proc) say who was busy.
- latency: with 2 instances, readings (single SMS, each from its own account) injected
  by the SMSC at `--mo-rate` per second for `--mo-seconds`, their parts spread over the
  binds of both instances; latency = from the MO's deliver_sm to the last part of its
  reply at the SMSC; p50, p99, max.

What limits: not the SMSC's TPS (none) nor `[smpp] tps`; the SMPP window (`--window`
outstanding submit_sm per bind) times the round trip, each part's submit journal commit
in PostgreSQL, and the CPU of a shared 2-core box that runs the SMSC, PostgreSQL and the
instances together. Prints one JSON object; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sms_gateway.simulator import SmscSimulator  # noqa: E402 - after the path set-up
from tests.bot.instances import (  # noqa: E402
    REPLY,
    SMPP_PASSWORD,
    Instance,
    Mo,
    Population,
    fresh_pg_database,
    import_registry,
    outage_body,
    stop_all,
    until,
    wire_messages,
    write_settings,
)

TICK = os.sysconf("SC_CLK_TCK")
START = 120.0  # seconds: bound on an instance's start and on the import
PARTS = 2


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


@contextlib.asynccontextmanager
async def store_for(args: argparse.Namespace, work: Path) -> AsyncIterator[str]:
    if args.store == "sqlite":
        yield str(work / "gw.db")
        return
    async with fresh_pg_database(args.url, prefix="gw_bench_") as url:
        if args.no_sync_commit:  # diagnosis only: is the WAL flush per commit the limit?
            import asyncpg

            conn = await asyncpg.connect(url)
            try:
                name = url.rpartition("/")[2]
                await conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
            finally:
                await conn.close()
        yield url


@contextlib.asynccontextmanager
async def deployment(
    args: argparse.Namespace, work: Path, smsc: SmscSimulator, population: Population,
    count: int,
) -> AsyncIterator[list[Instance]]:
    """A fresh store with `population` imported and `count` instances up and bound."""
    async with store_for(args, work) as store:
        cfg = work / "gateway.toml"
        write_settings(cfg, store=store, smsc_port=smsc.port, tps=100_000, window=args.window,
                       binds=args.binds, lease_seconds=args.lease, receipts=args.receipts,
                       log_level="WARNING")
        registry = work / "registry.csv"
        population.write_csv(registry)
        await import_registry(store, registry)
        instances = [Instance(f"bench-{n}", cfg, work / f"bench-{n}.log")
                     for n in range(1, count + 1)]
        try:
            for instance in instances:
                await instance.start()
            for instance in instances:
                await instance.wait_up(START)
            bound = count * args.binds

            async def all_bound() -> bool:
                return smsc.bound_count() >= bound

            await until(all_bound, "every bind up", START)
            yield instances
        finally:
            await stop_all(instances)


async def broadcast(args: argparse.Namespace, work: Path, count: int) -> dict[str, Any]:
    async with SmscSimulator(system_id="gateway", password=SMPP_PASSWORD,
                             keep_messages=False) as smsc:
        population = Population(args.recipients, 0)
        async with deployment(args, work, smsc, population, count) as instances:
            pids = [i.proc.pid for i in instances if i.proc is not None]
            cpu_before = [cpu_seconds(pid) for pid in pids]
            before = smsc.accepted
            target = before + args.recipients * PARTS
            started = time.perf_counter()
            status, report = await instances[0].api("POST", "/api/outages", outage_body())
            if status != 200:
                raise RuntimeError(f"broadcast refused: {report}")
            if report["sms_parts"] != PARTS:
                raise RuntimeError(f"the notice has {report['sms_parts']} parts, not {PARTS}")
            requested = time.perf_counter() - started
            last = (before, started)
            deadline = started + args.max_seconds
            while smsc.accepted < target and time.perf_counter() < deadline:
                await asyncio.sleep(0.01)
                if smsc.accepted != last[0]:
                    last = (smsc.accepted, time.perf_counter())
            seconds = last[1] - started
            cpu = [round(cpu_seconds(pid) - b, 1) for pid, b in zip(pids, cpu_before,
                                                                  strict=True)]
            # Parts beyond the target (re-sent ones) keep coming after it was reached:
            # look again once the instances have had time to send them.
            await asyncio.sleep(3.0)
            by_bind = dict(sorted(smsc.submits_by_bind.items()))
            parts = smsc.accepted - before
    return {
        "instances": count,
        "recipients": args.recipients,
        "parts": parts,
        "reached": parts >= args.recipients * PARTS,
        "request_seconds": round(requested, 2),
        "seconds": round(seconds, 2),
        "msgs_per_second": round(args.recipients / seconds) if seconds else None,
        "parts_per_second": round(parts / seconds) if seconds else None,
        "cpu_seconds_per_instance": cpu,
        "parts_by_bind": by_bind,
        # accepted beyond recipients × parts by 3 s after the last expected one (parts
        # are counted, not kept, so a lost part would hide a duplicate: the end-to-end
        # test counts both exactly)
        "parts_beyond_expected": max(0, parts - args.recipients * PARTS),
    }


async def latency(args: argparse.Namespace, work: Path, count: int) -> dict[str, Any]:
    total = int(args.mo_rate * args.mo_seconds)
    warm = 20 * count  # first messages load the parser's dictionaries: not measured
    population = Population(0, warm + total)
    mos = [Mo(population.talker_phone(i), population.talker_account(i), 4010 + i % 50,
              1505 + i % 30, long=False) for i in range(warm + total)]
    async with (
        SmscSimulator(system_id="gateway", password=SMPP_PASSWORD) as smsc,
        deployment(args, work, smsc, population, count),
    ):
        for mo in mos[:warm]:
            await smsc.inject_mo(mo.phone, mo.text, wait=60)

        def answered(phones: list[str]) -> int:
            wire = wire_messages(smsc)
            return sum(1 for phone in phones if any(m.complete for m in wire.get(phone, [])))

        warm_phones = [mo.phone.lstrip("+") for mo in mos[:warm]]

        async def warmed() -> bool:
            return answered(warm_phones) >= warm

        await until(warmed, "the warm-up MOs answered", START, 0.2)
        sent_at: dict[str, datetime] = {}
        tasks = []
        step = 1.0 / args.mo_rate
        loop = asyncio.get_running_loop()
        begin = loop.time()
        for n, mo in enumerate(mos[warm:]):
            delay = begin + n * step - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            sent_at[mo.phone.lstrip("+")] = datetime.now(UTC)
            tasks.append(asyncio.ensure_future(smsc.inject_mo(mo.phone, mo.text, wait=60)))
        injected = loop.time() - begin
        acks = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 120)
        phones = list(sent_at)

        async def all_answered() -> bool:
            return answered(phones) >= total

        with contextlib.suppress(AssertionError):
            await until(all_answered, "every MO answered", args.max_seconds, 0.5)
        wire = wire_messages(smsc)
    delays: list[float] = []
    wrong = extra = twice = 0
    last_done: datetime | None = None
    completed_at = {}
    for index, part in enumerate(smsc.submitted):
        completed_at[index] = part.received_at
    for phone, at in sent_at.items():
        replies = [m for m in wire.get(phone, []) if m.complete]
        if not replies:
            continue
        first = replies[0]
        if REPLY.search(first.text) is None:
            wrong += 1
        twice += len(replies) > 1
        extra += sum(m.extra_parts for m in replies)
        assert first.completed_at is not None
        done = completed_at[first.completed_at]
        last_done = max(last_done or done, done)
        delays.append((done - at).total_seconds() * 1000)
    delays.sort()
    span = (last_done - min(sent_at.values())).total_seconds() if last_done else 0.0

    def pct(q: float) -> float | None:
        if not delays:
            return None
        return round(delays[min(len(delays) - 1, int(q * len(delays)))], 1)

    return {
        "instances": count,
        "mo": total,
        "mo_rate": args.mo_rate,
        "injected_seconds": round(injected, 2),
        "acknowledged": sum(1 for a in acks if isinstance(a, list) and a == [0] * len(a)),
        "answered": len(delays),
        "not_an_accepted_reading": wrong,
        "answered_twice": twice,      # a second reply message: the MO handled twice
        "reply_parts_resent": extra,  # a part of one reply accepted twice
        # replies per second from the first MO to the last reply: below the MO rate,
        # the gateway falls behind and the latency grows with the run's length
        "answered_per_second": round(len(delays) / span, 1) if span else None,
        "p50_ms": round(statistics.median(delays), 1) if delays else None,
        "p99_ms": pct(0.99),
        "max_ms": round(delays[-1], 1) if delays else None,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"store": args.store, "window": args.window, "binds": args.binds,
                              "receipts": args.receipts, "lease_seconds": args.lease,
                              "synchronous_commit": not args.no_sync_commit}
    counts = [int(n) for n in args.instances.split(",") if n]
    with tempfile.TemporaryDirectory(prefix="bench-instances-") as tmp:
        if args.recipients:
            runs = []
            for count in counts:
                work = Path(tmp) / f"broadcast-{count}"
                work.mkdir()
                runs.append(await broadcast(args, work, count))
                print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
            result["broadcast"] = runs
            rates = {r["instances"]: r["msgs_per_second"] for r in runs}
            if rates.get(1) and rates.get(2):
                result["ratio_2_to_1"] = round(rates[2] / rates[1], 2)
        if args.mo_seconds > 0:
            work = Path(tmp) / "latency"
            work.mkdir()
            result["latency"] = await latency(args, work, max(counts))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--instances", default="1,2", help="comma-separated counts")
    parser.add_argument("--mo-rate", type=float, default=100.0, help="MO per second")
    parser.add_argument("--mo-seconds", type=float, default=30.0, help="0: no latency run")
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--binds", type=int, default=1, help="[smpp] binds per instance")
    parser.add_argument("--lease", type=float, default=30.0,
                        help="[notifications] lease_seconds")
    parser.add_argument("--receipts", action="store_true",
                        help="ask for delivery receipts (the SMSC sends one per part)")
    parser.add_argument("--no-sync-commit", action="store_true",
                        help="diagnosis only: the bench database with synchronous_commit ="
                        " off (a PostgreSQL crash could then lose the last commits, the"
                        " submit journal's included: not for production)")
    parser.add_argument("--store", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--url", default=os.environ.get(
        "GATEWAY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="a database on the server to create the bench's databases from")
    parser.add_argument("--max-seconds", type=float, default=300.0,
                        help="bound on each phase's wait")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), ensure_ascii=False))


if __name__ == "__main__":
    main()
