"""Pure rules for meter readings: billing period, zone mapping, validation decisions.

No I/O here: the use case (`handlers/readings.py`) loads the registry and history,
asks these functions what to do, and stores the result. Every rule is table-tested in
`tests/handlers/test_readings_rules.py`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from parsers.intent import Zone

ZONE_ORDER: tuple[Zone, ...] = ("T1", "T2", "T3")

MONTHS = (
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
)


# -- the period and the window ---------------------------------------------------------


def period_of(day: date, window_last_day: int) -> str:
    """The billing period (YYYY-MM) of a reading taken on `day`: the month itself up to
    the window's last day, the next month after it (docs/architecture.md, Readings: Window)."""
    year, month = day.year, day.month
    if day.day > window_last_day:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{year:04d}-{month:02d}"


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    """The calendar day in the service's time zone (the window is a local rule)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(tz).date()


def in_window(day: date, first_day: int, last_day: int) -> bool:
    return first_day <= day.day <= last_day


def month_name(period: str) -> str:
    """«2026-12» → «декабрь» (as in «в расчёте за декабрь»)."""
    return MONTHS[int(period[5:7]) - 1]


def months_between(earlier: str, later: str) -> int:
    """Whole months from one period to another («2026-10» → «2026-12» is 2)."""
    y1, m1 = int(earlier[:4]), int(earlier[5:7])
    y2, m2 = int(later[:4]), int(later[5:7])
    return (y2 - y1) * 12 + (m2 - m1)


# -- zone mapping ----------------------------------------------------------------------


class ZoneProblem(enum.Enum):
    SINGLE_FOR_MULTI = "single_for_multi"  # one unlabelled value for a 2/3-zone meter
    WRONG_COUNT = "wrong_count"  # more or fewer values than the meter has zones
    NO_SUCH_ZONE = "no_such_zone"  # «ночь» for a one-zone meter, T3 for a two-zone one
    DUPLICATE = "duplicate"  # the same zone twice
    INCOMPLETE = "incomplete"  # labelled, but not every zone (and no earlier values)


@dataclass(frozen=True, slots=True)
class ZoneMapping:
    values: dict[Zone, Decimal]
    problem: ZoneProblem | None = None


def map_zones(
    zones: int,
    readings: Sequence[tuple[Zone | None, Decimal]],
    *,
    have_current: frozenset[Zone] = frozenset(),
) -> ZoneMapping:
    """Give each value its zone on a meter with `zones` zones.

    Labelled values keep their zone; unlabelled ones fill the remaining zones in order
    (день = T1, ночь = T2, полупик = T3). Every zone must get a value, except that a
    labelled correction of some zones is allowed when the others already have a value
    in this period (`have_current`): the customer fixes only the night value, say.
    """
    names = ZONE_ORDER[:zones]
    values: dict[Zone, Decimal] = {}
    unlabelled: list[Decimal] = []
    for zone, value in readings:
        if zone is None:
            unlabelled.append(value)
            continue
        if zone not in names:
            # A one-zone meter's only value labelled «день»/T1 is fine; anything else
            # names a zone the meter does not have.
            return ZoneMapping({}, ZoneProblem.NO_SUCH_ZONE)
        if zone in values:
            return ZoneMapping({}, ZoneProblem.DUPLICATE)
        values[zone] = value
    free = [z for z in names if z not in values]
    if unlabelled:
        if len(unlabelled) != len(free):
            if not values and len(unlabelled) == 1 and zones > 1:
                return ZoneMapping({}, ZoneProblem.SINGLE_FOR_MULTI)
            return ZoneMapping({}, ZoneProblem.WRONG_COUNT)
        values.update(zip(free, unlabelled, strict=True))
        return ZoneMapping(values)
    missing = [z for z in free if z not in have_current]
    if missing:
        return ZoneMapping({}, ZoneProblem.INCOMPLETE)
    return ZoneMapping(values)


def zones_fit(zones: int, readings: Sequence[tuple[Zone | None, Decimal]]) -> bool:
    """Whether the values can belong to a meter with `zones` zones (to pick one of an
    account's meters when the text names none)."""
    return map_zones(zones, readings).problem is None


# -- validation ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Base:
    """The value a new reading is checked against and the period it belongs to."""

    value: Decimal
    period: str


def choose_base(
    billing: Decimal | None,
    billing_date: date | None,
    gateway: Decimal | None,
    gateway_day: date | None,
    window_last_day: int,
) -> Base | None:
    """The newer of billing's last reading and the last one the gateway accepted
    (docs/architecture.md: when billing's last reading is older than one the gateway accepted,
    validation uses the newer). A billing value without a date counts as the older."""
    billing_base = (
        Base(billing, period_of(billing_date, window_last_day) if billing_date else "0000-00")
        if billing is not None
        else None
    )
    gateway_base = (
        Base(gateway, period_of(gateway_day, window_last_day))
        if gateway is not None and gateway_day is not None
        else None
    )
    if billing_base is None:
        return gateway_base
    if gateway_base is None or gateway_day is None:
        return billing_base
    if billing_date is not None and billing_date > gateway_day:
        return billing_base
    return gateway_base


class Verdict(enum.Enum):
    OK = "ok"
    ROLLOVER = "rollover"  # lower, but the meter went past 10^digits: accepted
    HIGH = "high"  # plausible but large: held until the customer confirms
    ZERO = "zero"
    LOWER = "lower"
    TOO_LONG = "too_long"  # more integer digits than the meter shows


REFUSED = frozenset({Verdict.ZERO, Verdict.LOWER, Verdict.TOO_LONG})


@dataclass(frozen=True, slots=True)
class Check:
    verdict: Verdict
    consumption: Decimal | None = None  # since the base, None when there is no base


def check_value(
    value: Decimal,
    *,
    digits: int,
    base: Base | None,
    period: str,
    cap_kwh: int,
    average: Decimal | None = None,
    average_factor: float = 3.0,
) -> Check:
    """Decide what to do with one zone's value.

    The cap is per zone and period: a base three periods old allows three caps. With an
    average month known (≥3 months of history), a month's consumption above
    `average_factor` × average is also held for confirmation.
    """
    if value <= 0:
        return Check(Verdict.ZERO)
    limit = Decimal(10) ** digits
    if value >= limit:
        return Check(Verdict.TOO_LONG)
    if base is None:
        return Check(Verdict.OK)
    months = max(1, months_between(base.period, period))
    cap = Decimal(cap_kwh) * months
    if value < base.value:
        rolled = limit - base.value + value
        if base.value < limit and rolled <= cap:
            return Check(Verdict.ROLLOVER, rolled)
        return Check(Verdict.LOWER)
    consumption = value - base.value
    if consumption > cap:
        return Check(Verdict.HIGH, consumption)
    factor = Decimal(str(average_factor))
    if average is not None and average > 0 and consumption / months > average * factor:
        return Check(Verdict.HIGH, consumption)
    return Check(Verdict.OK, consumption)


def average_month(points: Sequence[tuple[str, Decimal]], min_months: int = 3) -> Decimal | None:
    """The customer's average monthly consumption from (period, value) points, once they
    span at least `min_months` months; None before that. Drops from a meter going back
    (a replacement or a rollover) are left out rather than guessed."""
    ordered = sorted(points)
    total = Decimal(0)
    months = 0
    for (p1, v1), (p2, v2) in zip(ordered, ordered[1:], strict=False):
        gap = months_between(p1, p2)
        if gap <= 0 or v2 < v1:
            continue
        total += v2 - v1
        months += gap
    if months < min_months:
        return None
    return total / months
