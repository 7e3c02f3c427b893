"""The sample messages of the contract, with their expected parse (tests/data)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from parsers import parse_line

_DATA = Path(__file__).resolve().parent.parent / "data" / "messages.jsonl"


def _cases() -> list[dict[str, Any]]:
    with _DATA.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.mark.parametrize("expected", _cases(), ids=lambda case: case["text"][:40])
def test_sample_message(expected: dict[str, Any]) -> None:
    assert parse_line(expected["text"], json_mode=False) == expected


def test_json_mode_round_trips_a_sample() -> None:
    case = _cases()[0]
    line = json.dumps(case["text"], ensure_ascii=False)
    assert parse_line(line, json_mode=True) == case


# `gateway parse --json` lines that are not a usable JSON string: unknown with an error.
_JSON_MODE_ERRORS = [
    ("", "invalid JSON"),
    ("not json", "invalid JSON"),
    ("123", "not a string literal"),
    # A lone surrogate decoded fine and then crashed the CLI's UTF-8 output.
    ('"\\ud800"', "lone surrogate"),
    ('"день \\udc00 4521"', "lone surrogate"),
]


@pytest.mark.parametrize(("line", "error"), _JSON_MODE_ERRORS)
def test_json_mode_error(line: str, error: str) -> None:
    out = parse_line(line, json_mode=True)
    assert out["intent"] == "unknown"
    assert out["text"] == line
    assert error in out["error"]
    json.dumps(out, ensure_ascii=False).encode("utf-8")


def test_json_mode_surrogate_pair_is_the_emoji() -> None:
    out = parse_line('"\\ud83d\\ude00"', json_mode=True)
    assert out["text"] == "\U0001f600"
    assert "error" not in out
