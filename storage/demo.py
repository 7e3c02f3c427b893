"""The demo registry (docs/interfaces.md §1): loaded into an empty database when
`[demo] enabled = true`, so that `make run` has customers to talk to.

`storage/demo/customers.csv` is an ordinary registry file (docs/interfaces.md §3): about thirty
accounts in Сыктывкар, Ухта, Воркута and Эжва with one-, two- and three-zone meters,
accounts with several meters, a phone on several accounts, an account without a phone,
debts and credit, and the sample accounts of the contracts (1234567890 with
+79121234567 and a two-zone meter, 0012345678, 987654321). It ships as package data
(`[tool.setuptools.package-data] storage = ["demo/*.csv"]`); `demo/` needs no
`__init__.py`.
"""

from __future__ import annotations

from importlib import resources

from storage.db import Database
from storage.registry import ImportReport, import_customers


def demo_csv() -> bytes:
    """The demo registry file's bytes."""
    return (resources.files("storage") / "demo" / "customers.csv").read_bytes()


async def load_demo(db: Database, *, region: str = "RU") -> ImportReport:
    """Import the demo registry (an ordinary idempotent registry import)."""
    return await import_customers(db, demo_csv(), region=region)


async def load_demo_if_empty(db: Database, *, region: str = "RU") -> int:
    """Load the demo registry when the database has no accounts; returns the number of
    accounts loaded (0 when there were accounts already: real data is never mixed with
    demo data)."""
    if await db.fetchval("SELECT EXISTS (SELECT 1 FROM accounts)"):
        return 0
    report = await load_demo(db, region=region)
    return report.accounts
