"""Labelled messages: the held-out batches and `gateway export labelled` output.

Both are one JSON object a line with the parse fields of docs/interfaces.md §5. A batch
file carries every field; an export carries the text and the fields a person labelled
(a missing field is null or empty, `notify_channel` only with `notify`, other keys such
as `entered_by` are ignored). A line that is not such an object is an error naming the
file and line: a bad label must not silently train or score anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, ValidationError

from parsers.intent import (
    AppealCategory,
    Command,
    Intent,
    IntentKind,
    NotifyChannel,
    format_decimal,
)


class LabelledReading(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    meter: str | None = None
    zone: str | None = None
    value: str


class Labelled(BaseModel):
    """One message and what it means, as a person labelled it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    text: str
    intent: IntentKind
    account: str | None = None
    readings: tuple[LabelledReading, ...] = ()
    command: Command | None = None
    ticket: str | None = None
    appeal_category: AppealCategory | None = None
    notify_channel: NotifyChannel | None = None

    @property
    def label(self) -> str:
        """The class a classifier learns: «command:help», «appeal:meter», «readings»…"""
        if self.intent == "command":
            return f"command:{self.command}"
        if self.intent == "appeal":
            return f"appeal:{self.appeal_category}"
        return self.intent


class CorpusError(ValueError):
    """A line of a labelled file that cannot be used (its file and line number say where)."""


_NEEDS: Final[dict[str, str]] = {"command": "command", "appeal": "appeal_category"}


def parse_labelled_line(line: str, where: str = "<line>") -> Labelled:
    """One labelled message from one JSON line; `CorpusError` when it is not one."""
    try:
        raw: Any = json.loads(line)
    except ValueError as exc:
        raise CorpusError(f"{where}: not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise CorpusError(f"{where}: not a JSON object")
    try:
        item = Labelled.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "object"
        raise CorpusError(f"{where}: {field}: {first['msg']}") from None
    needed = _NEEDS.get(item.intent)
    if needed is not None and getattr(item, needed) is None:
        raise CorpusError(f"{where}: intent {item.intent!r} without {needed!r}")
    if (item.intent == "readings") != bool(item.readings):
        raise CorpusError(f"{where}: readings must be given exactly when intent is 'readings'")
    if (item.command == "notify") != (item.notify_channel is not None):
        raise CorpusError(f"{where}: notify_channel goes with command 'notify' only")
    return item


def read_labelled(lines: Iterable[str], name: str = "<input>") -> Iterator[Labelled]:
    """Labelled messages from JSON lines (blank lines skipped)."""
    for number, line in enumerate(lines, 1):
        if line.strip():
            yield parse_labelled_line(line, f"{name}:{number}")


def load_labelled(path: Path) -> list[Labelled]:
    """Every labelled message of a batch file or a `gateway export labelled` file."""
    with path.open(encoding="utf-8") as fh:
        return list(read_labelled(fh, str(path)))


def _triples(readings: Iterable[Any]) -> list[tuple[str | None, str | None, str]]:
    out = []
    for r in readings:
        if isinstance(r, LabelledReading):
            out.append((r.meter, r.zone, r.value))
        else:
            out.append((r.meter, r.zone, format_decimal(r.value)))
    return out


def is_exact(expected: Labelled, got: Intent) -> bool:
    """Whether `got` equals the label in the fields that matter for its intent
    (docs/interfaces.md §5, «Measuring it»)."""
    if got.intent != expected.intent:
        return False
    if expected.intent == "readings":
        return got.account == expected.account and _triples(got.readings) == _triples(
            expected.readings
        )
    if expected.intent == "command":
        if got.command != expected.command or got.notify_channel != expected.notify_channel:
            return False
        if expected.command == "status" and got.ticket != expected.ticket:
            return False
        return not (expected.command == "balance" and expected.account is not None) or (
            got.account == expected.account
        )
    if expected.intent == "appeal":
        return got.appeal_category == expected.appeal_category
    return True


def wrong_claims(expected: Labelled, got: Intent) -> list[str]:
    """What `got` asserts that the label does not: a reading or an account not in it."""
    problems = []
    missing = list(_triples(expected.readings))
    extra = []
    for triple in _triples(got.readings):
        if triple in missing:
            missing.remove(triple)
        else:
            extra.append(triple)
    if extra:
        problems.append(f"readings not expected: {extra}")
    if got.account is not None and got.account != expected.account:
        problems.append(f"account {got.account!r}, expected {expected.account!r}")
    return problems
