"""Replies under a burst: do they use the whole granted TPS?

    .venv/bin/python bench/bench_replies.py [--mos 500] [--tps 50] [--runs 3]

The whole gateway in-process (engine, outbox, sender, SMS channel) bound to the
development SMSC over loopback, `[smpp] tps` as given. `--mos` MOs from different
phones arrive at once; every one is answered. Reported: reply parts per second at the
SMSC from the first reply part to the last (the goal: the granted TPS), and whether
each MO got exactly one reply. Loopback only; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import Gateway  # noqa: E402
from bot.settings import load_settings  # noqa: E402

WAIT = 120.0  # seconds: the bound on the wait for every reply
TEXT = "помощь"  # the help reply: several parts


async def run_once(mos: int, tps: float) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "s.toml"
        cfg.write_text(
            f'[storage]\npath = "{Path(tmp) / "g.db"}"\n[smpp]\nport = 0\ntps = {tps}\n'
            "[api]\nenabled = false\n",
            encoding="utf-8",
        )
        async with Gateway(load_settings(cfg)) as gw:
            smsc = gw.simulator
            assert smsc is not None
            smsc.receipts = False
            phones = [f"7913{i:07d}" for i in range(mos)]
            await asyncio.gather(*(smsc.inject_mo(p, TEXT) for p in phones))
            deadline = time.monotonic() + WAIT
            while len({p.destination for p in smsc.submitted}) < mos:
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)  # anything sent twice would show up now
            stamps = sorted(p.received_at for p in smsc.submitted)
            span = (stamps[-1] - stamps[0]).total_seconds() if len(stamps) > 1 else 0.0
            answered = len({p.destination for p in smsc.submitted})
            texts = [m for p in phones for m in smsc.messages_to("+" + p)]
            return (len(stamps) - 1) / span if span else 0.0, answered, len(texts) - answered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mos", type=int, default=500)
    parser.add_argument("--tps", type=float, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rates = []
    for run in range(args.runs):
        rate, answered, extra = asyncio.run(run_once(args.mos, args.tps))
        rates.append(rate)
        print(f"run {run + 1}: {rate:.1f} reply parts/s (tps {args.tps:g}), "
              f"{answered}/{args.mos} answered, {extra} extra replies", flush=True)
    print(f"median: {statistics.median(rates):.1f} reply parts/s of {args.tps:g} granted")


if __name__ == "__main__":
    main()
