"""Labelled messages: the held-out batches and `gateway export labelled` lines
(docs/interfaces.md §5 and §12), and the exactness measure of §5."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parsers import parse
from parsers.corpus import (
    CorpusError,
    is_exact,
    load_labelled,
    parse_labelled_line,
    read_labelled,
    wrong_claims,
)

_DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.mark.parametrize("path", sorted(_DATA.glob("*.jsonl")), ids=lambda p: p.name)
def test_every_batch_loads(path: Path) -> None:
    cases = load_labelled(path)
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(cases) == len(lines)
    assert {c.intent for c in cases} <= {"readings", "command", "appeal", "unknown"}


# What an export line may look like: only the labelled fields, extra keys of the
# workspace, the notify channel.
EXPORT_LINES = [
    (
        {"text": "уведомления в MAX", "intent": "command", "command": "notify",
         "notify_channel": "max"},
        "command:notify",
    ),
    (
        {"text": "гудит счётчик", "intent": "appeal", "appeal_category": "meter",
         "entered_by": "ivanova", "labelled_at": "2026-12-03T09:00:00+00:00"},
        "appeal:meter",
    ),
    (
        {"text": "ЛС 1000000001 день 4521", "intent": "readings", "account": "1000000001",
         "readings": [{"meter": None, "zone": "T1", "value": "4521"}], "command": None,
         "ticket": None, "appeal_category": None},
        "readings",
    ),
    ({"text": "кто это", "intent": "unknown"}, "unknown"),
]  # fmt: skip


@pytest.mark.parametrize(("obj", "label"), EXPORT_LINES)
def test_export_lines_are_read(obj: dict[str, object], label: str) -> None:
    item = parse_labelled_line(json.dumps(obj, ensure_ascii=False))
    assert item.label == label
    assert item.text == obj["text"]


BAD_LINES = [
    ("{not json", "not JSON"),
    ('"a string"', "not a JSON object"),
    ('{"intent": "unknown"}', "text"),
    ('{"text": "x", "intent": "maybe"}', "intent"),
    ('{"text": "x", "intent": "command"}', "without 'command'"),
    ('{"text": "x", "intent": "appeal"}', "without 'appeal_category'"),
    ('{"text": "x", "intent": "command", "command": "fly"}', "command"),
    ('{"text": "x", "intent": "readings"}', "readings must be given"),
    ('{"text": "x", "intent": "command", "command": "notify"}', "notify_channel"),
    ('{"text": "x", "intent": "command", "command": "help", "notify_channel": "sms"}',
     "notify_channel"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "message"), BAD_LINES)
def test_a_bad_line_is_an_error_naming_its_place(line: str, message: str) -> None:
    lines = ['{"text": "помощь", "intent": "command", "command": "help"}', "", line]
    with pytest.raises(CorpusError) as caught:
        list(read_labelled(lines, "export.jsonl"))
    assert str(caught.value).startswith("export.jsonl:3: ")
    assert message in str(caught.value)


EXACT = [
    # readings: account and values matter
    ('{"text": "ЛС 1234567890 день 4521", "intent": "readings", "account": "1234567890", '
     '"readings": [{"meter": null, "zone": "T1", "value": "4521"}]}', True),
    ('{"text": "ЛС 1234567890 день 4521", "intent": "readings", "account": null, '
     '"readings": [{"meter": null, "zone": "T1", "value": "4521"}]}', False),
    # status: the ticket matters
    ('{"text": "статус 618", "intent": "command", "command": "status", "ticket": "618"}', True),
    ('{"text": "статус 618", "intent": "command", "command": "status", "ticket": "619"}', False),
    # balance: the account matters only when labelled
    ('{"text": "баланс 1234567890", "intent": "command", "command": "balance"}', True),
    ('{"text": "баланс 1234567890", "intent": "command", "command": "balance", '
     '"account": "1234567890"}', True),
    # notify: the channel matters
    ('{"text": "уведомления в MAX", "intent": "command", "command": "notify", '
     '"notify_channel": "max"}', True),
    ('{"text": "уведомления в MAX", "intent": "command", "command": "notify", '
     '"notify_channel": "email"}', False),
    ('{"text": "гудит счётчик", "intent": "appeal", "appeal_category": "meter"}', True),
    ('{"text": "гудит счётчик", "intent": "appeal", "appeal_category": "power_quality"}', False),
    ('{"text": "привет", "intent": "unknown"}', True),
]  # fmt: skip


@pytest.mark.parametrize(("line", "exact"), EXACT)
def test_exactness_counts_the_fields_that_matter(line: str, exact: bool) -> None:
    expected = parse_labelled_line(line)
    assert is_exact(expected, parse(expected.text)) is exact


def test_wrong_claims_name_readings_and_accounts_not_labelled() -> None:
    expected = parse_labelled_line(
        '{"text": "ЛС 1234567890 день 4521 ночь 1876", "intent": "readings", '
        '"account": "1111111111", "readings": [{"meter": null, "zone": "T1", "value": "4521"}]}'
    )
    problems = wrong_claims(expected, parse(expected.text))
    assert problems == [
        "readings not expected: [(None, 'T2', '1876')]",
        "account '1234567890', expected '1111111111'",
    ]
