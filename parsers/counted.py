"""Counted nouns in Russian: «1 получатель», «2 получателя», «5 получателей».

One helper for every message and CLI that prints a count next to a noun, so that the
agreement is right everywhere (pymorphy3's `make_agree_with_number`). Pure: no I/O
beyond loading the dictionary once.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _morph() -> Any:
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=512)
def agree(noun: str, count: int) -> str:
    """`noun` (in the nominative singular: «получатель», «сообщение») in the form that
    goes with `count`; unknown words are returned as given."""
    parses = _morph().parse(noun)
    nominative = [p for p in parses if p.tag.case == "nomn" and "NOUN" in p.tag]
    if not nominative:
        return noun
    form = nominative[0].make_agree_with_number(abs(count))
    if form is None:
        return noun
    word = str(form.word)
    return word.capitalize() if noun[:1].isupper() else word


def counted(count: int, noun: str) -> str:
    """«2 получателя»: the number and the noun agreeing with it."""
    return f"{count} {agree(noun, count)}"
