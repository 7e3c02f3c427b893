"""Russian words agreed with a number, for what staff read («2 получателя», «5
получателей», «21 отключение»): pymorphy3 inflects the noun for the count."""

from __future__ import annotations

from functools import lru_cache

import pymorphy3


@lru_cache(maxsize=1)
def _morph() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=1024)
def _agreed(word: str, bucket: int) -> str:
    parse = _morph().parse(word)[0]
    agreed = parse.make_agree_with_number(bucket)
    return str(agreed.word) if agreed is not None else word


def counted(number: int, word: str) -> str:
    """«2 получателя»: `number` and `word` (its nominative singular) in agreement."""
    # Agreement depends only on the last two digits (11–14 aside, on the last one).
    tail = abs(number) % 100
    bucket = tail if 10 < tail < 20 else tail % 10 + (20 if tail >= 20 else 0)
    return f"{number} {_agreed(word, bucket)}"
