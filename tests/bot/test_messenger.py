"""The messengers' shared parts (bot/messenger.py): the text splitter. The receiving
lifecycle is tested through each channel against its fake Bot API server
(test_telegram_*.py, test_max.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.max import MESSAGE_LIMIT as MAX_LIMIT
from bot.messenger import split_text
from bot.telegram import MESSAGE_LIMIT as TELEGRAM_LIMIT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [""]),
        ("короткий", ["короткий"]),
        ("а" * 4096, ["а" * 4096]),
        ("а" * 4097, ["а" * 4096, "а"]),  # one long word: cut hard
        ("а" * 3000 + "\n\n" + "б" * 3000, ["а" * 3000, "б" * 3000]),
        ("а" * 3000 + "\n" + "б" * 3000, ["а" * 3000, "б" * 3000]),
        ("а" * 3000 + " " + "б" * 3000, ["а" * 3000, "б" * 3000]),
        # A paragraph break near the start would leave a stub: the later line break wins.
        (
            "а" * 100 + "\n\n" + "б" * 3000 + "\n" + "в" * 2000,
            ["а" * 100 + "\n\n" + "б" * 3000, "в" * 2000],
        ),
        # Emoji are two UTF-16 units each, as Telegram counts: 2100 of them do not fit.
        ("😀" * 2100, ["😀" * 2048, "😀" * 52]),
    ],
)
def test_split_text(text: str, expected: list[str]) -> None:
    assert split_text(text, TELEGRAM_LIMIT) == expected


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("а" * 4000, MAX_LIMIT, ["а" * 4000]),
        ("а" * 4001, MAX_LIMIT, ["а" * 4000, "а"]),
        ("а" * 3000 + "\n" + "б" * 3000, MAX_LIMIT, ["а" * 3000, "б" * 3000]),
        ("слово " * 4 + "слово", 12, ["слово слово", "слово слово", "слово"]),
    ],
)
def test_split_text_under_other_limits(text: str, limit: int, expected: list[str]) -> None:
    assert split_text(text, limit) == expected


# Sends a long text through the MAX channel (so the splitter runs) to a closed port on
# loopback, then lists which of the two packages got loaded.
_MAX_SEND = """
import asyncio, sys
from pydantic import SecretStr
from bot.core import ChannelName, Outbound
from bot.max import MaxChannel
from bot.settings import MaxSettings

async def main():
    settings = MaxSettings(enabled=True, token=SecretStr("t"), api_base="http://127.0.0.1:1")
    async with MaxChannel(settings) as channel:
        result = await channel.send(
            Outbound(channel=ChannelName.MAX, address="111", text="слово " * 2000)
        )
    print(result.error.kind.value if result.error else "sent")
    print(sorted({m.split(".")[0] for m in sys.modules} & {"aiogram", "bot"}))

asyncio.run(main())
"""


def test_the_max_channel_does_not_load_aiogram() -> None:
    # MAX once took the splitter from bot/telegram.py, loading aiogram on its first
    # send. A fresh interpreter: this one has aiogram loaded already.
    done = subprocess.run(
        [sys.executable, "-c", _MAX_SEND], capture_output=True, text=True, check=True,
        timeout=60,
    )
    assert done.stdout.split("\n")[:2] == ["connection", "['bot']"]
