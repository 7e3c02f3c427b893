"""Counted nouns agree with their number («2 получателя», not «2 получателей»)."""

from __future__ import annotations

import pytest

from parsers.counted import agree, counted


@pytest.mark.parametrize(
    ("count", "noun", "expected"),
    [
        (1, "получатель", "1 получатель"),
        (2, "получатель", "2 получателя"),  # «Рассылка №1 (2 получателей)» was printed
        (5, "получатель", "5 получателей"),
        (11, "получатель", "11 получателей"),
        (21, "получатель", "21 получатель"),
        (22, "сообщение", "22 сообщения"),
        (0, "обращение", "0 обращений"),
        (111, "час", "111 часов"),
        (101, "абонент", "101 абонент"),
    ],
)
def test_counted(count: int, noun: str, expected: str) -> None:
    assert counted(count, noun) == expected


def test_unknown_words_and_capitals() -> None:
    assert agree("qwerty", 5) == "qwerty"
    assert agree("Получатель", 3) == "Получателя"
