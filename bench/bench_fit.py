"""How long the outage notice takes to fit two SMS parts, as the reason and the house
list grow (issue 13: quadratic before, 8 s at 50 000 characters, 14 minutes at 100 000
houses). The API and CLI refuse such input (reason ≤ 500, houses ≤ 2 000 characters);
this measures the fitting alone, so that it stays linear whatever reaches it.

    .venv/bin/python bench/bench_fit.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime
from datetime import time as clock
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from notifications.campaigns import (  # noqa: E402 - after the path
    NoticeConfig,
    Notifications,
    OutageRequest,
)
from notifications.quiet import QuietHours  # noqa: E402

MSK = ZoneInfo("Europe/Moscow")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    config = NoticeConfig(MSK, "ЭнергоСбыт", QuietHours(clock(21), clock(9), MSK), 1000, True)
    store = SimpleNamespace(db=None)  # the fitting touches no store
    service = Notifications(store, config)  # type: ignore[arg-type]
    cases = {
        "reason 500 chars (the API's limit)": ("авария " * 72, "1-3"),
        "houses 2 000 chars (the API's limit)": ("ремонт", ",".join(map(str, range(460)))),
        "reason 50 000 chars": ("авария " * 7_143, "1-3"),
        "houses 100 000": ("ремонт", ",".join(map(str, range(100_000)))),
    }
    print("| input | median ms |\n|---|---|")
    for name, (reason, houses) in cases.items():
        req = OutageRequest(
            settlement="Сыктывкар", street="Комарова", houses=houses, reason=reason,
            start=datetime(2030, 11, 26, 10, tzinfo=MSK),
            until=datetime(2030, 11, 26, 18, tzinfo=MSK),
        )
        times = []
        for _ in range(args.runs):
            begin = time.perf_counter()
            service.outage_sms_text(req)
            times.append((time.perf_counter() - begin) * 1000)
        print(f"| {name} | {statistics.median(times):.2f} |")


if __name__ == "__main__":
    main()
