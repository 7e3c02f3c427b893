"""«уведомления по почте» and the other channel choices, and e-mail identification,
through the real engine, parser and store (docs/interfaces.md §14)."""

from __future__ import annotations

import itertools

import pytest

from bot.core import ChannelName, Inbound
from bot.engine import ConversationEngine
from parsers.intent import Intent
from storage.store import Store
from tests.handlers.conftest import IN_WINDOW, P1, P3, STRANGER, Conversation

IVAN = "ivan@mail.ru"
_ids = itertools.count(1)


@pytest.fixture
async def registry_email(store: Store) -> None:
    await store.db.execute(
        "INSERT INTO account_emails (account, email) VALUES ('1234567890', ?)", (IVAN,)
    )


async def mail(talk: Conversation, sender: str, text: str, *, vouched: bool) -> str:
    """A mail through the engine as the e-mail channel hands it over."""
    inbound = Inbound(
        channel=ChannelName.EMAIL, address=sender, text=text,
        external_id=f"<n{next(_ids)}@mail.ru>", received_at=IN_WINDOW,
        to='{"id":"<x@mail.ru>","s":"","r":[]}',
        meta={"authenticated": "dmarc"} if vouched else {},
    )
    engine: ConversationEngine = talk.engine
    await engine.accept(inbound)
    await engine.drain(10)
    return "\n".join(await talk.new_for("email", sender))


@pytest.mark.usefixtures("registry_email")
@pytest.mark.parametrize(
    ("sender", "text", "answer", "stored"),
    [
        (P1, "уведомления по почте", "на почту i***@mail.ru", ("email", IVAN)),
        (P1, "присылайте уведомления по смс", "по SMS", ("sms", P1)),
        # no e-mail on the accounts of this phone
        (P3, "уведомления по почте", "Вашей почты нет в договоре", None),
        # no Telegram contact linked to this phone
        (P1, "уведомления в телеграм", "напишите туда нашему боту", None),
        # a number on no account: chosen for itself (SMS is always possible)
        (STRANGER, "уведомления по смс", "по SMS", ("sms", STRANGER)),
    ],
)
async def test_choice_by_sms(
    talk: Conversation, store: Store, *, sender: str, text: str, answer: str,
    stored: tuple[str, str] | None,
) -> None:
    said = await talk.send(sender, text)
    assert answer in said.text, said.text
    assert await store.notice_channels.chosen(sender) == stored


@pytest.mark.usefixtures("registry_email")
async def test_choice_by_a_vouched_mail_is_the_persons(
    talk: Conversation, store: Store
) -> None:
    text = await mail(talk, IVAN, "Уведомления по почте, пожалуйста", vouched=True)
    assert "на почту i***@mail.ru" in text, text
    assert "продублируем по SMS" in text
    assert await store.notice_channels.chosen(P1) == ("email", IVAN)


@pytest.mark.usefixtures("registry_email")
async def test_an_unvouched_mail_cannot_choose(talk: Conversation, store: Store) -> None:
    text = await mail(talk, IVAN, "уведомления по почте", vouched=False)
    assert "подтвердите номер телефона" in text, text
    assert await store.notice_channels.chosen(P1) is None


@pytest.mark.usefixtures("registry_email")
@pytest.mark.parametrize(
    ("vouched", "shown"), [(True, True), (False, False)], ids=["dmarc pass", "no verdict"]
)
async def test_balance_by_mail(talk: Conversation, vouched: bool, shown: bool) -> None:
    text = await mail(talk, IVAN, "баланс", vouched=vouched)
    assert ("1\u00a0234,50" in text) is shown, text


async def test_a_vouched_address_on_no_account_sees_nothing(talk: Conversation) -> None:
    text = await mail(talk, "someone@mail.ru", "баланс 1234567890", vouched=True)
    assert "1\u00a0234" not in text


async def test_the_intent_alone_drives_the_choice(talk: Conversation, store: Store) -> None:
    """The use case reads `notify_channel`, whatever words the parser recognised."""
    intent = Intent(text="x", intent="command", command="notify", notify_channel="sms")
    engine = ConversationEngine(store, talk.engine.handlers, lambda _text: intent)
    inbound = Inbound(channel=ChannelName.SMS, address=P1, text="x", external_id="i1",
                      received_at=IN_WINDOW, to="7555")
    await engine.accept(inbound)
    await engine.drain(10)
    await engine.close()
    assert await store.notice_channels.chosen(P1) == ("sms", P1)
