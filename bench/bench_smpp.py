"""SMPP session benchmarks against the in-process SMSC simulator over loopback.

    .venv/bin/python bench/bench_smpp.py [throughput|latency|throttled|codec|binds|all]

- throughput: submit_sm parts per second through one bind (window 50, TPS unlimited).
- latency: MO → reply latency (median, p99) at 100 MO/s with a trivial echo responder.
- throttled: 5 000 messages with tps=500 to an SMSC accepting 100 submit_sm/s (the rest
  ESME_RTHROTTLED): wall time and rejections.
- codec: µs per submit_sm build / parse, smpplib vs the fast path.
- binds: parts/s through `SmsChannel` with `[smpp] binds` 1 and 2 (docs/interfaces.md
  §13): with each bind's tps as the operator grants it (200/s), with tps unlimited (what
  one process can do), and with `tps_total` 300 over two binds of 200/s. Not in `all`.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr  # noqa: E402

from bot.core import ChannelName, DeliveryReport, Inbound, Outbound  # noqa: E402
from bot.settings import SmppSettings  # noqa: E402
from sms_gateway.channel import SmsChannel  # noqa: E402
from sms_gateway.fragments import MemoryFragmentStore  # noqa: E402
from sms_gateway.pdu import SUBMIT_SM, SequenceCounter, ShortMessage, encode_sm, parse_sm  # noqa: E402
from sms_gateway.session import SmppSession  # noqa: E402
from sms_gateway.simulator import SmscSimulator  # noqa: E402

PASSWORD = "benchpw"


def settings(port: int, **kw: object) -> SmppSettings:
    values: dict[str, object] = {
        "port": port,
        "password": SecretStr(PASSWORD),
        "tps": 100_000,
        "window": 50,
        "response_timeout": 10,
    }
    values.update(kw)
    return SmppSettings.model_validate(values)


async def throughput(parts: int = 20_000, window: int = 50) -> float:
    async with SmscSimulator(password=PASSWORD) as smsc:
        smsc.receipts = False
        session = SmppSession(
            "127.0.0.1", smsc.port, "gateway", PASSWORD, tps=1e9, window=window
        )
        async with session:
            await session.wait_bound(5)
            sm = ShortMessage(source="7555", destination="79121234567", dest_ton=1,
                              dest_npi=1, short_message=b"x" * 140)
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(parts):
                queue.put_nowait(i)

            async def worker() -> None:
                while not queue.empty():
                    queue.get_nowait()
                    outcome = await session.submit(sm)
                    assert outcome.ok

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(window * 2)))
            elapsed = time.perf_counter() - start
    rate = parts / elapsed
    print(f"throughput: {parts} parts in {elapsed:.2f} s = {rate:,.0f} parts/s (window {window})")
    return rate


async def latency(count: int = 1000, rate: float = 100.0) -> tuple[float, float]:
    async with SmscSimulator(password=PASSWORD) as smsc:
        smsc.receipts = False
        sms = SmsChannel(settings(smsc.port, tps=1000, window=10), MemoryFragmentStore())
        sent_at: dict[str, float] = {}
        latencies: list[float] = []
        done = asyncio.Event()
        tasks: set[asyncio.Task[object]] = set()

        async def echo(message: Inbound) -> bool:
            task = asyncio.create_task(sms.send(Outbound(
                channel=ChannelName.SMS, address=message.address, text="OK " + message.text,
                source=message.to)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            return True

        original = smsc._submit  # noqa: SLF001 - timestamp MTs as the SMSC takes them

        def on_submit(conn: object, sequence: int, pdu: bytes) -> None:
            original(conn, sequence, pdu)  # type: ignore[arg-type]
            text = parse_sm(pdu[16:]).short_message.decode("latin-1")
            key = text.removeprefix("OK ")
            if key in sent_at:
                latencies.append(time.perf_counter() - sent_at.pop(key))
                if len(latencies) == count:
                    done.set()

        smsc._submit = on_submit  # type: ignore[method-assign]  # noqa: SLF001
        await sms.start(echo, _ignore)
        try:
            interval = 1.0 / rate
            start = time.perf_counter()
            injections = []
            for i in range(count):
                target = start + i * interval
                delay = target - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                text = f"m{i:06d}"
                sent_at[text] = time.perf_counter()
                injections.append(asyncio.create_task(smsc.inject_mo(f"7912{i:07d}", text)))
            await asyncio.gather(*injections)
            await asyncio.wait_for(done.wait(), 30)
        finally:
            await sms.stop()
    latencies.sort()
    median = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(f"latency: {count} MO at {rate:g}/s, MO→reply median {median:.1f} ms, p99 {p99:.1f} ms")
    return median, p99


async def _accept(_: Inbound) -> bool:
    """`on_inbound` of a channel whose MOs the bench does not look at."""
    return True


async def _ignore(_: DeliveryReport) -> None:
    """`on_report` of a channel whose receipts the bench does not look at."""


async def throttled(messages: int = 5000, accept_tps: int = 100, tps: int = 500) -> None:
    async with SmscSimulator(password=PASSWORD, max_tps=accept_tps) as smsc:
        smsc.receipts = False
        sms = SmsChannel(settings(smsc.port, tps=tps, window=10), MemoryFragmentStore(),
                         send_timeout=600)

        await sms.start(_accept, _ignore)
        try:
            start = time.perf_counter()
            results = await asyncio.gather(*(
                sms.send(Outbound(channel=ChannelName.SMS, address=f"+7912{i:07d}", text="x"))
                for i in range(messages)
            ))
            elapsed = time.perf_counter() - start
        finally:
            await sms.stop()
        ok = sum(r.ok for r in results)
        stats = sms.session.stats
        share = 100 * stats.throttled / max(1, stats.submits_sent)
        print(
            f"throttled: {ok}/{messages} accepted in {elapsed:.1f} s; {stats.throttled} of "
            f"{stats.submits_sent} submits rejected ({share:.2f} %); "
            f"final pace {sms.session.pacer.rate:.1f}/s"
        )


async def binds_run(binds: int, parts: int, **kw: object) -> float:
    """Parts per second of `parts` single-part SMS through one channel of `binds`."""
    async with SmscSimulator(password=PASSWORD, keep_messages=False) as smsc:
        smsc.receipts = False
        sms = SmsChannel(settings(smsc.port, binds=binds, **kw), MemoryFragmentStore(),
                         send_timeout=600)

        await sms.start(_accept, _ignore)
        try:
            for _ in range(500):  # every bind up (bounded: 5 s)
                if smsc.bound_count() == binds:
                    break
                await asyncio.sleep(0.01)
            start = time.perf_counter()
            results = await asyncio.gather(*(
                sms.send(Outbound(channel=ChannelName.SMS, address=f"+7912{i:07d}", text="x"))
                for i in range(parts)
            ))
            elapsed = time.perf_counter() - start
        finally:
            await sms.stop()
        assert all(result.ok for result in results)
        by_bind = dict(sorted(smsc.submits_by_bind.items()))
    rate = parts / elapsed
    options = ", ".join(f"{key} {value}" for key, value in kw.items())
    print(f"binds={binds} ({options}): {parts} parts in {elapsed:.2f} s = {rate:,.0f} parts/s;"
          f" per bind {by_bind}")
    return rate


async def binds_bench() -> None:
    for tps, parts in ((200, 2000), (100_000, 20_000)):
        one = await binds_run(1, parts, tps=tps)
        two = await binds_run(2, parts, tps=tps)
        print(f"  binds=2 / binds=1 at tps {tps}: ×{two / one:.2f}")
    await binds_run(2, 1500, tps=200, tps_total=300)


def codec_bench() -> None:
    from smpplib import smpp

    counter = SequenceCounter()
    sm = ShortMessage(source="7555", destination="79121234567", dest_ton=1, dest_npi=1,
                      registered_delivery=1, short_message=b"x" * 140)
    kwargs = dict(source_addr="7555", destination_addr="79121234567", dest_addr_ton=1,
                  dest_addr_npi=1, registered_delivery=1, short_message=b"x" * 140)
    n = 20_000
    slow = timeit.timeit(lambda: smpp.make_pdu("submit_sm", client=counter, **kwargs).generate(),
                         number=n) / n * 1e6
    fast = timeit.timeit(lambda: encode_sm(SUBMIT_SM, 1, sm), number=n) / n * 1e6
    data = encode_sm(SUBMIT_SM, 1, sm)
    slow_parse = timeit.timeit(lambda: smpp.parse_pdu(data, client=counter), number=n) / n * 1e6
    fast_parse = timeit.timeit(lambda: parse_sm(data[16:]), number=n) / n * 1e6
    print(f"codec: submit_sm build smpplib {slow:.1f} µs, fast {fast:.1f} µs; "
          f"parse smpplib {slow_parse:.1f} µs, fast {fast_parse:.1f} µs")


async def main(which: str) -> None:
    if which in ("codec", "all"):
        codec_bench()
    if which in ("throughput", "all"):
        await throughput()
    if which in ("latency", "all"):
        await latency()
    if which in ("throttled", "all"):
        await throttled()
    if which == "binds":
        await binds_bench()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "all"))
