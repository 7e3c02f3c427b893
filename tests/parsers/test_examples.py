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
