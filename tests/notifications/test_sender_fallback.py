"""A notice the person's chosen channel cannot deliver goes by SMS (docs/interfaces.md
§14); a conversation reply (no phone on the row) and an expired notice do not."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core import ChannelName, SendErrorKind, SendResult
from storage.outbox import PRIORITY_BULK
from storage.store import Store
from tests.notifications.conftest import T0, FakeChannel, statuses
from tests.notifications.test_sender import message, sender

PHONE = "+79120000777"
MAIL = "ivan@mail.ru"


@pytest.mark.parametrize(
    ("kind", "phone", "fell_back"),
    [
        (SendErrorKind.INVALID_ADDRESS, PHONE, True),  # 550 no such user
        (SendErrorKind.REJECTED, PHONE, True),  # 554 refused as spam
        (SendErrorKind.CONNECTION, PHONE, True),  # the relay down on every try
        (SendErrorKind.THROTTLED, PHONE, True),  # 451 on every try
        (SendErrorKind.INVALID_ADDRESS, None, False),  # a reply in a mail conversation
        (SendErrorKind.EXPIRED, PHONE, False),  # too late for any channel
    ],
)
async def test_failed_email_notice_goes_by_sms(
    store: Store, sms: FakeChannel, kind: SendErrorKind, phone: str | None, fell_back: bool
) -> None:
    email = FakeChannel(ChannelName.EMAIL)
    email.by_address[MAIL] = SendResult.failed(kind, "relay said no")
    row = await store.outbox.enqueue(
        message("email", MAIL, "Плановое отключение", priority=PRIORITY_BULK, phone=phone)
    )
    s = sender(store, sms, email, max_attempts=3)
    for hours in range(6):  # bounded: retries back off by minutes here
        await s.drain(T0 + timedelta(hours=hours))
    assert (sms.addresses == [PHONE]) is fell_back
    assert (await statuses(store))[row] == ("sent" if fell_back else "failed")
    if fell_back:
        assert sms.texts == ["Плановое отключение"]
        assert sms.sent[0].thread is None
