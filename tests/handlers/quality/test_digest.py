"""The staff digest of appeals past or near their due time, its scheduler, and
`gateway appeals due`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handlers.quality.digest import (
    MAX_LINES,
    due_appeals,
    due_digest,
    next_run,
    run_digest_scheduler,
)
from storage.store import Store
from tests.handlers.quality.history import TZ

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=TZ)


async def open_appeal(
    store: Store, due_in_hours: float, *, category: str = "billing", status: str = "open"
) -> int:
    contact = await store.contacts.resolve("sms", "+79120000001", phone="+79120000001",
                                           verified_by="sms")
    appeal = await store.appeals.create(
        contact_id=contact.id, channel="sms", address="+79120000001", reply_source=None,
        account=None, category=category, text="Нет квитанции", created_at=NOW - timedelta(
            days=3), due_at=NOW + timedelta(hours=due_in_hours), status=status,
    )
    return appeal.id


async def test_digest_lists_overdue_then_approaching(store: Store) -> None:
    late = await open_appeal(store, -80, category="meter")  # 80 h overdue
    soon = await open_appeal(store, 6, category="outage")
    just = await open_appeal(store, -0.5)
    await open_appeal(store, 30)  # beyond 24 h: not listed
    answered = await open_appeal(store, -5)
    await store.appeals.answer(answered, "Ответ", "staff", NOW)  # answered: not listed
    await open_appeal(store, -5, status="closed")  # closed: not listed

    due = await due_appeals(store, NOW, 24)
    assert [a.id for a in due.overdue] == [late, just]
    assert [a.id for a in due.approaching] == [soon]

    text = await due_digest(store, NOW, 24)
    assert text.splitlines() == [
        "Обращения на 27.11.2026 09:00: просрочено 2, срок в ближайшие 24 ч — 1.",
        "",
        "Просрочено:",
        f"№{late} · Приборы учёта · SMS · срок 24.11 01:00, просрочено на 3 дн.",
        f"№{just} · Начисления и счета · SMS · срок 27.11 08:30, просрочено на 30 мин",
        "",
        "Срок в ближайшие 24 ч:",
        f"№{soon} · Отключение электроэнергии · SMS · срок 27.11 15:00, через 6 ч",
    ]
    assert "Срок в ближайшие 48 ч:" in await due_digest(store, NOW, 48)


async def test_digest_when_all_is_well(store: Store) -> None:
    assert await due_digest(store, NOW, 24) == (
        "Обращения на 27.11.2026 09:00: просрочено 0, срок в ближайшие 24 ч — 0.\n"
        "Все сроки в порядке."
    )


async def test_digest_is_cut_for_telegram(store: Store) -> None:
    for _ in range(MAX_LINES + 5):
        await open_appeal(store, -1)
    text = await due_digest(store, NOW, 24)
    assert "… и ещё 5 (gateway appeals due)" in text
    assert len(text) < 4096


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 27, 8, 59, tzinfo=TZ), datetime(2026, 11, 27, 9, 0, tzinfo=TZ)),
        (datetime(2026, 11, 27, 9, 0, tzinfo=TZ), datetime(2026, 11, 28, 9, 0, tzinfo=TZ)),
        (datetime(2026, 11, 27, 23, 0, tzinfo=TZ), datetime(2026, 11, 28, 9, 0, tzinfo=TZ)),
        # 06:30 UTC is 09:30 in Moscow: today's digest has gone
        (datetime(2026, 11, 27, 6, 30, tzinfo=UTC), datetime(2026, 11, 28, 9, 0, tzinfo=TZ)),
    ],
)
def test_next_run(now: datetime, expected: datetime) -> None:
    assert next_run(now, TZ, 9) == expected


async def test_scheduler_sends_each_morning(store: Store) -> None:
    await open_appeal(store, -2)
    clock = [datetime(2026, 11, 26, 15, 0, tzinfo=TZ)]
    sent: list[tuple[datetime, str]] = []
    naps: list[float] = []

    async def sleep(seconds: float) -> None:
        naps.append(seconds)
        clock[0] += timedelta(seconds=seconds)

    async def send(text: str) -> None:
        sent.append((clock[0], text))
        if len(sent) == 1:
            raise RuntimeError("Telegram is down")  # logged; tomorrow comes anyway
        if len(sent) == 3:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await run_digest_scheduler(store, send, TZ, 9, clock=lambda: clock[0], sleep=sleep)
    assert [at for at, _ in sent] == [
        datetime(2026, 11, 27, 9, 0, tzinfo=TZ),
        datetime(2026, 11, 28, 9, 0, tzinfo=TZ),
        datetime(2026, 11, 29, 9, 0, tzinfo=TZ),
    ]
    assert naps[0] == 18 * 3600
    assert "просрочено 1" in sent[0][1]


def test_cli_appeals_due(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    db = tmp_path / "gateway.db"

    async def fill() -> None:
        async with await Store.open(db) as store:
            await open_appeal(store, -24 * 365 * 10)  # overdue whatever today is

    asyncio.run(fill())
    config = tmp_path / "settings.toml"
    config.write_text(f'[storage]\npath = "{db.as_posix()}"\n', encoding="utf-8")
    assert main(["appeals", "due", "--hours", "48", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "просрочено 1" in out
    assert "Срок в ближайшие 48 ч" not in out  # nothing approaching
    assert main(["appeals", "due", "--hours", "0", "--config", str(config)]) == 2
