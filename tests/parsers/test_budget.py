"""The parser's work per message is bounded (issue 12), counted and never timed.

Caches are emptied before a message where the cold case is the point: the look-ups are
then those a novel text costs (`parsers.budget.LOOKUPS` counts what is actually done).
"""

from __future__ import annotations

import itertools
import random
import re
import sys
from functools import _lru_cache_wrapper

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import parsers
from parsers import budget, clear_caches, parse, readable_part
from parsers.appeals import VOCABULARY, _fuzzy_guess, _fuzzy_index, _is_known, plan_lookups
from parsers.budget import (
    DICTIONARY_WORDS,
    EXAMINED_WORDS,
    GUESSED_WORDS,
    LOOKUPS,
    READ_CHARS,
    TRANSLIT_WORDS,
)

_CYRILLIC = "абвгдежзийклмнопрстуфхцчшщъыьэюяё"
_LATIN = "abcdefghijklmnopqrstuvwxyz'"


def _made_up(letters: str) -> st.SearchStrategy[str]:
    return st.text(alphabet=letters, min_size=1, max_size=20)


_VOCABULARY = sorted(VOCABULARY)
_LABELS = ["нет", "света", "лс", "т1", "день", "ночь", "№", "+7", "?", "...", "\n", "не"]
_PUNCTUATION = ".,:;-/()!?№#%+=* \n"
_MIXED = _CYRILLIC + _LATIN.upper() + "0123456789-"


def _flood(rng: random.Random) -> str:
    """A long text of what a flood of novel text is made of: made-up words in either
    script, real ones (the vocabulary of the rules), mixed scripts, digits, punctuation
    and labels; a few hundred words, up to ~10 000 characters, enough to spend the
    budgets. (Built from a seed: hypothesis is slow to draw hundreds of parts.)"""

    def made_up(letters: str) -> str:
        return "".join(rng.choice(letters) for _ in range(rng.randint(1, 20)))

    pieces = [
        lambda: made_up(_CYRILLIC),
        lambda: made_up(_LATIN),
        lambda: made_up(_MIXED),
        lambda: rng.choice(_VOCABULARY),
        lambda: rng.choice(_LABELS),
        lambda: str(rng.randrange(10**12)),
        lambda: made_up(_PUNCTUATION),
    ]
    separators = [" ", " ", ", ", "\n", "", ". "]
    return "".join(
        rng.choice(pieces)() + rng.choice(separators) for _ in range(rng.randint(150, 700))
    )


_FLOOD = st.integers(0, 2**64).map(lambda seed: _flood(random.Random(seed)))
_FEW = settings(max_examples=60, deadline=None)


@_FEW
@given(_FLOOD)
def test_the_lookups_of_a_message_are_bounded(text: str) -> None:
    clear_caches()
    LOOKUPS.reset()
    assert isinstance(parse(text), parsers.Intent)
    assert LOOKUPS.analyses <= DICTIONARY_WORDS + GUESSED_WORDS, text
    assert LOOKUPS.guesses <= GUESSED_WORDS, text
    assert LOOKUPS.translits <= TRANSLIT_WORDS, text
    assert LOOKUPS.checks <= EXAMINED_WORDS, text


def test_the_flood_spends_the_budgets() -> None:
    # The properties here are about texts past a budget: most floods are.
    spent = 0
    for seed in range(20):
        words = re.findall(r"[^\W\d_]+", readable_part(_flood(random.Random(seed))).lower())
        spent += not plan_lookups(words).complete
    assert spent >= 15


@_FEW
@given(_FLOOD, _FLOOD)
def test_a_message_reads_the_same_whatever_the_caches_hold(text: str, other: str) -> None:
    clear_caches()
    cold = parse(text)
    assert parse(text) == cold  # warm
    clear_caches()
    parse(other)  # the caches now hold another text's words
    assert parse(text) == cold


@_FEW
@given(_FLOOD)
def test_a_classified_appeal_is_bounded_too(text: str) -> None:
    clear_caches()
    LOOKUPS.reset()
    parsers.classify_appeal(text)
    assert LOOKUPS.analyses <= DICTIONARY_WORDS + GUESSED_WORDS
    assert LOOKUPS.guesses <= GUESSED_WORDS


def test_one_message_looks_up_each_word_once() -> None:
    clear_caches()
    LOOKUPS.reset()
    parse("нет света второй день, свет отключили, когда включат свет")
    # нет: a function word; света, второй, день, свет, отключили, когда, включат
    assert LOOKUPS.analyses == 7
    assert LOOKUPS.guesses == 0


_NOISE = " ".join(f"зяблокрут{chr(0x430 + i)}ище" for i in range(GUESSED_WORDS))
_LATIN_NOISE = " ".join(f"zyablo{chr(0x61 + i)}krut" for i in range(TRANSLIT_WORDS))


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # a typo of the vocabulary is guessed within the budget, noise after it
        ("напряжееие скачет", "power_quality"),
        (f"{_NOISE} напряжееие скачет", None),
        # dictionary words still count after the unknown ones have spent theirs
        (f"{_NOISE} нет света", "outage"),
        (f"{_NOISE} {_NOISE} {_LATIN_NOISE} когда дадут свет", "outage"),
        # translit within the budget, Latin noise after it
        ("net sveta", "outage"),
        (f"{_LATIN_NOISE} net sveta", None),
    ],
)
def test_words_past_the_budget_are_noise(text: str, category: str | None) -> None:
    assert parse(text).appeal_category == category
    if not any("a" <= ch <= "z" for ch in text):  # (no translit for a known appeal)
        assert parsers.classify_appeal(text) == category


def test_dictionary_words_past_the_budget_are_noise() -> None:
    known = (w for w in sorted(VOCABULARY) if len(w) > 3 and w != "свет" and _is_known(w))
    filler = list(itertools.islice(known, DICTIONARY_WORDS))
    assert len(filler) == DICTIONARY_WORDS
    plan = plan_lookups([*filler, "свет"])
    assert not plan.complete
    assert plan.allows(filler[-1])
    assert not plan.allows("свет")
    assert plan_lookups(filler).complete


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("коротко", "коротко"),
        ("а" * READ_CHARS, "а" * READ_CHARS),
        # the last word that ends within the limit; a word across it is left out
        ("а" * (READ_CHARS - 1) + " " + "б" * 10, "а" * (READ_CHARS - 1)),
        ("слово " * (READ_CHARS // 6) + "лишнее" * 10, "слово " * (READ_CHARS // 6 - 1) + "слово"),
        # never a number cut in two: the read part ends with a word
        ("лс " + "1" * (READ_CHARS + 100), "лс"),
        ("1" * (READ_CHARS + 1), ""),
        ("т1 " + "4521 " * READ_CHARS, "т"),
    ],
)
def test_the_readable_part_of_a_text(text: str, expected: str) -> None:
    assert readable_part(text) == expected


def test_an_over_long_letter_is_read_in_part() -> None:
    letter = "Здравствуйте! Нет света третий день, когда дадут? " + "Очень ждём. " * 400
    assert len(letter) > 2 * READ_CHARS
    intent = parse(letter)
    assert (intent.intent, intent.appeal_category) == ("appeal", "outage")
    assert intent.text == letter  # the whole text goes on, for the person who reads it


def test_an_over_long_text_gives_no_readings() -> None:
    # The other half of a pair may be past the cut: a person reads it.
    short = "ЛС 1234567890 день 4521 ночь 1876"
    assert len(parse(short).readings) == 2
    long = short + " спасибо" * (READ_CHARS // 8)
    intent = parse(long)
    assert (intent.intent, intent.readings, intent.account) == ("unknown", (), "1234567890")


def test_a_text_of_digits_alone_past_the_limit_is_unknown() -> None:
    assert parse("4521 " * READ_CHARS).intent == "unknown"


# A typo of a vocabulary word: up to three edits and an ending, so that some match and
# some do not.
_TYPO = st.builds(
    lambda word, edits, ending: _edit(word, edits) + ending,
    st.sampled_from(sorted(w for w in VOCABULARY if len(w) >= 6)),
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 30), st.sampled_from(_CYRILLIC)), max_size=3
    ),
    st.text(alphabet=_CYRILLIC, max_size=5),
)


def _edit(word: str, edits: list[tuple[int, int, str]]) -> str:
    letters = list(word)
    for kind, at, letter in edits:
        where = at % (len(letters) + 1)
        if kind == 0 and where < len(letters):
            letters[where] = letter
        elif kind == 1:
            letters.insert(where, letter)
        elif where < len(letters):
            del letters[where]
    return "".join(letters)


def _every_pattern(word: str) -> str | None:
    """The fuzzy match as it was before the letter-pair index: every pattern tried."""
    index = _fuzzy_index()
    best: tuple[int, str] | None = None
    for i, candidate in enumerate(index.lemmas):
        if not 0 <= len(word) - index.stem_lengths[i] + 2 <= 7:
            continue
        m = index.patterns[i].fullmatch(word)
        if m is not None:
            cost = sum(m.fuzzy_counts)
            if best is None or cost < best[0]:
                best = (cost, candidate)
    return best[1] if best else None


@settings(max_examples=400, deadline=None)
@given(st.one_of(_TYPO, _made_up(_CYRILLIC)))
def test_the_letter_pair_index_changes_no_fuzzy_match(word: str) -> None:
    assert _fuzzy_guess(word) == _every_pattern(word)


@pytest.mark.parametrize(
    ("word", "meant"),
    [
        ("напряжееие", "напряжение"),
        ("атключили", "отключить"),
        ("счетчиик", "счетчик"),
        ("зяблокрут", None),
    ],
)
def test_fuzzy_matches(word: str, meant: str | None) -> None:
    assert _fuzzy_guess(word) == meant


def test_every_cache_of_the_parser_is_bounded() -> None:
    # A flood of novel words pushes old ones out; no cache grows without limit.
    caches = [
        (module, name, obj)
        for module in list(sys.modules.values())
        if module is not None and module.__name__.startswith("parsers")
        for name, obj in vars(module).items()
        if isinstance(obj, _lru_cache_wrapper)
    ]
    assert len(caches) >= 8
    for module, name, cache in caches:
        maxsize = cache.cache_info().maxsize
        assert maxsize is not None, f"{module.__name__}.{name}"
        assert maxsize <= 32_768, f"{module.__name__}.{name}"


def test_outside_a_message_nothing_is_limited() -> None:
    assert budget.allowed() is None
    with budget.planned(budget.Plan(frozenset({"свет"}), complete=False)):
        assert budget.allowed() == frozenset({"свет"})
        assert parsers.appeals.lemma("света") == "света"  # not allowed: its own lemma
        assert parsers.appeals.lemma("свет") == "свет"
    assert budget.allowed() is None
    assert parsers.appeals.lemma("света") == "свет"
