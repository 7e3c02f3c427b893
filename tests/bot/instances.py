"""A harness for end-to-end runs of whole `gateway run` processes against an SMSC that
outlives them (docs/interfaces.md §13, several instances): used by
tests/bot/test_instances_e2e.py and bench/bench_instances.py.

- `Population`: who is in the registry: the broadcast's audience (Ухта, Мира) and the
  people who write in (Инта, Ленина, one two-zone meter each), written as a §3 CSV file
  and loaded through the store's import (`import_registry`, what `gateway import
  customers` runs), on either store.
- `Instance`: one `gateway run` subprocess. The instances share one settings file (the
  store, `[smpp] simulator = false` pointing at the test's SMSC); what differs per
  instance comes from the environment, `GATEWAY__API__PORT` and
  `GATEWAY__SERVICE__INSTANCE_ID`, as a systemd template unit gives it
  (deploy/sbyt-gateway@.service).
- `wire_messages`: what the SMSC accepted, grouped into messages per destination by
  concatenation reference: a part re-sent after a crash keeps its message's reference
  (the submit journal), so a re-sent part is a duplicate part of the same message, and
  a message handled twice would be a second message. `census` counts from it what the
  end-to-end test asserts.

Every wait is bounded; processes are ended by the caller in `finally` (`stop_all`). The
processes run in the settings file's directory, so whatever a wrong setting might make
lands there, never in the repository.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import re
import signal
import socket
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from sms_gateway import codec
from sms_gateway.reassembly import split_concat
from sms_gateway.simulator import SmscSimulator

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-admin-token"
SMPP_PASSWORD = "pw"
REASON = "авария на линии электропередачи, бригада уже выехала на место"
LAST_DAY, LAST_NIGHT = 4000, 1500  # every talker's meter: the last billed reading


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def until(
    check: Callable[[], Awaitable[bool]], what: str, within: float, step: float = 0.05
) -> float:
    """Wait until `check()` is true, at most `within` seconds; returns the seconds it
    took. Fails (AssertionError) naming `what` when the time is up."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not await check():
        assert loop.time() - started < within, f"not within {within:g} s: {what}"
        await asyncio.sleep(step)
    return loop.time() - started


# --- who is in the registry -----------------------------------------------------------------


@dataclass(frozen=True)
class Population:
    """`recipients` accounts on Ухта, Мира (the outage's audience), one phone each, and
    `talkers` accounts on Инта, Ленина (not in the audience) whose holders send
    readings; their phones never get the notice, so what they get is replies."""

    recipients: int
    talkers: int

    @staticmethod
    def recipient_phone(i: int) -> str:
        return f"+7901{i:07d}"

    @staticmethod
    def talker_phone(i: int) -> str:
        return f"+7903{i:07d}"

    @staticmethod
    def talker_account(i: int) -> str:
        return f"{5_000_000_000 + i}"

    def recipient_phones(self) -> list[str]:
        return [self.recipient_phone(i) for i in range(self.recipients)]

    def write_csv(self, path: Path) -> None:
        """The registry as a §3 file (docs/interfaces.md): one meter per account."""
        with path.open("w", encoding="utf-8", newline="") as out:
            rows = csv.writer(out, delimiter=";")
            rows.writerow(["account", "phones", "name", "settlement", "street", "house",
                           "apartment", "meter_serial", "zones", "digits", "last_t1",
                           "last_t2", "last_t3", "last_date", "balance"])
            for i in range(self.recipients):
                rows.writerow([f"{3_000_000_000 + i}", self.recipient_phone(i),
                               "Петров Пётр Петрович", "г. Ухта", "ул. Мира",
                               str(i % 40 + 1), str(i % 90 + 1), f"1{i:08d}", "1", "6",
                               "1000", "", "", "2026-10-24", "0"])
            for i in range(self.talkers):
                rows.writerow([self.talker_account(i), self.talker_phone(i),
                               "Иванов Иван Петрович", "г. Инта", "ул. Ленина",
                               str(i % 40 + 1), str(i % 90 + 1), f"2{i:08d}", "2", "5",
                               str(LAST_DAY), str(LAST_NIGHT), "", "2026-10-24", "0"])


# --- what the talkers write -------------------------------------------------------------------

# A reading padded with what the parser ignores (a name, an address, a phone, a date,
# thanks) to 3 UCS2 parts (135–201 characters).
_LONG = (
    "ЛС {account} день {day} ночь {night}. Иванов Иван Петрович, г. Инта, ул. Ленина, "
    "д. 10, кв. 12, тел. +7 912 123-45-67, 03.12.2026. Спасибо большое, всего доброго "
    "и хорошего дня вам!"
)
_SHORT = "ЛС {account} день {day} ночь {night}"
REPLY = re.compile(r"Приняты показания ЛС (\d+): день (\d+), ночь (\d+)")
# In the reply to a second reading of the period, and only there: so the replies tell
# the order in which one conversation's readings were handled (a lower correction is
# accepted too, so acceptance alone would not).
CORRECTION = "Прежние показания"


@dataclass(frozen=True)
class Mo:
    """One mobile-originated reading; its reply quotes the account and both values, so
    replies are counted per MO, not per phone."""

    phone: str
    account: str
    day: int
    night: int
    long: bool  # 3 SMS parts, else 1

    @property
    def text(self) -> str:
        return (_LONG if self.long else _SHORT).format(
            account=self.account, day=self.day, night=self.night
        )

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.account, self.day, self.night)


def conversations(talkers: int, *, long_every: int = 3, pairs: int = 0) -> list[list[Mo]]:
    """One conversation per talker: a reading (every `long_every`-th one in 3 parts);
    the first `pairs` talkers send a second reading as soon as the first is
    acknowledged by the gateway (deliver_sm_resp). The reply to the reading handled
    second says the earlier one was replaced (`CORRECTION`): so the replies show whether
    one conversation's messages were handled in the order they were sent."""
    plan = []
    for i in range(talkers):
        phone, account = Population.talker_phone(i), Population.talker_account(i)
        first = Mo(phone, account, LAST_DAY + 10 + i % 50, LAST_NIGHT + 5 + i % 30,
                   long=i % long_every == 0)
        chat = [first]
        if i < pairs:
            chat.append(Mo(phone, account, first.day + 7, first.night + 3, long=not first.long))
        plan.append(chat)
    return plan


# --- one gateway process ----------------------------------------------------------------------


def write_settings(
    path: Path,
    *,
    store: str,
    smsc_port: int,
    tps: float,
    window: int,
    binds: int = 1,
    lease_seconds: float = 2.0,
    receipts: bool = True,
    log_level: str = "INFO",
    extra: str = "",
) -> None:
    """The instances' shared settings file. `store` is a SQLite file path or a
    `postgresql://` url ([storage] url, docs/interfaces.md §13)."""
    where = f'url = "{store}"' if "://" in store else f'path = "{store}"'
    path.write_text(
        f"[storage]\n{where}\n[demo]\nenabled = false\n"
        f"[smpp]\nsimulator = false\nport = {smsc_port}\ntps = {tps:g}\nwindow = {window}\n"
        f"binds = {binds}\n"
        f"request_receipts = {'true' if receipts else 'false'}\n"
        f"[notifications]\nlease_seconds = {lease_seconds:g}\n"
        'quiet_hours = "00:00-00:00"\nconfirm_above = 100000000\n'
        f'[service]\nlog_level = "{log_level}"\n{extra}',
        encoding="utf-8",
    )


def base_env() -> dict[str, str]:
    """The environment of every gateway process: none of the caller's GATEWAY*
    variables, the secrets from the environment (never from the file)."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("GATEWAY")}
    env["GATEWAY__SMPP__PASSWORD"] = SMPP_PASSWORD
    env["GATEWAY__API__TOKEN"] = TOKEN
    # The code of this checkout, whatever directory the process runs in.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


@dataclass
class Instance:
    """One `gateway run` with its own `[api] port` and instance id."""

    name: str
    cfg: Path
    log: Path
    api_port: int = field(default_factory=free_port)
    proc: asyncio.subprocess.Process | None = None
    starts: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        env = base_env()
        env["GATEWAY__API__PORT"] = str(self.api_port)
        env["GATEWAY__SERVICE__INSTANCE_ID"] = self.name
        return env

    async def start(self) -> None:
        assert self.proc is None or self.proc.returncode is not None
        self.starts += 1
        with self.log.open("ab") as log:
            log.write(f"=== start {self.starts} of {self.name}\n".encode())
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", "--config", str(self.cfg),
                cwd=self.cfg.parent, env=self.env(), stdout=asyncio.subprocess.DEVNULL, stderr=log,
            )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def health(self) -> tuple[int, dict[str, Any]] | None:
        """`GET /healthz`: (status, body), None while it does not answer."""
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
                http.get(self.base + "/healthz") as response,
            ):
                return response.status, dict(await response.json())
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None

    async def wait_up(self, within: float) -> dict[str, Any]:
        """Until `/healthz` answers 200 (the store, the sender and the SMPP bind up)."""
        seen: dict[str, Any] = {}

        async def up() -> bool:
            assert self.running, f"{self.name} exited ({self.proc and self.proc.returncode})"
            got = await self.health()
            if got is not None:
                seen.update(got[1])
            return got is not None and got[0] == 200

        await until(up, f"{self.name} is up (/healthz 200; last: {seen})", within, 0.1)
        return seen

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
            http.request(method, self.base + path, json=body,
                         headers={"Authorization": f"Bearer {TOKEN}"}) as response,
        ):
            return response.status, await response.json()

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs (no unbind, no lease given back)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.proc.wait(), 20)

    async def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 20 s; the exit status (None if never started)."""
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await asyncio.wait_for(self.proc.wait(), 20)
        return self.proc.returncode

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


async def stop_all(instances: Iterable[Instance]) -> None:
    for instance in instances:
        await instance.stop()


def outage_body(settlement: str = "Ухта", street: str | None = "Мира") -> dict[str, Any]:
    """An unplanned outage from now for a day (local times, §8): not held back by quiet
    hours."""
    now = datetime.now(UTC).astimezone()
    body: dict[str, Any] = {
        "settlement": settlement, "reason": REASON,
        "start": now.strftime("%Y-%m-%d %H:%M"),
        "until": (now + timedelta(days=1)).strftime("%Y-%m-%d %H:%M"), "yes": True,
    }
    if street is not None:
        body["street"] = street
    return body


# --- what the SMSC accepted -----------------------------------------------------------------


@dataclass
class WireMessage:
    """The parts of one MT message as the SMSC accepted them (several times each, after
    a crash), in arrival order."""

    destination: str
    reference: int | None
    total: int
    parts: dict[int, bytes] = field(default_factory=dict)
    times: Counter[int] = field(default_factory=Counter)
    coding: int = 0
    completed_at: int | None = None  # index in the SMSC's record of its last new part
    binds: set[int] = field(default_factory=set)  # the SMSC's numbers of the binds used

    @property
    def complete(self) -> bool:
        return len(self.parts) == self.total

    @property
    def text(self) -> str:
        data = b"".join(self.parts[i] for i in sorted(self.parts))
        return codec.decode_text(self.coding, data)

    @property
    def extra_parts(self) -> int:
        """Parts accepted more than once (re-sent after a crash)."""
        return sum(count - 1 for count in self.times.values())


def wire_messages(smsc: SmscSimulator) -> dict[str, list[WireMessage]]:
    """Destination digits → its MT messages, grouped by concatenation reference (UDH or
    SAR), in the order they completed. A message without a reference is one part; one
    re-sent counts as a duplicate part of the first with the same text."""
    found: dict[tuple[str, int | None, int, bytes], WireMessage] = {}
    for index, part in enumerate(smsc.submitted):
        sm = part.sm
        concat, data = split_concat(sm)
        if concat is not None:
            key = (part.destination, concat.ref, concat.total, b"")
            seq = concat.seq
        else:
            key = (part.destination, None, 1, data)
            seq = 1
        message = found.get(key)
        if message is None:
            message = found[key] = WireMessage(part.destination, key[1], key[2],
                                               coding=sm.data_coding)
        message.times[seq] += 1
        message.binds.add(part.bind)
        if seq not in message.parts:
            message.parts[seq] = data
            if message.complete:
                message.completed_at = index
    by_destination: dict[str, list[WireMessage]] = {}
    for message in sorted(found.values(), key=lambda m: (m.completed_at is None,
                                                          m.completed_at or 0)):
        by_destination.setdefault(message.destination, []).append(message)
    return by_destination


def digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


@dataclass
class Census:
    """The counts the end-to-end test asserts on, from the SMSC's record alone."""

    unserved: list[str]          # recipients without a complete notice
    restarted: list[str]         # recipients with two different notice messages
    doubled: list[str]           # recipients with a notice part accepted twice
    notice_extra_parts: int
    unanswered: list[Mo]         # MOs without a reply
    answered_twice: list[Mo]     # MOs with two different reply messages
    replies_doubled: list[Mo]    # MOs whose one reply had a part accepted twice
    reply_extra_parts: int
    handled_out_of_order: list[Mo]  # a first reading answered as a correction, or not
    sent_out_of_order: list[str]  # phones whose replies reached the SMSC in another order
    strangers: list[str]         # texts to talkers that are no accepted-reading reply

    @property
    def done(self) -> bool:
        return not self.unserved and not self.unanswered


def census(smsc: SmscSimulator, recipients: Sequence[str], plan: Sequence[Sequence[Mo]]) -> Census:
    wire = wire_messages(smsc)
    unserved, restarted, doubled, notice_extra = [], [], [], 0
    for phone in recipients:
        messages = wire.get(digits(phone), [])
        if not any(m.complete for m in messages):
            unserved.append(phone)
        if len(messages) > 1:
            restarted.append(phone)
        extra = sum(m.extra_parts for m in messages)
        notice_extra += extra
        if extra:
            doubled.append(phone)
    unanswered: list[Mo] = []
    twice: list[Mo] = []
    reply_doubled: list[Mo] = []
    reply_extra = 0
    handled_out_of_order: list[Mo] = []
    sent_out_of_order: list[str] = []
    strangers: list[str] = []
    for chat in plan:
        messages = wire.get(digits(chat[0].phone), [])
        replies: dict[tuple[str, int, int], list[WireMessage]] = {}
        order: list[tuple[str, int, int]] = []
        for message in messages:
            if not message.complete:
                continue
            match = REPLY.search(message.text)
            if match is None:
                strangers.append(message.text)
                continue
            key = (match[1], int(match[2]), int(match[3]))
            replies.setdefault(key, []).append(message)
            order.append(key)
        for n, mo in enumerate(chat):
            got = replies.get(mo.key, [])
            if not got:
                unanswered.append(mo)
            elif (CORRECTION in got[0].text) != (n > 0):
                handled_out_of_order.append(mo)
            if len(got) > 1:
                twice.append(mo)
            extra = sum(m.extra_parts for m in got)
            reply_extra += extra
            if extra:
                reply_doubled.append(mo)
        keys = [mo.key for mo in chat]
        if [k for k in dict.fromkeys(order) if k in keys] != keys and set(order) >= set(keys):
            sent_out_of_order.append(chat[0].phone)
    return Census(unserved, restarted, doubled, notice_extra, unanswered, twice,
                  reply_doubled, reply_extra, handled_out_of_order, sent_out_of_order,
                  strangers)


# --- what the store says ----------------------------------------------------------------------


async def import_registry(store: str, csv_file: Path) -> int:
    """Load the registry file into the store (a SQLite path or a `postgresql://` url)
    through the store's own import (what `gateway import customers` runs), creating the
    schema; returns the accounts upserted."""
    from storage.open import open_database, store_target
    from storage.registry import import_customers

    url, path = (store, "") if "://" in store else ("", store)
    db = await open_database(store_target(url, path), create=True)
    try:
        report = await import_customers(db, csv_file)
    finally:
        await db.close()
    assert not report.rejected, report.rejected[:5]
    return int(report.accounts)


async def store_rows(store: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of one read-only query straight from the store (a SQLite file or a
    `postgresql://` url): the test's own look at the database, not the gateway's."""
    if "://" not in store:
        import sqlite3

        with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
            return [tuple(row) for row in db.execute(sql).fetchall()]
    import asyncpg  # type: ignore[import-untyped,unused-ignore]

    conn = await asyncpg.connect(store, timeout=10)
    try:
        return [tuple(row) for row in await conn.fetch(sql)]
    finally:
        await conn.close()


async def store_value(store: str, sql: str) -> Any:
    rows = await store_rows(store, sql)
    return rows[0][0] if rows else None


# --- a PostgreSQL database of one's own -------------------------------------------------------


@contextlib.asynccontextmanager
async def fresh_pg_database(admin_url: str, prefix: str = "gw_") -> AsyncIterator[str]:
    """CREATE DATABASE with a unique name on the server of `admin_url` and yield its url;
    dropped on the way out (WITH (FORCE): a killed instance's connections may linger
    until the server notices)."""
    import uuid

    import asyncpg  # type: ignore[import-untyped,unused-ignore]

    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    base, _, _ = admin_url.rpartition("/")
    admin = await asyncpg.connect(admin_url, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(admin_url, timeout=10)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
