"""`Store`: the open database and every repository over it, built once by the app.

The fields are the ports of `storage.ports`: callers see roles, not SQLite classes.
`Store.over` picks the implementations (mypy checks there that they fit the ports);
`db` stays for transactions and the repositories not behind a port yet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from storage.db import Database
from storage.inbox import AuditRepo, InboxRepo
from storage.notice_channels import NoticeChannelRepo
from storage.open import StoreTarget, open_database
from storage.outbox import OutboxRepo
from storage.ports import (
    Appeals,
    Audit,
    Contacts,
    ConversationStates,
    Inbox,
    Journal,
    NoticeChannels,
    OpsStats,
    Outages,
    Outbox,
    Readings,
    Registry,
    StaffAccounts,
)
from storage.repos import (
    AppealRepo,
    ContactRepo,
    JournalRepo,
    OutageRepo,
    ReadingRepo,
    RegistryRepo,
    StateRepo,
)
from storage.staff import StaffRepo
from storage.stats import SqliteOpsStats


@dataclass
class Store:
    db: Database
    registry: Registry
    contacts: Contacts
    readings: Readings
    state: ConversationStates
    journal: Journal
    appeals: Appeals
    outages: Outages
    outbox: Outbox
    notice_channels: NoticeChannels
    staff: StaffAccounts
    stats: OpsStats
    inbox: Inbox
    audit: Audit

    @classmethod
    def over(cls, db: Database) -> Store:
        """The repositories over one open (or to be opened) store of either kind."""
        return cls(
            db=db,
            registry=RegistryRepo(db),
            contacts=ContactRepo(db),
            readings=ReadingRepo(db),
            state=StateRepo(db),
            journal=JournalRepo(db),
            appeals=AppealRepo(db),
            outages=OutageRepo(db),
            outbox=OutboxRepo(db),
            notice_channels=NoticeChannelRepo(db),
            staff=StaffRepo(db),
            stats=SqliteOpsStats(db),
            inbox=InboxRepo(db),
            audit=AuditRepo(db),
        )

    @classmethod
    async def open(cls, where: str | Path | StoreTarget, *, create: bool = True) -> Store:
        """Open the store `where` names (a SQLite path, or a `StoreTarget` from
        `[storage] url`/`path`). `create=False`: a reading command, which refuses a
        missing or older store (`storage.open.StoreMissingError`)."""
        target = where if isinstance(where, StoreTarget) else StoreTarget("sqlite", Path(where))
        return cls.over(await open_database(target, create=create))

    async def close(self) -> None:
        await self.db.close()

    async def __aenter__(self) -> Self:
        if not self.db.is_open:
            await self.db.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
