"""End to end on one bind: the product (`gateway run`) against Kannel, side by side.

    .venv/bin/python bench/bench_e2e.py [--recipients 3000] [--rounds 3] [--tps 10000]

Setup (once): `cd bench/e2e && npm install` (node-smpp, the SMSC) and
`apt-get install kannel` (bearerbox + smsbox). Without Kannel the product's figures
are reported alone and the script says so.

The SMSC is neither ours nor Kannel's: node-smpp (`bench/e2e/smsc.js`) in its own
process, counting each (destination, concatenation reference, part) it receives, so
lost and duplicated parts are counted at the SMSC. Each round, interleaved:

- `gateway run` (one bind, `[smpp] window = 10`) gets an outage broadcast to
  `--recipients` people, once from the CLI (`gateway broadcast outage`) and once from
  the admin API (`POST /api/outages`);
- Kannel (bearerbox with one SMPP bind, `max-pending-submits = 10`, and smsbox) gets
  the same text to the same numbers through `/cgi-bin/sendsms`, pushed over HTTP with
  20 requests in flight.

Reported per system: parts/s from the command to the last part at the SMSC, CPU
seconds per 1 000 parts (the gateway process; bearerbox + smsbox; the pushing client
and the CLI process are not counted), parts lost and duplicated; medians over rounds
and the product's ratios to Kannel. Loopback only; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage.store import Store  # noqa: E402
from tests.notifications.conftest import add_street  # noqa: E402

E2E = ROOT / "bench" / "e2e"
WAIT = 300.0  # seconds: the bound on every wait
TOKEN = "bench-token"
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


@dataclass
class Result:
    system: str
    parts: int
    seconds: float
    cpu: float
    lost: int
    duplicated: int

    @property
    def rate(self) -> float:
        return self.parts / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_1000(self) -> float:
        return self.cpu / self.parts * 1000 if self.parts else 0.0


class Smsc:
    """The node-smpp SMSC process."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["node", str(E2E / "smsc.js"), "0", str(int(WAIT * 20))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=E2E,
        )
        assert self.proc.stdout is not None
        self.port = int(json.loads(self.proc.stdout.readline())["port"])

    def ask(self, what: str = "stats") -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(what + "\n")
        self.proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return answer

    def wait_for(self, distinct: int) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        while self.ask()["distinct"] < distinct and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # late duplicates would show up now
        return self.ask()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def phones(count: int) -> list[str]:
    return [f"+7902{i:07d}" for i in range(count)]  # as `add_street` makes them


async def build_registry(db: Path, count: int) -> None:
    async with await Store.open(db) as store:
        await add_street(store, count, first=40_000_000, phone="+7902")


class Product:
    """`gateway run` bound to the SMSC, and the ways to start a broadcast."""

    def __init__(
        self, work: Path, smsc_port: int, tps: float, count: int, profile: str | None = None
    ) -> None:
        self.db = work / "gw.db"
        asyncio.run(build_registry(self.db, count))
        self.api_port = free_port()
        self.cfg = work / "gateway.toml"
        self.cfg.write_text(
            f'[storage]\npath = "{self.db}"\n[demo]\nenabled = false\n'
            f"[smpp]\nsimulator = false\nport = {smsc_port}\ntps = {tps}\nwindow = 10\n"
            f"request_receipts = false\n[api]\nport = {self.api_port}\n"
            '[notifications]\nquiet_hours = "00:00-00:00"\nconfirm_above = 10000000\n'
            '[service]\nlog_level = "WARNING"\n',
            encoding="utf-8",
        )
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY")}
        self.env.update(GATEWAY__SMPP__PASSWORD="pw", GATEWAY__API__TOKEN=TOKEN)
        self.log = (work / "gateway.log").open("ab")
        # `--profile FILE`: the gateway runs under cProfile (written when it stops).
        profiler = ["-m", "cProfile", "-o", profile] if profile else []
        self.proc = subprocess.Popen(
            [sys.executable, *profiler, "-m", "bot.cli", "run", "--config", str(self.cfg)],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=self.log,
        )
        self._wait_api()

    def _wait_api(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.api_port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError("gateway run did not start; see gateway.log")

    def times(self) -> tuple[str, str]:
        start = datetime.now(UTC).astimezone()
        return (start.strftime("%Y-%m-%d %H:%M"),
                (start + timedelta(days=1)).strftime("%Y-%m-%d %H:%M"))

    def _outage(self, *flags: str) -> str:
        """`gateway broadcast outage` to everyone in the registry; returns its JSON."""
        start, until = self.times()
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", "broadcast", "outage", "--settlement", "Ухта",
             "--reason", REASON, "--start", start, "--until", until, "--json", *flags,
             "--config", str(self.cfg)],
            cwd=ROOT, env=self.env, capture_output=True, text=True, check=True,
        ).stdout

    def sample(self) -> str:
        return str(json.loads(self._outage("--dry-run"))["sample"])

    def broadcast_cli(self) -> None:
        self._outage("--yes", "--no-follow")

    def broadcast_api(self) -> None:
        import urllib.request

        start, until = self.times()
        body = json.dumps({"settlement": "Ухта", "reason": REASON, "start": start,
                           "until": until, "yes": True}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.api_port}/api/outages", data=body, method="POST",
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=WAIT) as response:  # noqa: S310
            assert response.status == 200

    def close(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.log.close()


REASON = "ремонт линии"

KANNEL_CONF = """
group = core
admin-port = {admin}
admin-password = bench
smsbox-port = {boxes}
box-allow-ip = 127.0.0.1
admin-allow-ip = 127.0.0.1
log-file = "{work}/bearerbox.log"
log-level = 3
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = bench
host = 127.0.0.1
port = {smsc}
transceiver-mode = true
smsc-username = gateway
smsc-password = pw
system-type = "bench"
max-pending-submits = 10
{throughput}

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {boxes}
sendsms-port = {sendsms}
log-file = "{work}/smsbox.log"
log-level = 3

group = sendsms-user
username = bench
password = bench
max-messages = 10
concatenation = true
"""


class Kannel:
    """bearerbox (one SMPP bind to the SMSC) and smsbox (the sendsms HTTP interface)."""

    def __init__(self, work: Path, smsc_port: int, tps: float) -> None:
        self.sendsms = free_port()
        conf = work / "kannel.conf"
        conf.write_text(KANNEL_CONF.format(
            admin=free_port(), boxes=free_port(), smsc=smsc_port, sendsms=self.sendsms,
            work=work, throughput=f"throughput = {tps:g}" if tps < 10000 else "",
        ), encoding="utf-8")
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        self.bearerbox = subprocess.Popen(["bearerbox", str(conf)], **quiet)  # type: ignore[call-overload]
        time.sleep(1.0)
        self.smsbox = subprocess.Popen(["smsbox", str(conf)], **quiet)  # type: ignore[call-overload]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.sendsms)) == 0:
                    break
            time.sleep(0.1)
        time.sleep(2.0)  # the SMPP bind

    def cpu(self) -> float:
        return cpu_seconds(self.bearerbox.pid) + cpu_seconds(self.smsbox.pid)

    async def push(self, text: str, numbers: list[str]) -> None:
        import aiohttp

        queue: asyncio.Queue[str] = asyncio.Queue()
        for number in numbers:
            queue.put_nowait(number)
        url = f"http://127.0.0.1:{self.sendsms}/cgi-bin/sendsms"

        async def worker(http: aiohttp.ClientSession) -> None:
            while not queue.empty():
                number = queue.get_nowait()
                params = {"username": "bench", "password": "bench", "from": "7555",
                          "to": number.lstrip("+"), "text": text, "charset": "UTF-8",
                          "coding": "2"}
                async with http.get(url, params=params) as response:
                    await response.read()
                    assert response.status in (200, 202), await response.text()

        async with aiohttp.ClientSession() as http:
            await asyncio.gather(*(worker(http) for _ in range(20)))

    def close(self) -> None:
        for proc in (self.smsbox, self.bearerbox):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def measure(system: str, smsc: Smsc, expected: int, cpu: Any, start_job: Any) -> Result:
    smsc.ask("reset")
    before = cpu()
    started = time.time()
    start_job()
    stats = smsc.wait_for(expected)
    used = cpu() - before
    seconds = stats["last"] / 1000 - started if stats["accepted"] else 0.0
    result = Result(system, stats["distinct"], seconds, used,
                    max(0, expected - stats["distinct"]), stats["duplicated"])
    print(f"  {system:<14} {result.parts:>6} parts in {result.seconds:6.2f} s = "
          f"{result.rate:7.1f} parts/s; CPU {result.cpu:5.2f} s = "
          f"{result.cpu_per_1000:.3f} s/1000 parts; lost {result.lost}, "
          f"duplicated {result.duplicated}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tps", type=float, default=10000)
    parser.add_argument("--profile", metavar="FILE", help="cProfile `gateway run` into FILE")
    parser.add_argument("--no-kannel", action="store_true", help="the product alone")
    args = parser.parse_args()
    if not (E2E / "node_modules" / "smpp").is_dir():
        sys.exit("node-smpp missing: cd bench/e2e && npm install")
    have_kannel = shutil.which("bearerbox") is not None and shutil.which("smsbox") is not None
    have_kannel = have_kannel and not args.no_kannel
    if not have_kannel:
        print("Kannel not installed (apt-get install kannel): product figures only")
    results: dict[str, list[Result]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        smsc = Smsc()
        product = Product(work, smsc.port, args.tps, args.recipients, args.profile)
        kannel = Kannel(work, smsc.port, args.tps) if have_kannel else None
        try:
            text = product.sample()
            parts = 2 if len(text) > 70 else 1  # UCS2: 70 characters, 67 per part
            expected = args.recipients * parts
            print(f"{args.recipients} recipients x {parts} parts; text: {text!r}")
            numbers = phones(args.recipients)
            gw = product.proc.pid
            for round_no in range(1, args.rounds + 1):
                print(f"round {round_no}")
                jobs: list[tuple[str, Any, Any]] = [
                    ("gateway (CLI)", lambda: cpu_seconds(gw), product.broadcast_cli),
                    ("gateway (API)", lambda: cpu_seconds(gw), product.broadcast_api),
                ]
                if kannel is not None:
                    jobs.insert(1, ("kannel", kannel.cpu,
                                    lambda: asyncio.run(kannel.push(text, numbers))))
                for system, cpu, job in jobs:
                    results.setdefault(system, []).append(
                        measure(system, smsc, expected, cpu, job)
                    )
        finally:
            if kannel is not None:
                kannel.close()
            product.close()
            smsc.close()
    report(results)


def report(results: dict[str, list[Result]]) -> None:
    print("\nmedians")
    medians: dict[str, tuple[float, float, int, int]] = {}
    for system, runs in results.items():
        rate = statistics.median(r.rate for r in runs)
        cpu = statistics.median(r.cpu_per_1000 for r in runs)
        lost = sum(r.lost for r in runs)
        dup = sum(r.duplicated for r in runs)
        medians[system] = (rate, cpu, lost, dup)
        print(f"  {system:<14} {rate:7.1f} parts/s, {cpu:.3f} CPU-s/1000 parts, "
              f"lost {lost}, duplicated {dup} (all rounds)")
    if "kannel" in medians:
        k_rate, k_cpu, _, _ = medians["kannel"]
        for system, (rate, cpu, _, _) in medians.items():
            if system != "kannel" and k_rate and k_cpu:
                print(f"  {system} / kannel: parts/s x{rate / k_rate:.2f}, "
                      f"CPU per part x{cpu / k_cpu:.2f}")


if __name__ == "__main__":
    main()
