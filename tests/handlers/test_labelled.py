"""`export labelled`: §5 objects of the messages people labelled, masked consistently."""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.labelled import Masker, labelled_objects
from parsers import parse
from storage.inbox import LabelledMessage

T0 = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


# One export, in order: the same value gets the same placeholder all through it.
ONE_EXPORT = [
    ("Иванов Пётр Сергеевич, ЛС 1234567890, тел. +7 912 123-45-67",
     "Фамилия1 Имя1 Отчество1, ЛС 9000000001, тел. +79000000001"),
    # the same person and number again, in other forms
    ("позвоните 89121234567, спросите Иванова", "позвоните +79000000001, спросите Фамилия1"),
    ("ЛС 12-345-678-90 счетчик 4521", "ЛС 9000000001 счетчик 4521"),  # dashes: one account
    ("лс 0012345678 день 4521 ночь 1876", "лс 9000000002 день 4521 ночь 1876"),
    ("8 (912) 000-00-02 Смирновой", "+79000000002 Фамилия2"),
    # a capital at a sentence's start is no name; readings, dates and times stay
    ("Свет отключили 25.11 в 10:30", "Свет отключили 25.11 в 10:30"),
]


def test_masking_is_consistent_within_one_export() -> None:
    masker = Masker()
    assert [masker.text(text) for text, _ in ONE_EXPORT] == [want for _, want in ONE_EXPORT]


def test_a_masked_text_parses_as_the_original() -> None:
    masker = Masker()
    for text in ["ЛС 1234567890 день 4521 ночь 1876", "+79121234567 ЛС 001234567 5000"]:
        original, masked = parse(text), parse(masker.text(text))
        assert (masked.intent, masked.readings) == (original.intent, original.readings)
        assert masked.account == (masker.account(original.account) if original.account else None)


def test_objects_with_and_without_masking() -> None:
    rows = [
        LabelledMessage(1, "ЛС 1234567890 Иванов 4521", {"intent": "readings",
                        "account": "1234567890", "readings": [{"meter": None, "zone": None,
                                                               "value": "4521"}]}, "sms", T0),
        LabelledMessage(2, "уведомления в макс", {"intent": "command", "command": "notify",
                                                 "notify_channel": "max"}, "telegram", T0),
    ]
    plain = list(labelled_objects(rows))
    assert plain[0] == {
        "text": "ЛС 1234567890 Иванов 4521", "intent": "readings", "account": "1234567890",
        "readings": [{"meter": None, "zone": None, "value": "4521"}], "command": None,
        "ticket": None, "appeal_category": None,
    }
    assert plain[1]["notify_channel"] == "max"
    assert "notify_channel" not in plain[0]
    masked = list(labelled_objects(rows, mask=True))
    assert masked[0]["text"] == "ЛС 9000000001 Фамилия1 4521"
    assert masked[0]["account"] == "9000000001"  # the label as the text
    assert masked[0]["readings"] == plain[0]["readings"]
