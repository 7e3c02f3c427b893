"""A benchmark peer in its own process: the SMSC simulator or the fake Bot API server.

    .venv/bin/python bench/peers.py smsc|telegram [--max-seconds 1800]

Started by bench/bench_broadcast.py so that the measured process is the gateway side
only. The peer counts what it received instead of keeping it (`keep_messages=False`,
`keep_calls=False`). Protocol over the pipes, one JSON object a line:

- on start it prints `{"port": …}` (plus `"token"` for telegram);
- each line `stats` on stdin is answered with its counters and peak RSS;
- end of stdin (the parent closed it or died) stops it; so does `--max-seconds`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _peak_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


async def _serve(hello: dict[str, Any], stats: Callable[[], dict[str, Any]], limit: float) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps(hello), flush=True)
    async with asyncio.timeout(limit):
        while line := await reader.readline():  # b"" at end of input: stop
            if line.strip() == b"stats":
                print(json.dumps({**stats(), "peak_mb": _peak_mb()}), flush=True)


async def smsc(limit: float) -> None:
    from sms_gateway.simulator import SmscSimulator

    sim = SmscSimulator(port=0, receipts=True, keep_messages=False)
    await sim.start()
    try:
        await _serve(
            {"port": sim.port},
            lambda: {"accepted": sim.accepted, "throttled": sim.throttled, "binds": sim.binds},
            limit,
        )
    finally:
        await sim.stop()


async def telegram(limit: float) -> None:
    from tests.bot.fake_telegram import FakeTelegram

    async with FakeTelegram(keep_calls=False) as fake:
        await _serve(
            {"port": fake.port, "token": fake.token}, lambda: dict(fake.counts), limit
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("peer", choices=["smsc", "telegram"])
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    args = parser.parse_args()
    run = smsc if args.peer == "smsc" else telegram
    try:
        asyncio.run(run(args.max_seconds))
    except TimeoutError:
        sys.exit("peer: --max-seconds passed")


if __name__ == "__main__":
    main()
