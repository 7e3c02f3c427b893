"""Readings from a sender not linked to the account (docs/architecture.md
«Identification»), through the real engine, parser and SQLite store.

A stranger's values are held or accepted without being compared aloud (no «меньше
предыдущего», no ДА/НЕТ about consumption, no zone count, no meter serials), never
replace a linked contact's reading, are exported only while no linked contact has sent
one for the period, and probing is limited per sender and, for such senders together,
per account; the account's own contacts are never limited (nobody can lock the owner
out)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from handlers import texts
from storage.models import ReadingRecord
from tests.handlers.conftest import IN_WINDOW, P1, P2, STRANGER, Conversation

ACCOUNT = "1234567890"  # P1's, one one-zone meter №011234567, billing's last reading 4500
OTHER = "+79990000001"
THIRD = "+79990000002"


async def _export(talk: Conversation) -> list[tuple[str, str, str]]:
    rows: list[ReadingRecord] = await talk.store.readings.export_rows(None, False)
    return [(r.account, str(r.value), r.sender) for r in rows]


EXPORT_CASES = [
    (
        "the owner's reading stands against a later stranger's",
        [(P1, "4521"), (STRANGER, f"ЛС {ACCOUNT} 4600")],
        [(ACCOUNT, "4521", P1)],
    ),
    (
        "a stranger's reading is exported while the owner has sent none",
        [(STRANGER, f"ЛС {ACCOUNT} 4600")],
        [(ACCOUNT, "4600", STRANGER)],
    ),
    (
        "the owner's reading replaces a stranger's in the export",
        [(STRANGER, f"ЛС {ACCOUNT} 4600"), (P1, "4521")],
        [(ACCOUNT, "4521", P1)],
    ),
    (
        "a second stranger's value is the newer unlinked one",
        [(STRANGER, f"ЛС {ACCOUNT} 4600"), (OTHER, f"ЛС {ACCOUNT} 4610")],
        [(ACCOUNT, "4610", OTHER)],
    ),
    (
        "the owner's correction still stands after a stranger's",
        [(P1, "4521"), (STRANGER, f"ЛС {ACCOUNT} 4600"), (P1, "4530")],
        [(ACCOUNT, "4530", P1)],
    ),
    (
        "a stranger's value lower than billing's is held for staff, not exported",
        [(STRANGER, f"ЛС {ACCOUNT} 4400")],
        [],
    ),
]


@pytest.mark.parametrize(
    ("name", "steps", "exported"), EXPORT_CASES, ids=[c[0] for c in EXPORT_CASES]
)
async def test_a_strangers_reading_never_replaces_the_owners(
    talk: Conversation,
    name: str,
    steps: list[tuple[str, str]],
    exported: list[tuple[str, str, str]],
) -> None:
    for sender, text in steps:
        await talk.send(sender, text)
    assert await _export(talk) == exported, name


async def test_the_reply_to_a_stranger_says_what_happens_without_the_owners_values(
    talk: Conversation,
) -> None:
    await talk.send(P1, "4521")
    said = await talk.send(STRANGER, f"ЛС {ACCOUNT} 4600")
    assert len(said.texts) == 1
    assert said.text.startswith(f"Показания по ЛС {ACCOUNT} получены.")
    assert "проверит сотрудник" in said.text
    assert "владельца" in said.text
    for secret in ("4521", "4500", "Приняты", "Расход", "заменены"):
        assert secret not in said.text
    assert len(said.text) <= 134
    held = await talk.store.readings.unlinked()
    assert [(h.account, h.outcome, h.sender) for h in held] == [(ACCOUNT, "accepted", STRANGER)]


# Every reply a stranger can get for readings of someone's account: none of them may
# depend on the account's data (its existence, readings, meters, tariff type).
PROBES = [
    "4400",  # lower than billing's last reading
    "4600",  # higher
    "00000",  # zero
    "99999",  # far above: an unusual consumption
    "123456",  # more digits than the meter has
    "день 4600 ночь 1900",  # two zones for a one-zone meter
    "сч2 4600",  # a second meter the account does not have
    "№410055001 4600",  # a serial that is not the meter's
]


@pytest.mark.parametrize("values", PROBES)
async def test_no_oracle_one_answer_whatever_the_values(
    talk: Conversation, values: str
) -> None:
    reference = await talk.send(OTHER, f"ЛС {ACCOUNT} 4600")
    said = await talk.send(STRANGER, f"ЛС {ACCOUNT} {values}")
    assert said.texts == reference.texts


async def test_halving_attack_learns_nothing(talk: Conversation) -> None:
    """16 SMS halving the interval around billing's 4500: the replies are the same
    whichever side of it each value lies, and the hourly limit stops the run."""
    replies: list[str] = []
    low, high = 4000, 5000
    for minute in range(16):
        guess = (low + high) // 2
        said = await talk.send(
            STRANGER, f"ЛС {ACCOUNT} {guess}", IN_WINDOW + timedelta(minutes=minute)
        )
        replies.extend(said.texts)
        # what an attacker would conclude from «меньше предыдущего»
        if "меньше" in said.text:
            low = guess
        else:
            high = guess
    assert len(replies) == 16
    assert len(set(replies[:5])) == 1  # the first five: one and the same answer
    assert set(replies[5:]) == {replies[5]}  # the rest: the limit
    assert "Слишком много" in replies[5]
    assert all("меньше" not in r and "4500" not in r for r in replies)
    # Nothing below billing's reading reached the export; every probe is on record.
    assert all(int(float(value)) >= 4500 for _, value, _ in await _export(talk))
    held = await talk.store.readings.unlinked()
    assert len(held) == 16


async def test_eighty_accounts_reveal_nothing(talk: Conversation) -> None:
    """From one phone, 80 account numbers: existing and missing accounts get the same
    replies (the number aside), with no tariff type, zone or serial in any of them."""
    existing = ["1234567890", "0012345678", "2000000001", "2000000002", "3000000001"]
    missing = [f"77{n:08d}" for n in range(75)]
    numbers = existing + missing
    first = [await talk.send(STRANGER, f"ЛС {n} 4600", IN_WINDOW + timedelta(minutes=i))
             for i, n in enumerate(numbers)]
    # The same run with missing accounts only, from another phone.
    second = [await talk.send(OTHER, f"ЛС 88{i:08d} 4600", IN_WINDOW + timedelta(minutes=i))
              for i in range(len(numbers))]

    def masked(text: str) -> str:
        return re.sub(r"\d{8,12}", "N", text)

    assert [masked(s.text) for s in first] == [masked(s.text) for s in second]
    every = "\n".join(s.text for s in first)
    for leak in ("№", "день", "ночь", "пик", "тариф", "не найден", "7723001", "011234567"):
        assert leak not in every.lower()
    assert not re.search(r"сч\s*\d", every)  # «сч1», «сч 2»: no meter count either
    assert "Слишком много" in first[3].text  # the fourth account of the day is refused


async def test_an_account_alone_from_a_stranger_reveals_nothing(talk: Conversation) -> None:
    existing = await talk.send(STRANGER, "ЛС 0012345678")  # a two-zone meter
    missing = await talk.send(OTHER, "ЛС 0099999999")
    assert existing.text.replace("0012345678", "N") == missing.text.replace("0099999999", "N")
    # the example is the same for every meter: no tariff type through it
    assert texts.UNLINKED_EXAMPLE in existing.text
    then = await talk.send(STRANGER, "4600 1900")
    assert "проверит сотрудник" in then.text


async def test_the_limits_are_per_sender_and_never_lock_the_owner_out(
    talk: Conversation,
) -> None:
    for minute in range(7):
        await talk.send(STRANGER, f"ЛС {ACCOUNT} 46{minute:02d}",
                        IN_WINDOW + timedelta(minutes=minute))
    limited = await talk.send(STRANGER, f"ЛС {ACCOUNT} 4650", IN_WINDOW + timedelta(minutes=8))
    assert "Слишком много" in limited.text
    assert "через час" in limited.text
    # another sender is not limited by this one, and the owner is never limited
    assert "получены" in (await talk.send(OTHER, f"ЛС {ACCOUNT} 4651")).text
    owner = await talk.send(P1, "4660", IN_WINDOW + timedelta(minutes=9))
    assert "Приняты показания ЛС 1234567890: 4660" in owner.text
    # an hour later the stranger may send again
    later = await talk.send(
        STRANGER, f"ЛС {ACCOUNT} 4670", IN_WINDOW + timedelta(hours=1, minutes=9)
    )
    assert "получены" in later.text


async def test_many_phones_on_one_account_are_limited_but_not_the_owner(
    talk: Conversation,
) -> None:
    for i in range(10):
        said = await talk.send(f"+7999100{i:04d}", f"ЛС {ACCOUNT} 46{i:02d}")
        assert "получены" in said.text
    refused = await talk.send("+79992000000", f"ЛС {ACCOUNT} 4650")
    assert "По этому счёту сегодня уже много показаний" in refused.text
    # the same for an account that does not exist, once it has as many
    for i in range(10):
        await talk.send(f"+7999300{i:04d}", "ЛС 0099999999 4600")
    missing = await talk.send("+79994000000", "ЛС 0099999999 4650")
    assert missing.text == refused.text
    owner = await talk.send(P1, "4660")
    assert "Приняты показания ЛС 1234567890: 4660" in owner.text


async def test_accounts_per_day_limit_says_tomorrow(talk: Conversation) -> None:
    for i, number in enumerate(["1234567890", "0012345678", "2000000001"]):
        await talk.send(STRANGER, f"ЛС {number} 4600", IN_WINDOW + timedelta(minutes=i))
    refused = await talk.send(STRANGER, "ЛС 3000000001 4600", IN_WINDOW + timedelta(minutes=5))
    assert "Слишком много" in refused.text
    assert "завтра" in refused.text
    # one of today's accounts again is still taken
    again = await talk.send(STRANGER, f"ЛС {ACCOUNT} 4610", IN_WINDOW + timedelta(minutes=6))
    assert "получены" in again.text


async def test_a_linked_contact_of_another_account_is_a_stranger_here(
    talk: Conversation,
) -> None:
    said = await talk.send(P2, f"ЛС {ACCOUNT} 4400")
    assert "проверит сотрудник" in said.text
    assert "меньше" not in said.text


async def test_unchanged_from_a_stranger_is_refused_without_history(
    talk: Conversation,
) -> None:
    existing = await talk.send(STRANGER, f"ЛС {ACCOUNT} показания те же")
    missing = await talk.send(OTHER, "ЛС 0099999999 показания те же")
    assert existing.text.replace(ACCOUNT, "N") == missing.text.replace("0099999999", "N")
    assert "с номера из договора" in existing.text


async def test_telegram_stranger_is_offered_to_link(talk: Conversation) -> None:
    said = await talk.send("tg:42", f"ЛС {ACCOUNT} 4600")
    assert "проверит сотрудник" in said.text
    assert "поделитесь" in said.text.lower()
