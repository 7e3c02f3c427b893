"""How much dictionary work one message may cost (issue 12: no input makes the parser slow).

A word's first look-up is the dear part of parsing: pymorphy3's analysis (~15 µs for a
dictionary word, ~50 µs for a made-up one, which it guesses by analogy), then, for an
unknown word, a fuzzy match against the appeal rules' vocabulary, and for a Latin word
the translit repairs. Caches make the next sighting of a word nearly free, but a text of
novel words meets them cold. So each message gets a `Plan`: of its first
`EXAMINED_WORDS` distinct words, in the order written, the first `DICTIONARY_WORDS`
dictionary words, the first `GUESSED_WORDS` unknown ones and the first `TRANSLIT_WORDS`
Latin ones are looked up; any further word is noise (its lemma is the word itself, it
is no verb, a Latin word stays Latin). The plan is a function of the text alone, so a
message reads the same whatever the caches hold. Real messages are far inside the
budget: the labelled ones have at most 25 distinct words, 3 of them unknown to the
dictionary, 9 Latin. A long letter is read for appeals by its words within the budget,
its first ones (the labelled appeals, run together, reach 64 distinct dictionary words
at about 750 characters).

The sizes keep a cold 1 000-character text within about 5 ms on one core
(`bench/bench_parser.py`, BENCHMARKS.md): ~35 µs a first dictionary analysis all told,
~100 µs a guess, ~50 µs a translit reading.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass, fields
from typing import Final

# Distinct words of a message looked up in the dictionary.
DICTIONARY_WORDS: Final = 64
# Distinct words unknown to the dictionary given a guess: pymorphy3's by analogy and a
# fuzzy match against the vocabulary of the appeal rules (typos: «напряжееие»).
GUESSED_WORDS: Final = 8
# Characters of a message the parser reads: a longer one (a 4 096-character Telegram
# message, a 20 000-character e-mail) is read up to the end of the last word within them,
# and gives no readings: a person reads it (the engine hands over-long texts to staff).
READ_CHARS: Final = 2_000
# Distinct Latin words read as translit («net sveta»), each up to 32 dictionary checks.
TRANSLIT_WORDS: Final = 16
# Distinct words looked at, at most: past these even the cheap question whether a word is
# in the dictionary (~2 µs) is not asked, and the rest of a long text is noise.
EXAMINED_WORDS: Final = 256


@dataclass(slots=True)
class LookupCounter:
    """Expensive look-ups actually done (cache misses), for tests and benches: a
    message's work is bounded when these are, whatever its length."""

    analyses: int = 0  # pymorphy3 analyses of a word
    guesses: int = 0  # fuzzy matches of an unknown word against the vocabulary
    translits: int = 0  # Latin words read as Russian (the dictionary asked for variants)
    checks: int = 0  # whether a word is in the dictionary (the plan's cheap question)

    def reset(self) -> None:
        for f in fields(self):
            setattr(self, f.name, 0)


# Counted in the parser's process; the counts are only read by tests and benches.
LOOKUPS: Final = LookupCounter()


@dataclass(frozen=True, slots=True)
class Plan:
    """Which words of one message may be looked up."""

    allowed: frozenset[str]
    complete: bool  # every word of the message is within the budget

    def allows(self, word: str) -> bool:
        return self.complete or word in self.allowed


COMPLETE: Final = Plan(frozenset(), complete=True)

# The words the message being parsed may look up; None: any (a complete plan, or no
# message). Read on every look-up, so a bare context variable (per thread and task:
# parsing may run off the event loop).
_ALLOWED: ContextVar[frozenset[str] | None] = ContextVar("parsers_allowed", default=None)

allowed: Final = _ALLOWED.get
"""The words the current message may look up, or None when it may look up any."""


class planned:  # noqa: N801 (used as a function: `with planned(plan): ...`)
    """Look words up within `plan` for the duration of a `with` block."""

    __slots__ = ("_allowed", "_token")
    _token: Token[frozenset[str] | None]

    def __init__(self, plan: Plan) -> None:
        self._allowed = None if plan.complete else plan.allowed

    def __enter__(self) -> None:
        self._token = _ALLOWED.set(self._allowed)

    def __exit__(self, *_: object) -> None:
        _ALLOWED.reset(self._token)
