"""Pure reading rules as tables: period, window, zones, validation, averages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from handlers.readings_rules import (
    Base,
    Verdict,
    ZoneProblem,
    average_month,
    check_value,
    choose_base,
    in_window,
    local_day,
    map_zones,
    month_name,
    months_between,
    period_of,
)

D = Decimal
MSK = ZoneInfo("Europe/Moscow")


@pytest.mark.parametrize(
    ("day", "period"),
    [
        (date(2026, 11, 1), "2026-11"),
        (date(2026, 11, 18), "2026-11"),
        (date(2026, 11, 25), "2026-11"),  # the window's last day still counts for November
        (date(2026, 11, 26), "2026-12"),
        (date(2026, 12, 26), "2027-01"),  # across the year
        (date(2026, 12, 31), "2027-01"),
    ],
)
def test_period_of(day: date, period: str) -> None:
    assert period_of(day, 25) == period


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        # 22:30 UTC on the 25th is already the 26th in Moscow: next period
        (datetime(2026, 11, 25, 22, 30, tzinfo=UTC), date(2026, 11, 26)),
        (datetime(2026, 11, 25, 20, 59, tzinfo=UTC), date(2026, 11, 25)),
    ],
)
def test_local_day_uses_service_time_zone(moment: datetime, day: date) -> None:
    assert local_day(moment, MSK) == day


def test_local_day_refuses_naive_time() -> None:
    with pytest.raises(ValueError, match="naive"):
        local_day(datetime(2026, 11, 25, 12, 0), MSK)  # noqa: DTZ001 - the point of the test


@pytest.mark.parametrize(
    ("day", "inside"), [(17, False), (18, True), (25, True), (26, False), (1, False)]
)
def test_window(day: int, inside: bool) -> None:
    assert in_window(date(2026, 11, day), 18, 25) is inside


def test_month_names_and_gaps() -> None:
    assert month_name("2026-12") == "декабрь"
    assert month_name("2027-01") == "январь"
    assert months_between("2026-10", "2026-12") == 2
    assert months_between("2026-12", "2027-01") == 1


@pytest.mark.parametrize(
    ("zones", "readings", "current", "expected", "problem"),
    [
        (1, [(None, "4521")], (), {"T1": "4521"}, None),
        (1, [("T1", "4521")], (), {"T1": "4521"}, None),  # «день 4521» on a one-zone meter
        (2, [(None, "4521"), (None, "1876")], (), {"T1": "4521", "T2": "1876"}, None),
        (2, [("T2", "1876"), ("T1", "4521")], (), {"T1": "4521", "T2": "1876"}, None),
        (2, [("T2", "1876"), (None, "4521")], (), {"T1": "4521", "T2": "1876"}, None),
        (3, [("T1", "1"), ("T3", "3"), ("T2", "2")], (), {"T1": "1", "T2": "2", "T3": "3"}, None),
        (3, [(None, "1"), (None, "2"), (None, "3")], (), {"T1": "1", "T2": "2", "T3": "3"}, None),
        (2, [(None, "4521")], (), {}, ZoneProblem.SINGLE_FOR_MULTI),
        (3, [(None, "4521")], (), {}, ZoneProblem.SINGLE_FOR_MULTI),
        (3, [(None, "1"), (None, "2")], (), {}, ZoneProblem.WRONG_COUNT),
        (1, [(None, "1"), (None, "2")], (), {}, ZoneProblem.WRONG_COUNT),
        (1, [("T2", "1876")], (), {}, ZoneProblem.NO_SUCH_ZONE),
        (2, [("T3", "1")], (), {}, ZoneProblem.NO_SUCH_ZONE),
        (2, [("T1", "1"), ("T1", "2")], (), {}, ZoneProblem.DUPLICATE),
        (2, [("T2", "1876")], (), {}, ZoneProblem.INCOMPLETE),
        # a labelled correction of one zone when the other has a value this period
        (2, [("T2", "1880")], ("T1",), {"T2": "1880"}, None),
    ],
)
def test_map_zones(
    zones: int,
    readings: list[tuple[str | None, str]],
    current: tuple[str, ...],
    expected: dict[str, str],
    problem: ZoneProblem | None,
) -> None:
    result = map_zones(
        zones,
        [(z, D(v)) for z, v in readings],  # type: ignore[misc]
        have_current=frozenset(current),  # type: ignore[arg-type]
    )
    assert result.problem is problem
    assert {z: str(v) for z, v in result.values.items()} == expected


@pytest.mark.parametrize(
    ("billing", "billing_date", "gateway", "gateway_day", "expected"),
    [
        ("4500", date(2026, 10, 20), None, None, Base(D(4500), "2026-10")),
        (None, None, "4600", date(2026, 10, 21), Base(D(4600), "2026-10")),
        # the gateway accepted a newer one than billing knows: validate against it
        ("4500", date(2026, 9, 20), "4600", date(2026, 10, 21), Base(D(4600), "2026-10")),
        # billing has a newer one (an inspector's reading): validate against billing
        ("4700", date(2026, 10, 28), "4600", date(2026, 10, 21), Base(D(4700), "2026-11")),
        # billing without a date counts as older
        ("4700", None, "4600", date(2026, 10, 21), Base(D(4600), "2026-10")),
        (None, None, None, None, None),
    ],
)
def test_choose_base(
    billing: str | None,
    billing_date: date | None,
    gateway: str | None,
    gateway_day: date | None,
    expected: Base | None,
) -> None:
    got = choose_base(
        D(billing) if billing else None,
        billing_date,
        D(gateway) if gateway else None,
        gateway_day,
        25,
    )
    assert got == expected


BASE = Base(D(4500), "2026-10")


@pytest.mark.parametrize(
    ("value", "digits", "base", "average", "verdict", "consumption"),
    [
        ("4521", 5, BASE, None, Verdict.OK, "21"),
        ("4500", 5, BASE, None, Verdict.OK, "0"),  # unchanged is fine
        ("4521.7", 5, BASE, None, Verdict.OK, "21.7"),
        ("4499", 5, BASE, None, Verdict.LOWER, None),
        ("0", 5, BASE, None, Verdict.ZERO, None),
        ("100000", 5, BASE, None, Verdict.TOO_LONG, None),
        ("9500", 5, BASE, None, Verdict.OK, "5000"),  # exactly the cap
        ("9501", 5, BASE, None, Verdict.HIGH, "5001"),  # above the cap: held
        # rollover: 10^4 − 9950 + 30 = 80 kWh, within the cap
        ("30", 4, Base(D(9950), "2026-10"), None, Verdict.ROLLOVER, "80"),
        # «rollover» far beyond the cap is just a lower value
        ("30", 5, Base(D(9950), "2026-10"), None, Verdict.LOWER, None),
        # three months since the base allow three caps
        ("19000", 5, Base(D(4500), "2026-08"), None, Verdict.OK, "14500"),
        # above 3× the average month
        ("4800", 5, BASE, D(90), Verdict.HIGH, "300"),
        ("4770", 5, BASE, D(90), Verdict.OK, "270"),
        ("4521", 5, None, None, Verdict.OK, None),  # nothing to compare with
    ],
)
def test_check_value(
    *,
    value: str,
    digits: int,
    base: Base | None,
    average: Decimal | None,
    verdict: Verdict,
    consumption: str | None,
) -> None:
    check = check_value(
        D(value), digits=digits, base=base, period="2026-11", cap_kwh=5000, average=average
    )
    assert check.verdict is verdict
    assert (str(check.consumption) if check.consumption is not None else None) == consumption


@pytest.mark.parametrize(
    ("points", "average"),
    [
        ([], None),
        ([("2026-08", "100"), ("2026-09", "200"), ("2026-10", "300")], None),  # 2 months
        ([("2026-07", "100"), ("2026-08", "200"), ("2026-09", "300"), ("2026-10", "400")], "100"),
        ([("2026-07", "100"), ("2026-10", "400")], "100"),  # a gap spreads over its months
        # a meter replaced (values drop) is left out
        ([("2026-05", "9000"), ("2026-06", "10"), ("2026-09", "310")], "100"),
    ],
)
def test_average_month(points: list[tuple[str, str]], average: str | None) -> None:
    got = average_month([(p, D(v)) for p, v in points])
    assert (str(got) if got is not None else None) == average
