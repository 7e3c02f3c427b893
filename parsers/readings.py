"""Readings and the account number from the tokens of a message (docs/interfaces.md §5).

The rules, in the order they are applied:

- the account is the labelled number, else the first whole number of 8–12 digits;
- a number right after a meter label is the meter's serial when it carries № or is
  too long for a reading or another value follows before the next meter label;
  otherwise it is a reading («показания счётчика 35412»);
- zone labels precede their values when the first label comes before the first value,
  and follow them otherwise;
- anything doubtful gives no reading: no reading is better than a wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from parsers.intent import ParsedReading, Zone
from parsers.normalize import Token

# A meter's display has at most 6 integer digits in practice (7 with a leading zero);
# a longer number is a serial, an account or a phone, never a reading.
MAX_READING_DIGITS: Final = 6
MAX_READING_CHARS: Final = 7
# More values than zones on a three-zone meter: a list of something else.
MAX_VALUES_PER_METER: Final = 3
# A value of one or two digits is a reading only with a zone, a meter or one of these
# words beside it: bare, it is more often a flat, a count or a menu choice.
_READING_WORDS: Final = ("показ", "пок", "pokaz")
# «счётчик Меркурий 201 № 0915432»: at most this many tokens (the make and its model
# number) between a meter label and a «№ serial» that still belongs to it.
_MAX_MODEL_TOKENS: Final = 3


@dataclass(slots=True)
class _Value:
    text: str
    meter: str | None
    zone: Zone | None = None


def is_reading_number(text: str) -> bool:
    """Whether a number as written could be a meter reading at all."""
    whole = text.replace(",", ".").split(".", 1)[0]
    return len(whole) <= MAX_READING_CHARS and len(whole.lstrip("0")) <= MAX_READING_DIGITS


def to_decimal(text: str) -> Decimal:
    """«04521» → 4521, «4521,7» → 4521.7 (the text is digits with one optional mark)."""
    return Decimal(text.replace(",", "."))


def find_account(tokens: list[Token], account_digits: tuple[int, int]) -> tuple[str | None, int]:
    """The account named by the text and the index of the token it came from (or -1).

    A labelled number wins; otherwise the first whole number of `account_digits` digits.
    """
    for i, tok in enumerate(tokens):
        if tok.kind == "account" and tok.value:
            return tok.value, i
    lo, hi = account_digits
    for i, tok in enumerate(tokens):
        if tok.kind == "num" and tok.text.isdigit() and lo <= len(tok.text) <= hi:
            return tok.text, i
    return None, -1


def extract_readings(tokens: list[Token], skip: int) -> list[ParsedReading]:
    """The readings written in `tokens`, in order; `skip` is the account's token index."""
    # Pass 1: a flat sequence of meter boundaries, zone labels and values.
    items: list[tuple[str, object]] = []
    label_at: tuple[int, int] | None = None  # (token, item) of a bare meter label
    for i, tok in enumerate(tokens):
        if i == skip:
            continue
        if tok.kind == "numbered":
            if label_at is not None and _model_between(tokens, label_at[0], i):
                # «счётчик Меркурий 201 № 0915432»: the model number is no reading.
                del items[label_at[1] + 1 :]
                items.append(("serial", tok.value))
            label_at = None
            continue
        if tok.kind == "meter":
            label_at = (i, len(items)) if tok.value is None else None
            items.append(("meter", tok.value))
        elif tok.kind == "meter_num":
            if _is_serial(tokens, i):
                items.append(("serial", tok.text))
            elif is_reading_number(tok.text):
                items.append(("value", tok.text))
        elif tok.kind == "zone":
            items.append(("zone", tok.value))
        elif tok.kind == "num" and is_reading_number(tok.text):
            items.append(("value", tok.text))
        elif tok.kind == "ambig":
            # «4 521»: takes its label's place, then gives no reading.
            items.append(("value", None))

    first_zone = next((k for k, (kind, _) in enumerate(items) if kind == "zone"), None)
    first_value = next((k for k, (kind, _) in enumerate(items) if kind == "value"), None)
    if first_value is None:
        return []
    labels_first = first_zone is not None and first_zone < first_value
    # Each meter's stretch may be written its own way («сч1 4521 день 1876 ночь сч2 день
    # 3100 ночь 1600»): where a stretch has both labels and values, its first ones decide
    # for it; the message's direction holds elsewhere. One direction for the whole
    # message put «день» of meter 2 onto nothing and 3100 into the night.
    direction = _directions(items, labels_first)

    # Pass 2: meters and zones onto values.
    values: list[_Value | None] = []
    groups: dict[int, int] = {}  # meter group number -> values in it
    group = 0
    meter: str | None = None
    queue: list[Zone] = []
    open_value: _Value | None = None  # the last value still waiting for a trailing label
    for kind, payload in items:
        labels_first = direction[group + 1] if kind == "meter" else direction[group]
        if kind == "meter":
            group += 1
            meter = payload if isinstance(payload, str) else None
            queue.clear()
            open_value = None
        elif kind == "serial":
            meter = payload if isinstance(payload, str) else None
        elif kind == "zone":
            zone: Zone = payload  # type: ignore[assignment]
            if labels_first:
                # «т1 (день) 4521»: the same label twice names one zone.
                if not queue or queue[-1] != zone:
                    queue.append(zone)
            elif open_value is not None:
                open_value.zone = zone
                open_value = None
        else:
            value = _Value(payload if isinstance(payload, str) else "", meter)
            if labels_first and queue:
                value.zone = queue.pop(0)
            values.append(value if payload is not None else None)
            groups[group] = groups.get(group, 0) + 1
            open_value = value

    if any(count > MAX_VALUES_PER_METER for count in groups.values()):
        return []
    keyword = any(tok.kind == "word" and tok.text.startswith(_READING_WORDS) for tok in tokens)
    return [
        ParsedReading(meter=v.meter, zone=v.zone, value=to_decimal(v.text))
        for v in values
        if v is not None
        and (len(v.text.split(",")[0].split(".")[0]) > 2 or v.zone or v.meter or keyword)
    ]


def _directions(items: list[tuple[str, object]], default: bool) -> list[bool]:
    """For each meter stretch (0: before the first meter label) whether its zone labels
    precede their values."""
    stretches: list[list[str]] = [[]]
    for kind, _ in items:
        if kind == "meter":
            stretches.append([])
        else:
            stretches[-1].append(kind)
    result = []
    for kinds in stretches:
        if "zone" in kinds and "value" in kinds:
            result.append(kinds.index("zone") < kinds.index("value"))
        else:
            result.append(default)
    return result


def _model_between(tokens: list[Token], label: int, index: int) -> bool:
    """Whether only a make and a model («Меркурий 201», «СЕ 102») stand between the meter
    label at `label` and the «№ …» at `index`."""
    between = tokens[label + 1 : index]
    return 0 < len(between) <= _MAX_MODEL_TOKENS and all(
        t.kind == "word" or (t.kind in {"num", "house"} and len(t.text) <= 4) for t in between
    )


def _is_serial(tokens: list[Token], index: int) -> bool:
    """Whether the number right after a meter label is the meter's serial."""
    tok = tokens[index]
    if tok.serial or not is_reading_number(tok.text):
        return True
    if tok.value is not None:
        # «1-й счётчик 4521»: the meter is named already, the number is its reading.
        return False
    for later in tokens[index + 1 :]:
        if later.kind in {"meter", "meter_num"}:
            return False
        if later.kind == "num" and is_reading_number(later.text):
            return True
    return False
