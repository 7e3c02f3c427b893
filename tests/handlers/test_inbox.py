"""The inbox behind «no message without an answer» (docs/interfaces.md §12): the
engine's hand-over step and the staff use cases, over the real engine, parser and a
SQLite store. Times: 2026-11-20 (a Friday) 10:00 Moscow unless a test says otherwise."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.answers import OutboxAnswers
from bot.core import ChannelName, Inbound
from bot.engine import ConversationEngine
from handlers import inbox
from handlers.base import HandlerConfig
from handlers.dispatch import Handlers
from parsers import parse
from storage.store import Store
from tests.handlers.conftest import IN_WINDOW, P1, P3, Conversation

HANDED = "передано специалисту, ответ — до 20.11 14:00"


async def _only_thread(store: Store) -> inbox.ThreadView:
    [item] = await inbox.list_items(store, now=IN_WINDOW)
    return await inbox.get_thread(store, item.id)


async def test_unrecognised_sms_becomes_an_item_and_later_messages_join_it(
    talk: Conversation, store: Store
) -> None:
    said = await talk.send(P1, "ывапролд")
    assert said.texts == [
        "Ваше сообщение передано специалисту, ответ — до 20.11 14:00. "
        "Показания: ЛС 1234567890 4521"
    ]
    # A second unreadable message joins the item quietly: told once per item.
    again = await talk.send(P1, "ну так что?", IN_WINDOW + timedelta(minutes=5))
    assert again.texts == []
    # A reading inside the open thread is still handled by the bot, and shown there.
    reading = await talk.send(P1, "ЛС 1234567890 4550", IN_WINDOW + timedelta(minutes=6))
    assert "4550" in reading.text
    view = await _only_thread(store)
    t = view.thread
    assert (t.kind, t.state, t.channel, t.address, t.reply_source) == (
        "unrecognised", "open", "sms", P1, "7555"
    )
    assert t.due_at == datetime(2026, 11, 20, 11, 0, tzinfo=UTC)  # 14:00 Moscow
    assert t.text == "ЛС 1234567890 4550"  # the latest customer message
    assert [(m.direction, m.author, m.handled) for m in view.messages] == [
        ("in", "customer", False),
        ("out", "bot", True),
        ("in", "customer", False),
        ("in", "customer", True),
        ("out", "bot", True),
    ]
    assert all(m.outbox_id for m in view.messages if m.direction == "out")
    assert view.messages[0].inbound_id is not None
    assert t.first_message_id == view.messages[0].id
    # who the customer is: the phone in full (staff see it) and the account on it
    assert view.phone == P1
    assert [a.number for a in view.accounts] == ["1234567890"]


@pytest.mark.parametrize(
    ("text", "media", "kind"),
    [
        pytest.param("позовите оператора", None, "handover", id="a request for a person"),
        pytest.param("оператор", None, "handover", id="the simplest wording"),
        pytest.param("", "photo", "unrecognised", id="media only"),
        pytest.param("😡❓", None, "unrecognised", id="emoji only"),
        pytest.param("ж" * 5000, None, "unrecognised", id="a 5 000-character message"),
        pytest.param("<script>alert('x')</script><b>", None, "unrecognised",
                     id="HTML in a text, stored as is"),
    ],
)
async def test_what_goes_to_a_person(
    talk: Conversation, store: Store, text: str, media: str | None, kind: str
) -> None:
    said = await talk.send("tg:77", text, media=media)
    assert len(said.texts) == 1
    assert HANDED in said.text
    view = await _only_thread(store)
    assert view.thread.kind == kind
    assert view.messages[0].text == text
    assert view.thread.due_at is not None
    if media:
        assert view.messages[0].attachment == {"kind": media}


async def test_operator_command_from_the_parser_intent(store: Store) -> None:
    engine = ConversationEngine(
        store, Handlers(store, HandlerConfig()),
        lambda text: parse(text).model_copy(update={"intent": "command", "command": "operator"}),
    )
    talk = Conversation(store, engine)
    said = await talk.send(P1, "хочу поговорить со специалистом")
    await engine.close()
    assert HANDED in said.text
    assert (await _only_thread(store)).thread.kind == "handover"


async def test_an_appeal_is_an_item_due_when_the_appeal_is(
    talk: Conversation, store: Store
) -> None:
    said = await talk.send(P1, "Прошу сделать перерасчёт, в квитанции неверная сумма")
    assert "Обращение №" in said.text
    view = await _only_thread(store)
    assert view.thread.kind == "appeal"
    assert view.appeal is not None
    assert view.thread.appeal_id == view.appeal.id
    assert view.thread.due_at == view.appeal.due_at
    assert view.thread.category == "billing"
    # an unreadable follow-up joins it without another automatic answer
    assert (await talk.send(P1, "ау")).texts == []


async def test_a_person_answers_on_the_same_channel_and_the_reply_reopens(
    talk: Conversation, store: Store
) -> None:
    await talk.send("tg:77", "ывапролд")
    view = await _only_thread(store)
    out = OutboxAnswers(store)
    outbox_id = await inbox.reply(
        store, out, view.thread.id, "Здравствуйте! Уточните вопрос.", actor="anna",
        after=view.messages[-1].id, now=IN_WINDOW + timedelta(hours=1),
    )
    item = await store.outbox.get(outbox_id)  # type: ignore[attr-defined]
    assert (item.channel, item.address) == ("telegram", "77")
    assert json.loads(item.payload)["text"] == "Здравствуйте! Уточните вопрос."
    assert (await talk.new_for("telegram", "77")) == ["Здравствуйте! Уточните вопрос."]
    answered = await store.inbox.get(view.thread.id)
    assert answered is not None
    assert (answered.state, answered.answered_by) == ("answered", "anna")
    [audit] = await store.audit.recent(f"inbox:{view.thread.id}")
    assert (audit.actor, audit.action, audit.details["outbox"]) == (
        "anna", "inbox.reply", outbox_id
    )
    # The customer answers back: the same thread, open again, told the new due time once.
    back = await talk.send("tg:77", "не понял вас", IN_WINDOW + timedelta(days=3))
    assert "передано специалисту, ответ — до 23.11 14:00" in back.text
    again = await _only_thread(store)
    assert again.thread.id == view.thread.id
    assert again.thread.state == "open"
    assert [m.author for m in again.messages] == ["customer", "bot", "anna", "customer", "bot"]
    # a courtesy after an answer is the bot's to answer, and does not reopen
    await inbox.reply(store, out, view.thread.id, "Ответ", actor="anna")
    thanks = await talk.send("tg:77", "спасибо", IN_WINDOW + timedelta(days=3, hours=1))
    assert "Пожалуйста" in thanks.text
    assert (await store.inbox.get(view.thread.id)).state == "answered"  # type: ignore[union-attr]


async def test_two_answers_racing_one_wins_and_nothing_is_sent_twice(
    talk: Conversation, store: Store
) -> None:
    await talk.send(P1, "ывапролд")
    view = await _only_thread(store)
    seen = view.messages[-1].id
    out = OutboxAnswers(store)
    await inbox.reply(store, out, view.thread.id, "Ответ Анны", actor="anna", after=seen)
    with pytest.raises(inbox.AlreadyAnswered) as raised:
        await inbox.reply(store, out, view.thread.id, "Ответ Бориса", actor="boris", after=seen)
    assert raised.value.by == "anna"
    sent = await talk.new_for("sms", P1)
    assert sent == ["Ответ Анны"]
    assert [m.author for m in (await inbox.get_thread(store, view.thread.id)).messages] == [
        "customer", "bot", "anna"
    ]


@pytest.mark.parametrize(
    ("text", "field"),
    [("", "text"), ("   ", "text"), ("x" * (inbox.MAX_ANSWER + 1), "text")],
)
async def test_bad_answers_are_refused_and_nothing_is_sent(
    talk: Conversation, store: Store, text: str, field: str
) -> None:
    await talk.send(P1, "ывапролд")
    view = await _only_thread(store)
    with pytest.raises(inbox.InboxError) as raised:
        await inbox.reply(store, OutboxAnswers(store), view.thread.id, text, actor="anna")
    assert raised.value.field == field
    # the message for a program, and the same said in Russian for staff
    assert str(raised.value).startswith("the answer is")
    assert raised.value.staff.startswith("ответ")
    assert await talk.new_for("sms", P1) == []


async def test_unknown_item(store: Store) -> None:
    with pytest.raises(inbox.NotFound):
        await inbox.get_thread(store, 404)
    with pytest.raises(inbox.NotFound):
        await inbox.reply(store, OutboxAnswers(store), 404, "Ответ", actor="anna")
    with pytest.raises(inbox.NotFound):
        await inbox.close(store, 404, actor="anna")


async def test_close_with_a_label_and_a_new_message_opens_a_new_item(
    talk: Conversation, store: Store
) -> None:
    await talk.send(P1, "сщетчик сгарел")
    await talk.send(P1, "и что теперь")
    view = await _only_thread(store)
    label = {"intent": "appeal", "appeal_category": "meter"}
    closed = await inbox.close(store, view.thread.id, actor="anna", label=label)
    assert closed.state == "closed"
    assert closed.label == {
        "intent": "appeal", "account": None, "readings": [], "command": None, "ticket": None,
        "appeal_category": "meter", "notify_channel": None,
    }
    [labelled] = await store.inbox.labelled()
    assert labelled.text == "сщетчик сгарел"  # the first message the bot could not handle
    with pytest.raises(inbox.InboxError):
        await inbox.close(store, view.thread.id, actor="boris")
    said = await talk.send(P1, "ывапролд", IN_WINDOW + timedelta(hours=1))
    assert "передано специалисту" in said.text
    items = await inbox.list_items(store, now=IN_WINDOW)
    assert [i.state for i in items] == ["open", "closed"]


@pytest.mark.parametrize(
    ("label", "field"),
    [
        ({"intent": "nonsense"}, "label.intent"),
        ({"intent": "appeal", "appeal_category": "weather"}, "label.appeal_category"),
        ({"colour": "red"}, "label.colour"),
        ({"readings": [{"zone": "T9", "value": "1"}]}, "label.readings.0.zone"),
    ],
)
async def test_bad_labels_are_refused_and_the_item_stays_open(
    talk: Conversation, store: Store, label: dict[str, Any], field: str
) -> None:
    await talk.send(P1, "ывапролд")
    view = await _only_thread(store)
    with pytest.raises(inbox.InboxError) as raised:
        await inbox.close(store, view.thread.id, actor="anna", label=label)
    assert raised.value.field == field
    still = await store.inbox.get(view.thread.id)
    assert still is not None
    assert still.state == "open"


async def test_turn_an_item_into_an_appeal(talk: Conversation, store: Store) -> None:
    await talk.send(P3, "у соседей есть, у нас нет")
    view = await _only_thread(store)
    appeal = await inbox.to_appeal(
        store, OutboxAnswers(store), HandlerConfig(), view.thread.id, "outage", actor="anna",
        now=IN_WINDOW,
    )
    assert (appeal.category, appeal.text, appeal.channel) == (
        "outage", "у соседей есть, у нас нет", "sms"
    )
    assert appeal.account is None  # two accounts on the phone: a person picks later
    sent = await talk.new_for("sms", P3)
    assert sent == [f"Ваше обращение зарегистрировано под №{appeal.id}. Ответим до 21.11 10:00."]
    linked = await store.inbox.get(view.thread.id)
    assert linked is not None
    assert linked.appeal_id == appeal.id
    with pytest.raises(inbox.InboxError):
        await inbox.to_appeal(store, OutboxAnswers(store), HandlerConfig(), view.thread.id,
                              "meter", actor="anna")
    with pytest.raises(inbox.InboxError) as raised:
        await inbox.to_appeal(store, OutboxAnswers(store), HandlerConfig(), view.thread.id,
                              "weather", actor="anna")
    assert raised.value.field == "category"
    # Answering the item answers the appeal too, kept in its history.
    await inbox.reply(store, OutboxAnswers(store), view.thread.id, "Бригада выехала",
                      actor="anna")
    assert [(t, by) for t, by, _ in await store.appeals.answers(appeal.id)] == [
        ("Бригада выехала", "anna")
    ]
    assert (await talk.new_for("sms", P3)) == [f"Ответ на обращение №{appeal.id}: Бригада выехала"]


async def test_appeal_answer_goes_through_its_thread(talk: Conversation, store: Store) -> None:
    await talk.send(P1, "Прошу сделать перерасчёт, в квитанции неверная сумма")
    view = await _only_thread(store)
    assert view.appeal is not None
    out = OutboxAnswers(store)
    appeal, _ = await inbox.answer_appeal_through_inbox(
        store, out, view.appeal.id, "Перерасчёт сделан", actor="cli:anna"
    )
    appeal, _ = await inbox.answer_appeal_through_inbox(
        store, out, view.appeal.id, "И ещё уточнение", actor="cli:boris"
    )
    assert appeal.answer == "И ещё уточнение"
    assert [by for _, by, _ in await store.appeals.answers(appeal.id)] == [
        "cli:anna", "cli:boris"
    ]
    again = await inbox.get_thread(store, view.thread.id)
    assert [m.author for m in again.messages][-2:] == ["cli:anna", "cli:boris"]
    with pytest.raises(inbox.NotFound):
        await inbox.answer_appeal_through_inbox(store, out, 999, "x", actor="cli:anna")


@pytest.mark.parametrize(
    ("filters", "field"),
    [({"state": "lost"}, "state"), ({"kind": "x"}, "kind"), ({"category": "x"}, "category")],
)
async def test_bad_filters(store: Store, filters: dict[str, str], field: str) -> None:
    with pytest.raises(inbox.InboxError) as raised:
        await inbox.list_items(store, **filters)
    assert raised.value.field == field


class Crash(BaseException):
    """The process dies (not an error the engine apologises for)."""


class CrashingOnce:
    """The journal port, dying once when asked to mark an entry processed: the crash
    comes after the hand-over was written, inside the engine's transaction."""

    def __init__(self, journal: Any) -> None:
        self._journal = journal
        self.crashed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._journal, name)

    async def mark_processed(self, entry_id: int, error: str | None = None) -> None:
        if not self.crashed:
            self.crashed = True
            raise Crash
        await self._journal.mark_processed(entry_id, error)


async def test_a_crash_between_journal_and_hand_over_leaves_one_item(store: Store) -> None:
    from dataclasses import replace

    crashing = replace(store, journal=CrashingOnce(store.journal))
    engine = ConversationEngine(crashing, Handlers(crashing, HandlerConfig()), parse)
    inbound = Inbound(channel=ChannelName.SMS, address=P1, text="ывапролд", external_id="c1",
                      received_at=IN_WINDOW, to="7555")
    await engine.accept(inbound)
    await engine.drain(10)
    await engine.close()
    assert await store.inbox.items(IN_WINDOW) == []  # rolled back with the transaction
    assert await store.outbox.sent_to("sms", P1) == []
    # The next start resumes the journal: the item exists once, the customer told once.
    engine = ConversationEngine(store, Handlers(store, HandlerConfig()), parse)
    assert await engine.recover() == 1
    await engine.drain(10)
    assert await engine.recover() == 0
    await engine.close()
    view = await _only_thread(store)
    assert [m.direction for m in view.messages] == ["in", "out"]
    sent = await store.outbox.sent_to("sms", P1)
    assert len(sent) == 1
    assert HANDED in sent[0]


def test_staff_actor() -> None:
    assert inbox.staff_actor(None) == "api"
    assert inbox.staff_actor(" anna ") == "anna"
    with pytest.raises(inbox.InboxError):
        inbox.staff_actor("anna; DROP")


async def test_a_person_enters_a_reading_for_the_customer(
    talk: Conversation, store: Store
) -> None:
    import io

    from storage.export import export_readings

    await talk.send(P1, "", media="photo")  # a photo of the meter (an MMS, say)
    view = await _only_thread(store)
    out = OutboxAnswers(store)
    later = IN_WINDOW + timedelta(hours=2)
    # the same rules as the bot's: a value below the last one is refused, nothing stored
    with pytest.raises(inbox.InboxError) as raised:
        await inbox.enter_reading(store, out, HandlerConfig(), view.thread.id,
                                  "ЛС 1234567890 4000", actor="anna", now=later)
    assert raised.value.field == "text"
    assert "меньше" in str(raised.value)  # the bot's words to the account's own contact
    with pytest.raises(inbox.InboxError):
        await inbox.enter_reading(store, out, HandlerConfig(), view.thread.id, "привет",
                                  actor="anna", now=later)
    said = await inbox.enter_reading(store, out, HandlerConfig(), view.thread.id,
                                     "ЛС 1234567890 4550", actor="anna", now=later)
    assert said.startswith("Приняты показания ЛС 1234567890")
    assert (await talk.new_for("sms", P1))[-1] == said
    buffer = io.StringIO()
    await export_readings(store.db, out=buffer, tz=HandlerConfig().tz)
    [row] = [json.loads(line) for line in buffer.getvalue().splitlines()]
    # the customer's channel, sender and time; who typed it
    assert (row["channel"], row["sender"], row["value"], row["entered_by"]) == (
        "sms", P1, "4550", "anna"
    )
    assert row["received_at"] == "2026-11-20T10:00:00+03:00"
    csv_out = io.StringIO()
    await export_readings(store.db, out=csv_out, tz=HandlerConfig().tz, fmt="csv")
    assert "entered_by" not in csv_out.getvalue()  # the CSV keeps the contract's columns
    [audit] = await store.audit.recent(f"inbox:{view.thread.id}")
    assert (audit.actor, audit.action) == ("anna", "inbox.reading")


async def test_a_reading_entered_for_a_customer_not_linked_to_the_account(
    talk: Conversation, store: Store
) -> None:
    await talk.send("tg:77", "", media="photo")
    view = await _only_thread(store)
    out = OutboxAnswers(store)
    # not linked: held for a check (lower than the last) is refused with the reason
    with pytest.raises(inbox.InboxError) as raised:
        await inbox.enter_reading(store, out, HandlerConfig(), view.thread.id,
                                  "ЛС 1234567890 4000", actor="anna")
    assert "lower" in str(raised.value)
    # a plausible value is stored as an unlinked reading; the customer hears the bot's
    # usual words for a number not on the account
    said = await inbox.enter_reading(store, out, HandlerConfig(), view.thread.id,
                                     "ЛС 1234567890 4550", actor="anna")
    assert "Показания по ЛС 1234567890 получены" in said
    [row] = await store.readings.export_rows(None, include_console=False)  # type: ignore[attr-defined]
    assert (row.sender, row.entered_by, row.linked) == ("telegram:77", "anna", False)
