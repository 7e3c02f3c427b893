"""Leadership takeover of several instances on one PostgreSQL (storage/cluster.py,
docs/operations.md "Several instances").

    .venv/bin/python bench/bench_cluster.py takeover [--rounds 5] [--heartbeat 5]
    .venv/bin/python bench/bench_cluster.py partition [--rounds 5] [--heartbeat 5]
    .venv/bin/python bench/bench_cluster.py claims [--rows 20000]

takeover: three processes run a `PgCluster` each on a fresh database (created and
dropped here, on 127.0.0.1:5432 as postgres); the leader is killed with SIGKILL, and the
time until another process reports itself leader is measured, `--rounds` times (the new
leader is killed in the next round, at a random moment of its heartbeat period; a fresh
process replaces each one killed). Prints each takeover time, the median and the maximum.

partition: the same three processes, each talking to PostgreSQL through a TCP proxy of
its own in this process (tests/cluster/proxy.py); the leader's proxy FREEZES (forwards
nothing either way, closes nothing: its host went silent) at a random moment of its
heartbeat period, and the time until another process reports itself leader is
measured, with the moment the frozen one reported that it stepped down (it must come
first). The frozen process is then killed and replaced. Prints both per round, the
medians and the maximums.

claims: `--rows` outbox rows on a fresh database, claimed (batches of 200, as the sender
does) and marked sent by 1, 2 and 4 "instances" (a `PgDatabase` pool each) at once:
rows a second in all, and a check that no row was claimed twice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from tests.cluster.proxy import FreezingProxy, through  # noqa: E402

ADMIN = os.environ.get("GATEWAY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_HOST = urlsplit(ADMIN).hostname or "127.0.0.1"
PG_PORT = urlsplit(ADMIN).port or 5432

CHILD = """
import asyncio, sys
sys.path.insert(0, {root!r})
from storage.cluster import PgCluster

async def main():
    async def told(leader):
        print("LEADER" if leader else "FOLLOWER", flush=True)
    cluster = PgCluster({dsn!r}, {name!r}, heartbeat={heartbeat})
    await cluster.start(told)
    print("STARTED", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


class Instance:
    def __init__(
        self, proc: asyncio.subprocess.Process, name: str, proxy: FreezingProxy | None = None
    ) -> None:
        self.proc = proc
        self.name = name
        self.proxy = proxy  # the one its PostgreSQL connections go through, if any
        self.leader = asyncio.Event()
        self.stepped_down_at: float | None = None  # time.perf_counter() of "FOLLOWER"
        self.started = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            text = line.decode().strip()
            if text == "LEADER":
                self.leader.set()
            elif text == "FOLLOWER":
                self.stepped_down_at = time.perf_counter()
            elif text == "STARTED":
                self.started.set()

    async def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        if self.proxy is not None:
            await self.proxy.close()


async def spawn(dsn: str, name: str, heartbeat: float, *, proxied: bool = False) -> Instance:
    proxy = None
    if proxied:
        proxy = FreezingProxy(PG_HOST, PG_PORT)
        dsn = through(dsn, await proxy.start())
    code = CHILD.format(root=str(ROOT), dsn=dsn, name=name, heartbeat=heartbeat)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE
    )
    instance = Instance(proc, name, proxy)
    await asyncio.wait_for(instance.started.wait(), 30)
    return instance


@contextlib.asynccontextmanager
async def fresh_database(*, cluster_tables: bool) -> AsyncIterator[str]:
    """The url of a new database (with the cluster's table, migration 009, if asked),
    dropped afterwards."""
    admin = await asyncpg.connect(ADMIN)
    name = f"gw_bench_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = ADMIN.rpartition("/")[0] + "/" + name
    try:
        if cluster_tables:
            conn = await asyncpg.connect(dsn)
            sql = (resources.files("storage") / "migrations" / "009_cluster.pg.sql").read_text()
            await conn.execute(sql)
            await conn.close()
        yield dsn
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def partition(rounds: int, heartbeat: float) -> list[tuple[float, float | None]]:
    """(takeover, step-down of the frozen leader) after each freeze, in seconds."""
    results: list[tuple[float, float | None]] = []
    async with fresh_database(cluster_tables=True) as dsn:
        instances: list[Instance] = []
        try:
            for n in range(3):
                instances.append(await spawn(dsn, f"gw{n}", heartbeat, proxied=True))
            for round_no in range(rounds):
                # Freeze at a random moment of the leader's heartbeat period: how long
                # ago its last statement ran decides when the server ends its session.
                await asyncio.sleep(random.uniform(0, heartbeat))  # noqa: S311
                [leader] = [i for i in instances if i.leader.is_set()]
                others = [i for i in instances if i is not leader]
                assert leader.proxy is not None
                started = time.perf_counter()
                leader.proxy.freeze()
                waits = [asyncio.create_task(i.leader.wait()) for i in others]
                await asyncio.wait(waits, timeout=60, return_when=asyncio.FIRST_COMPLETED)
                elapsed = time.perf_counter() - started
                for task in waits:
                    task.cancel()
                down = (
                    None if leader.stepped_down_at is None
                    else leader.stepped_down_at - started
                )
                results.append((elapsed, down))
                print(f"round {round_no + 1}: {leader.name} frozen, stepped down after "
                      f"{'never' if down is None else f'{down:.2f} s'}, "
                      f"{[i.name for i in others if i.leader.is_set()]} leads after "
                      f"{elapsed:.2f} s", flush=True)
                await leader.kill()
                instances = [
                    *others, await spawn(dsn, f"gw{3 + round_no}", heartbeat, proxied=True)
                ]
        finally:
            for instance in instances:
                await instance.kill()
    return results


async def takeover(rounds: int, heartbeat: float) -> list[float]:
    times: list[float] = []
    async with fresh_database(cluster_tables=True) as dsn:
        instances: list[Instance] = []
        try:
            for n in range(3):
                instances.append(await spawn(dsn, f"gw{n}", heartbeat))
            for round_no in range(rounds):
                # Kill at a random moment of the heartbeat period (the takeover waits for
                # the followers' next try, so the phase decides it).
                await asyncio.sleep(random.uniform(0, heartbeat))  # noqa: S311
                [leader] = [i for i in instances if i.leader.is_set()]
                others = [i for i in instances if i is not leader]
                started = time.perf_counter()
                leader.proc.send_signal(signal.SIGKILL)
                waits = [asyncio.create_task(i.leader.wait()) for i in others]
                await asyncio.wait(waits, timeout=60, return_when=asyncio.FIRST_COMPLETED)
                elapsed = time.perf_counter() - started
                for task in waits:
                    task.cancel()
                await leader.proc.wait()
                times.append(elapsed)
                print(f"round {round_no + 1}: {leader.name} killed, "
                      f"{[i.name for i in others if i.leader.is_set()]} leads after "
                      f"{elapsed:.2f} s", flush=True)
                instances = [*others, await spawn(dsn, f"gw{3 + round_no}", heartbeat)]
        finally:
            for instance in instances:
                await instance.kill()
    return times


async def claims(rows: int, instances: int) -> float:
    from datetime import timedelta

    from bot.core import ChannelName, Outbound
    from storage.db import utcnow
    from storage.pg import PgDatabase
    from storage.store import Store

    async with fresh_database(cluster_tables=False) as dsn:
        stores: list[Store] = []
        try:
            for _ in range(instances):
                db = PgDatabase(dsn)
                await db.open()
                stores.append(Store.over(db))
            payload = Outbound(channel=ChannelName.SMS, address="+79120000000", text="x")
            await stores[0].db.executemany(
                "INSERT INTO outbox (channel, address, payload, priority, status, not_before,"
                " created_at, idempotency_key) VALUES ('sms', ?, ?, 20, 'queued', ?, ?, ?)",
                [(f"+7912{n:07d}", payload.model_dump_json(), "2000-01-01T00:00:00+00:00",
                  "2000-01-01T00:00:00+00:00", f"b{n}") for n in range(rows)],
            )
            claimed: list[int] = []

            async def instance(store: Store) -> None:
                while True:
                    items = await store.outbox.claim(utcnow(), 200, timedelta(seconds=60))
                    if not items:
                        return
                    claimed.extend(item.id for item in items)
                    await store.outbox.mark_sent_many(
                        [(item.id, "sms", [f"m{item.id}"], 1) for item in items], utcnow()
                    )

            started = time.perf_counter()
            await asyncio.gather(*(instance(store) for store in stores))
            elapsed = time.perf_counter() - started
            assert len(claimed) == len(set(claimed)) == rows, "a row claimed twice or lost"
            return rows / elapsed
        finally:
            for store in stores:
                await store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["takeover", "partition", "claims"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--heartbeat", type=float, default=5.0)
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    if args.what == "claims":
        for instances in (1, 2, 4):
            rate = asyncio.run(claims(args.rows, instances))
            print(f"claims: {args.rows} rows, {instances} instance(s): {rate:,.0f} rows/s, "
                  "none twice")
        return
    if args.what == "partition":
        results = asyncio.run(partition(args.rounds, args.heartbeat))
        taken = [took for took, _ in results]
        downs = [down for _, down in results if down is not None]
        first = sum(1 for took, down in results if down is not None and down < took)
        print(f"takeover after a frozen leader, heartbeat {args.heartbeat:g} s, 3 instances, "
              f"{len(results)} rounds: median {statistics.median(taken):.2f} s, "
              f"max {max(taken):.2f} s; the frozen leader stepped down after: median "
              f"{statistics.median(downs) if downs else float('nan'):.2f} s, max "
              f"{max(downs) if downs else float('nan'):.2f} s; before the takeover in "
              f"{first} of {len(results)} rounds")
        return
    times = asyncio.run(takeover(args.rounds, args.heartbeat))
    print(f"takeover after SIGKILL, heartbeat {args.heartbeat:g} s, 3 instances, "
          f"{len(times)} rounds: median {statistics.median(times):.2f} s, "
          f"max {max(times):.2f} s")


if __name__ == "__main__":
    main()
