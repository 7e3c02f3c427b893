"""The conversation engine over a real SQLite store: journal, dedup, order, failures,
recovery. The handler here is a small recording implementation of the handler port."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core import ChannelName, Inbound
from bot.engine import APOLOGY, ConversationEngine
from handlers.base import Context, Outcome, Reply
from parsers.intent import Intent
from storage.models import ConversationKey, ConversationState
from storage.store import Store

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


class Recorder:
    """Echoes the text; sleeps when the text says so; fails on «boom»."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    async def handle(self, ctx: Context, intent: Intent) -> Outcome:
        if ctx.text.startswith("sleep"):
            await asyncio.sleep(float(ctx.text.split()[1]))
        if ctx.text == "boom":
            raise RuntimeError("handler bug")
        if ctx.text == "remember":
            return Outcome.say("ok", state=ConversationState("x", {"n": 1}))
        self.seen.append((ctx.key.address, ctx.text))
        previous = ctx.state.kind if ctx.state else "-"
        return Outcome((Reply(f"echo {ctx.text} after {previous}"),))


def sms(text: str, ext: str, phone: str = "+79121234567", at: datetime = T0) -> Inbound:
    return Inbound(channel=ChannelName.SMS, address=phone, text=text, external_id=ext,
                   received_at=at, to="7555")


@pytest.fixture
async def engine(store: Store) -> AsyncIterator[tuple[ConversationEngine, Recorder]]:
    recorder = Recorder()
    eng = ConversationEngine(store, recorder, lambda text: Intent(text=text))
    yield eng, recorder
    await eng.close()


async def replies(store: Store, address: str) -> list[str]:
    return await store.outbox.sent_to("sms", address)


async def test_redelivered_message_is_handled_once(
    store: Store, engine: tuple[ConversationEngine, Recorder]
) -> None:
    eng, recorder = engine
    assert await eng.accept(sms("hello", "smsc-1")) is True
    assert await eng.accept(sms("hello", "smsc-1")) is False
    await eng.drain(5)
    assert recorder.seen == [("+79121234567", "hello")]
    assert await replies(store, "+79121234567") == ["echo hello after -"]


async def test_one_conversation_is_handled_in_arrival_order(
    store: Store, engine: tuple[ConversationEngine, Recorder]
) -> None:
    eng, recorder = engine
    await eng.accept(sms("sleep 0.2", "a1"))
    await eng.accept(sms("second", "a2"))
    await eng.accept(sms("other", "b1", phone="+79120000000"))
    await eng.drain(5)
    mine = [t for a, t in recorder.seen if a == "+79121234567"]
    # the quick second message waited for the slow first one of the same person
    assert mine == ["sleep 0.2", "second"]
    assert ("+79120000000", "other") in recorder.seen


async def test_handler_failure_gets_an_apology_and_is_not_retried(
    store: Store, engine: tuple[ConversationEngine, Recorder]
) -> None:
    eng, _ = engine
    await eng.accept(sms("boom", "x1"))
    await eng.drain(5)
    # what the bot failed on goes to a person, and the customer hears by when
    [said] = await replies(store, "+79121234567")
    assert said.startswith("Ваше сообщение передано специалисту, ответ — до 20.11 14:00")
    [item] = await store.inbox.items(T0)
    assert (item.kind, item.text) == ("unrecognised", "boom")
    assert await store.journal.unprocessed() == []
    row = await store.db.fetchone("SELECT error FROM inbound WHERE external_id = 'x1'")
    assert row is not None
    assert row["error"] == "handler failed"


class BrokenInbox:
    """An inbox port whose store is failing."""

    def __getattr__(self, name: str) -> object:
        async def fail(*args: object, **kwargs: object) -> None:
            raise OSError("disk I/O error")

        return fail


async def test_when_even_the_hand_over_fails_the_customer_gets_an_apology(
    store: Store,
) -> None:
    from dataclasses import replace

    broken = replace(store, inbox=BrokenInbox())
    eng = ConversationEngine(broken, Recorder(), lambda text: Intent(text=text))
    await eng.accept(sms("boom", "x2"))
    await eng.drain(5)
    await eng.close()
    assert await replies(store, "+79121234567") == [APOLOGY]
    assert await store.journal.unprocessed() == []


async def test_state_is_saved_and_passed_to_the_next_message(
    store: Store, engine: tuple[ConversationEngine, Recorder]
) -> None:
    eng, _ = engine
    await eng.accept(sms("remember", "s1"))
    await eng.drain(5)
    await eng.accept(sms("next", "s2", at=T0 + timedelta(minutes=1)))
    await eng.drain(5)
    assert await replies(store, "+79121234567") == ["ok", "echo next after x"]
    saved = await store.state.get(ConversationKey("sms", "+79121234567"), T0)
    assert saved is not None
    assert saved.kind == "x"


async def test_reply_comes_from_the_number_written_to(
    store: Store, engine: tuple[ConversationEngine, Recorder]
) -> None:
    eng, _ = engine
    inbound = sms("hi", "n1").model_copy(update={"to": "7556"})
    await eng.accept(inbound)
    await eng.drain(5)
    row = await store.db.fetchone("SELECT payload FROM outbox")
    assert row is not None
    assert json.loads(row["payload"])["source"] == "7556"


async def test_unprocessed_journal_is_resumed_after_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    # A "crashed" process: journaled, acknowledged to the SMSC, never processed.
    async with await Store.open(path) as store:
        await store.journal.append(
            "sms", "c1", "+79121234567", sms("after crash", "c1").model_dump_json(), T0
        )
    async with await Store.open(path) as store:
        recorder = Recorder()
        eng = ConversationEngine(store, recorder, lambda text: Intent(text=text))
        assert await eng.recover() == 1
        await eng.drain(5)
        assert recorder.seen == [("+79121234567", "after crash")]
        assert await eng.recover() == 0
        await eng.close()
