"""Round-4 held-out set (tests/data/heldout_round4.jsonl), written from contracts.md §5
and the official samples alone, before reading the parser, and free of texts already in
tests/data: appeals full of reading-like numbers (amounts, «3 200 рублей», dates, times,
kWh charged, house numbers, serials, phones), readings inside long texts with names,
addresses and line breaks, «показания те же» and yes/no in many wordings («ага», «нет,
не так», «отмена»), status/balance/offices/help in varied forms, Telegram slash
commands, and Latin look-alike letters in Cyrillic words («CЧ1», «ЛC», «HЕТ», «дeнь»).

Before its fixes: 137/163 = 84.0 % exact, 6 wrong readings.
Same two gates as test_heldout.py: no wrong reading or account, exact match ≥ 97 %.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from parsers import parse_line

_DATA = Path(__file__).resolve().parent.parent / "data" / "heldout_round4.jsonl"
_FIELDS = ("intent", "account", "readings", "command", "ticket", "appeal_category")
_TARGET = 0.97


def _cases() -> list[dict[str, Any]]:
    with _DATA.open(encoding="utf-8") as fh:
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


def _run() -> tuple[int, list[str], list[str]]:
    exact = 0
    mismatches: list[str] = []
    wrong: list[str] = []
    for expected in _cases():
        got = parse_line(expected["text"], json_mode=False)
        diff = {k: got.get(k) for k in _FIELDS if got.get(k) != expected[k]}
        if not diff:
            exact += 1
            continue
        want = {k: expected[k] for k in diff}
        mismatches.append(f"{expected['text']!r}\n    got  {diff}\n    want {want}")
        for problem in _wrong(expected, got):
            wrong.append(f"{expected['text']!r}: {problem}")
    return exact, mismatches, wrong


def test_round4_set_is_large_and_well_formed() -> None:
    cases = _cases()
    assert len(cases) >= 150
    texts = [c["text"] for c in cases]
    assert len(set(texts)) == len(texts)
    for case in cases:
        assert set(_FIELDS) | {"text"} == set(case)
        assert case["intent"] in {"readings", "command", "appeal", "unknown"}
        assert (case["intent"] == "readings") == bool(case["readings"])


def test_round4_no_wrong_readings_and_exact_match_rate() -> None:
    total = len(_cases())
    exact, mismatches, wrong = _run()
    rate = exact / total
    print(f"\nround-4 exact match: {exact}/{total} = {rate:.1%}; wrong readings: {len(wrong)}")
    for line in mismatches:
        print("MISMATCH", line)
    for line in wrong:
        print("WRONG", line)
    assert not wrong, "wrong readings or accounts:\n" + "\n".join(wrong)
    assert rate >= _TARGET, f"exact match {rate:.1%} < {_TARGET:.0%}:\n" + "\n".join(mismatches)
