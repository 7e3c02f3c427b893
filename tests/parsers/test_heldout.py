"""Held-out style sets of customer messages, each written by a red-team pass from
docs/interfaces.md §5 and the official samples alone, before reading the parser:

- heldout_messages.jsonl (526; the official samples it once repeated are taken out):
  SMS from old phones (translit, CAPS, no spaces, typos), Telegram chat, multi-line
  texts with greetings, addresses and signatures, dates, phones, money, serials, several
  meters and zones, corrections, every command and appeal category, bare courtesies and
  nonsense. Its last fresh batch before its fixes: ~95 % exact.
- heldout_round2.jsonl (250): long polite letters, rural addresses («д. Выльгорт»),
  businesses, Telegram shorthand, feature-phone run-together texts, было/стало and
  «с … до …» ranges, readings mixed with an appeal. Before its fixes: 87.6 %, 7 wrong.
- heldout_round3.jsonl (206): short everyday SMS and chat in the samples' style. Before
  its fixes: 96.6 %, 0 wrong.
- heldout_round4.jsonl (163): appeals full of reading-like numbers, readings in long
  texts, yes/no and «те же» wordings, slash commands, Latin look-alike letters in
  Cyrillic words. Before its fixes: 84.0 %, 6 wrong.
- blind_round5.jsonl (269): written blind on its own branch from the contract (98
  commands, 108 appeals, 47 readings, 16 unknown). Before its fixes: 91.8 %, 0 wrong.
- blind_round6.jsonl (280): written blind on its own branch from the contract (114
  commands, 109 appeals, 42 readings, 15 unknown): translit, elderly customers' indirect
  questions, status by date or topic. Before its fixes: 91.8 %, 0 wrong. Its «?» is
  labelled `unknown`; the official samples say `help`, and the parser keeps to them.
- blind_round7.jsonl (272): written blind on its own branch from the contract (103
  commands, 103 appeals, 49 readings, 17 unknown): messenger-style long letters,
  relatives and businesses, voice-dictated text and numbers in words, feature-phone
  translit and CAPS, Latin look-alikes, quoted bot messages. Before its fixes: 94.1 %,
  2 wrong (a number in a quoted bot question, a meter's error code).
- blind_round8.jsonl (299): written blind on its own branch from the contract (108
  commands, 106 appeals, 60 readings, 25 unknown as written): dialect and everyday
  speech, T9 and autocorrect slips, Tatar, Komi and Ukrainian words, emoji around the
  content, relatives and neighbours writing, businesses with ИНН/КПП, streets named with
  a number («ул. 8 Марта 12»), times, percentages, kWh units, negative values. Before its
  fixes: 88.0 %, 7 wrong (a ticket after a misspelt «обрашения», «250 В в розетке», a
  correction «5312 вместо 3512», the tail of «1 200 р.», «минус 120», the house number of
  «ул. 8 Марта 12» twice). Two labels were changed after reading the parser, as §5 reads
  them (a corrected value is a billing appeal; a new meter's first value a meter one).

Two gates per set, as the outside checks score it:
- no WRONG reading: every reading (meter, zone, value) and the account in the output must
  be in the expectation ("no reading is better than a wrong one");
- the exact-match rate over all fields is at least 97 %.
The report lists every mismatch.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from parsers import parse_line

_DATA = Path(__file__).resolve().parent.parent / "data"
_FIELDS = ("intent", "account", "readings", "command", "ticket", "appeal_category")
_CHECKED = (*_FIELDS, "notify_channel")
_TARGET = 0.97
# (file, the least number of messages it must hold)
SETS = [
    ("heldout_messages.jsonl", 300),
    ("heldout_round2.jsonl", 200),
    ("heldout_round3.jsonl", 200),
    ("heldout_round4.jsonl", 150),
    ("blind_round5.jsonl", 200),
    ("blind_round6.jsonl", 200),
    ("blind_round7.jsonl", 200),
    ("blind_round8.jsonl", 200),
]


def _cases(name: str) -> list[dict[str, Any]]:
    with (_DATA / name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _triples(readings: list[dict[str, Any]]) -> Counter[tuple[Any, Any, Any]]:
    return Counter((r["meter"], r["zone"], r["value"]) for r in readings)


def _wrong(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """What the output asserts that the expectation does not have."""
    problems = []
    extra = _triples(got["readings"]) - _triples(expected["readings"])
    if extra:
        problems.append(f"readings not expected: {sorted(extra, key=str)}")
    if got["account"] is not None and got["account"] != expected["account"]:
        problems.append(f"account {got['account']!r}, expected {expected['account']!r}")
    return problems


@pytest.mark.parametrize(("name", "at_least"), SETS)
def test_set_is_large_and_well_formed(name: str, at_least: int) -> None:
    cases = _cases(name)
    assert len(cases) >= at_least
    texts = [c["text"] for c in cases]
    assert len(set(texts)) == len(texts)
    for case in cases:
        # `notify_channel` is there exactly with the `notify` command
        notify = case.get("command") == "notify"
        assert set(case) == set(_FIELDS) | {"text"} | ({"notify_channel"} if notify else set())
        assert case["intent"] in {"readings", "command", "appeal", "unknown"}
        assert (case["intent"] == "readings") == bool(case["readings"])


def test_sets_do_not_repeat_each_other_or_the_samples() -> None:
    # A blind batch is written without seeing the others, so it repeats the commonest
    # short texts («да», «баланс», «нет света»); only the red-team sets are kept apart.
    seen: dict[str, str] = {}
    for name in ["messages.jsonl", *(name for name, _ in SETS if not name.startswith("blind_"))]:
        for case in _cases(name):
            assert case["text"] not in seen, f"{case['text']!r} in {seen.get(case['text'])}"
            seen[case["text"]] = name


@pytest.mark.parametrize(("name", "at_least"), SETS)
def test_no_wrong_readings_and_exact_match_rate(name: str, at_least: int) -> None:
    cases = _cases(name)
    exact, mismatches, wrong = 0, [], []
    for expected in cases:
        got = parse_line(expected["text"], json_mode=False)
        diff = {k: got.get(k) for k in _CHECKED if got.get(k) != expected.get(k)}
        if not diff:
            exact += 1
            continue
        want = {k: expected[k] for k in diff}
        mismatches.append(f"{expected['text']!r}\n    got  {diff}\n    want {want}")
        wrong += [f"{expected['text']!r}: {p}" for p in _wrong(expected, got)]
    rate = exact / len(cases)
    print(f"\n{name}: exact {exact}/{len(cases)} = {rate:.1%}; wrong readings: {len(wrong)}")
    for line in mismatches:
        print("MISMATCH", line)
    assert not wrong, "wrong readings or accounts:\n" + "\n".join(wrong)
    assert rate >= _TARGET, f"exact match {rate:.1%} < {_TARGET:.0%}:\n" + "\n".join(mismatches)
