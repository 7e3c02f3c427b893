"""«офисы»: where to come in person (data in `handlers/data/offices.json`, editable by
staff; `HandlerConfig.offices_file` points at another copy)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from handlers import texts
from handlers.base import Context, HandlerConfig, Outcome
from handlers.common import linked_accounts
from storage.address import settlement_key
from storage.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Office:
    settlement: str
    address: str
    hours: str
    phone: str = ""


def load_offices(path: str | None = None) -> list[Office]:
    """Offices from a JSON file (`{"offices": [{settlement, address, hours, phone}]}`);
    the shipped file when no path is given. A broken staff file is logged and the
    shipped list used, so that «офисы» still answers."""
    try:
        if path:
            raw = Path(path).read_text(encoding="utf-8")
        else:
            raw = (resources.files("handlers") / "data" / "offices.json").read_text("utf-8")
        rows = json.loads(raw)["offices"]
        return [
            Office(
                settlement=str(r["settlement"]),
                address=str(r["address"]),
                hours=str(r.get("hours", "")),
                phone=str(r.get("phone", "")),
            )
            for r in rows
        ]
    except (OSError, ValueError, KeyError, TypeError):
        if path:
            log.exception("offices: cannot read %s; using the shipped list", path)
            return load_offices(None)
        raise


def order_offices(offices: list[Office], settlements: list[str]) -> list[Office]:
    """The customer's settlements first, the rest in file order."""
    keys = [settlement_key(s) for s in settlements if s]

    def rank(office: Office) -> int:
        key = settlement_key(office.settlement)
        return keys.index(key) if key in keys else len(keys)

    return sorted(offices, key=rank)


class OfficesUseCase:
    def __init__(self, store: Store, config: HandlerConfig) -> None:
        self.store = store
        self.config = config
        self._offices: list[Office] | None = None

    def offices(self) -> list[Office]:
        if self._offices is None:
            self._offices = load_offices(self.config.offices_file)
        return self._offices

    async def answer(self, ctx: Context) -> Outcome:
        """The offices, those of the customer's settlement first; SMS gets as many as
        fit in two parts."""
        settlements = []
        for number in await linked_accounts(self.store, ctx.contact):
            account = await self.store.registry.get_account(number)
            if account is not None:
                settlements.append(account.settlement)
        offices = order_offices(self.offices(), settlements)
        if not offices:
            return Outcome.say(texts.OFFICES_NONE.format(company=self.config.company))
        if ctx.has_buttons:
            lines = [
                texts.OFFICE_LINE.format(settlement=o.settlement, address=o.address, hours=o.hours)
                + (f", тел. {o.phone}" if o.phone else "")
                for o in offices
            ]
            return Outcome.say("Офисы:\n" + "\n".join(lines))
        lines = [
            texts.OFFICE_LINE.format(settlement=o.settlement, address=o.address, hours=o.hours)
            for o in offices
        ]
        text = lines[0]
        for line in lines[1:]:
            if len(text) + 2 + len(line) > texts.SMS_MAX:
                break
            text = f"{text}; {line}"
        return Outcome.say(texts.clip(text, texts.SMS_MAX))
