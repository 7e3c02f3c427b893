"""Submit meter readings (docs/architecture.md, Domain rules: Readings).

The flow of one message: find the account (named in the text, remembered from the
conversation, or the sender's only account; ask when the phone has several), give each
value its meter and zone, check each against the newer of billing's last reading and the
gateway's last accepted one, then accept, hold for ДА/НЕТ, or refuse with what to send
instead. The pure decisions live in `handlers/readings_rules.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal

from handlers import texts
from handlers.base import Context, HandlerConfig, Outcome, Reply
from handlers.common import (
    AWAIT_READINGS,
    CHOOSE_METER,
    CONFIRM_READINGS,
    ask_account,
    choice_reply_options,
    fmt_decimal,
    is_linked,
    linked_accounts,
    state,
    yes_no,
)
from handlers.readings_rules import (
    REFUSED,
    Base,
    Check,
    Verdict,
    ZoneProblem,
    average_month,
    check_value,
    choose_base,
    in_window,
    local_day,
    map_zones,
    month_name,
    period_of,
    zones_fit,
)
from parsers.intent import Intent, ParsedReading, Zone
from storage.models import Account, Meter, NewReading, UnlinkedSubmission
from storage.store import Store

# An unlinked submission keeps this much of the message for staff.
_KEPT_TEXT = 1000
_LIMIT_REASONS = {
    texts.UNLINKED_LIMIT_HOUR: "limit: submissions per hour",
    texts.UNLINKED_LIMIT_DAY: "limit: accounts per day",
    texts.UNLINKED_LIMIT_ACCOUNT: "limit: strangers per account per day",
}


@dataclass(frozen=True, slots=True)
class _Planned:
    meter: Meter
    zone: Zone
    value: Decimal
    check: Check
    base: Base | None


class ReadingsUseCase:
    """«ЛС 1234567890 день 4521 ночь 1876», «показания те же», and the ДА/НЕТ after."""

    def __init__(self, store: Store, config: HandlerConfig) -> None:
        self.store = store
        self.config = config

    # -- entry points ------------------------------------------------------------------

    async def submit(self, ctx: Context, intent: Intent) -> Outcome:
        """Check and store the readings of one message; reply with the accepted values
        (and consumption to a linked contact), a ДА/НЕТ question, or the refusal. An
        account named by a sender not linked to it goes to `_unlinked`."""
        named = self._named_account(ctx, intent)
        if named is not None and not await is_linked(self.store, ctx.contact, named):
            return await self._unlinked(ctx, intent, named)
        found = await self._account(ctx, intent, purpose="readings")
        if isinstance(found, Outcome):
            return found
        account = found
        if not account.meters:
            return Outcome.say(texts.NO_METERS.format(account=account.number), state=None)
        assigned = self._assign_meters(ctx, intent, account)
        if isinstance(assigned, Outcome):
            return assigned
        linked = await is_linked(self.store, ctx.contact, account.number)
        period = self._period(ctx)

        plan: list[_Planned] = []
        for meter, readings in assigned:
            current = {
                zone
                for zone in meter.zone_names
                if await self.store.readings.current(account.number, meter.serial, zone, period)
            }
            mapping = map_zones(
                meter.zones, [(r.zone, r.value) for r in readings], have_current=frozenset(current)
            )
            if mapping.problem is not None:
                return self._zone_problem(mapping.problem, meter, account, intent)
            for zone in meter.zone_names:
                if zone not in mapping.values:
                    continue
                plan.append(await self._check(meter, zone, mapping.values[zone], period))

        refused = [p for p in plan if p.check.verdict in REFUSED]
        if refused:
            return Outcome.say(self._refusal(refused[0], linked, len(account.meters) > 1))

        held = any(p.check.verdict is Verdict.HIGH for p in plan)
        ids, replaced = await self._save(ctx, account.number, plan, period, held=held)
        accepted = self._accepted_parts(ctx, account, plan, period, linked)
        if held:
            consumption = sum(
                (
                    p.check.consumption
                    for p in plan
                    if p.check.verdict is Verdict.HIGH and p.check.consumption is not None
                ),
                Decimal(0),
            )
            question = (
                texts.HIGH_LINKED.format(consumption=fmt_decimal(consumption))
                if linked
                else texts.HIGH
            )
            return Outcome(
                (Reply(question, choices=yes_no(ctx)),),
                state(
                    CONFIRM_READINGS,
                    ctx.now,
                    ids=ids,
                    account=account.number,
                    text=accepted,
                    period=period,
                    example=self._example(account, intent),
                ),
            )
        return Outcome.say(self._compose(ctx, accepted, replaced, period), state=None)

    async def unchanged(self, ctx: Context, intent: Intent) -> Outcome:
        """«показания те же»: offer the last values again and store them after ДА. Only
        to a linked contact: the question names whether the account has history."""
        named = self._named_account(ctx, intent)
        if named is not None and not await is_linked(self.store, ctx.contact, named):
            return Outcome.say(texts.UNCHANGED_UNLINKED.format(account=named), state=None)
        found = await self._account(ctx, intent, purpose="unchanged")
        if isinstance(found, Outcome):
            return found
        account = found
        if not account.meters:
            return Outcome.say(texts.NO_METERS.format(account=account.number), state=None)
        linked = await is_linked(self.store, ctx.contact, account.number)
        period = self._period(ctx)
        plan: list[_Planned] = []
        for meter in account.meters:
            for zone in meter.zone_names:
                current = await self.store.readings.current(
                    account.number, meter.serial, zone, period
                )
                base = await self._base(meter, zone, period)
                value = current.value if current is not None else base.value if base else None
                if value is None:
                    return Outcome.say(texts.UNCHANGED_NONE.format(account=account.number))
                # The period's consumption, not 0: the value repeated may be this period's
                # (sent earlier in the window), which is above the previous period's.
                used = value - base.value if base is not None and value >= base.value else None
                plan.append(_Planned(meter, zone, value, Check(Verdict.OK, used), base))
        ids, _ = await self._save(ctx, account.number, plan, period, held=True)
        accepted = self._accepted_parts(ctx, account, plan, period, linked)
        question = (
            texts.UNCHANGED_LINKED.format(account=account.number, values=self._values(plan))
            if linked
            else texts.UNCHANGED.format(account=account.number)
        )
        return Outcome(
            (Reply(question, choices=yes_no(ctx)),),
            state(
                CONFIRM_READINGS,
                ctx.now,
                ids=ids,
                account=account.number,
                text=accepted,
                period=period,
                example=texts.EXAMPLE[account.meters[0].zones],
            ),
        )

    async def answer(self, ctx: Context, data: dict[str, Any], yes: bool) -> Outcome:
        """ДА accepts the held readings, НЕТ drops them and asks for the right ones."""
        ids = [int(i) for i in data.get("ids", [])]
        if not await self.store.readings.pending(ids):
            return Outcome.say(texts.NOTHING_TO_CONFIRM, state=None)
        if not yes:
            await self.store.readings.reject(ids)
            example = str(data.get("example") or texts.EXAMPLE[1])
            return Outcome.say(texts.DROPPED.format(example=example), state=None)
        replaced = await self.store.readings.confirm(ids)
        parts = [str(x) for x in data["text"]]
        return Outcome.say(self._compose(ctx, parts, replaced, str(data["period"])), state=None)

    async def account_alone(self, ctx: Context, number: str) -> Outcome:
        """An account number alone: ask for its readings and remember the account. A
        sender not linked to it gets the same answer whether it exists or not, with an
        example that does not tell the meter's tariff type."""
        if not await is_linked(self.store, ctx.contact, number):
            return Outcome.say(
                texts.ACCOUNT_ALONE.format(account=number, example=texts.UNLINKED_EXAMPLE),
                state=state(AWAIT_READINGS, ctx.now, account=number),
            )
        account = await self.store.registry.get_account(number)
        if account is None:
            return Outcome.say(texts.ACCOUNT_NOT_FOUND.format(account=number), state=None)
        zones = account.meters[0].zones if len(account.meters) == 1 else 1
        example = texts.EXAMPLE[zones] if len(account.meters) <= 1 else "сч1 4521 сч2 1234"
        return Outcome.say(
            texts.ACCOUNT_ALONE.format(account=number, example=example),
            state=state(AWAIT_READINGS, ctx.now, account=number),
        )

    async def choose_meter(self, ctx: Context, data: dict[str, Any], serial: str) -> Outcome:
        """The answer to «для какого счётчика?»: label the values and submit again."""
        intent = Intent.model_validate(data["intent"])
        readings = tuple(
            r if r.meter is not None else r.model_copy(update={"meter": serial})
            for r in intent.readings
        )
        retry = intent.model_copy(update={"account": data["account"], "readings": readings})
        return await self.submit(ctx, retry)

    # -- a sender not linked to the account -------------------------------------------

    async def _unlinked(self, ctx: Context, intent: Intent, number: str) -> Outcome:
        """Readings for an account from a sender not linked to it (docs/architecture.md
        «Identification»). Nothing is compared aloud: the answer is one and the same
        whether the account exists, the values are lower than the last, unusual, or do
        not fit its meters, so an answer is no oracle. Values that pass every check are
        stored as an unlinked reading (exported only while no linked contact has sent
        one for the period); the rest are held for staff. Every submission is recorded;
        past a limit (per sender, and per account for such senders together) it is
        refused. The account's own contacts never come here, so nobody can lock the
        owner out."""
        refusal = await self._probing_limit(ctx, number)
        outcome: Literal["accepted", "held", "limited"] = "limited"
        reason = _LIMIT_REASONS.get(refusal or "", "")
        if refusal is None:
            outcome, reason = await self._take_unlinked(ctx, intent, number)
        await self.store.readings.add_unlinked(
            UnlinkedSubmission(
                channel=ctx.channel, address=ctx.key.address, sender=ctx.sender_label,
                account=number, text=ctx.text[:_KEPT_TEXT], outcome=outcome, reason=reason,
                received_at=ctx.now, inbound_id=ctx.inbound_id,
            )
        )
        if refusal is not None:
            return Outcome.say(refusal, state=None)
        if ctx.has_buttons:
            period = texts.IN_WINDOW_TG.format(month=month_name(self._period(ctx)))
            text = f"{texts.UNLINKED_RECEIVED_TG.format(account=number)} {period}"
            return Outcome.say(text, state=None, request_contact=True)
        if ctx.channel == "email":
            return Outcome.say(texts.UNLINKED_RECEIVED_EMAIL.format(account=number), state=None)
        return Outcome.say(texts.UNLINKED_RECEIVED.format(account=number), state=None)

    async def _probing_limit(self, ctx: Context, number: str) -> str | None:
        """The refusal when this sender is past a limit, else None."""
        day = await self.store.readings.unlinked_since(
            ctx.channel, ctx.key.address, ctx.now - timedelta(days=1)
        )
        hour = [account for account, at in day if at >= ctx.now - timedelta(hours=1)]
        if len(hour) >= self.config.unlinked_readings_per_hour:
            return texts.UNLINKED_LIMIT_HOUR
        accounts = {account for account, _ in day}
        if number not in accounts and len(accounts) >= self.config.unlinked_accounts_per_day:
            return texts.UNLINKED_LIMIT_DAY
        # Many phones probing one account: strangers only, so the owner is never limited.
        others = await self.store.readings.unlinked_for_account_since(
            number, ctx.now - timedelta(days=1)
        )
        if others >= self.config.unlinked_per_account_per_day:
            return texts.UNLINKED_LIMIT_ACCOUNT
        return None

    async def _take_unlinked(
        self, ctx: Context, intent: Intent, number: str
    ) -> tuple[Literal["accepted", "held"], str]:
        """Check the values silently; store them as an unlinked reading when every
        check passes. Returns the outcome and, when held, why (for staff)."""
        account = await self.store.registry.get_account(number)
        if account is None:
            return "held", "unknown account"
        if not account.meters:
            return "held", "no meters"
        assigned = self._assign_meters(ctx, intent, account)
        if isinstance(assigned, Outcome):
            return "held", "meters do not fit"
        period = self._period(ctx)
        plan: list[_Planned] = []
        for meter, readings in assigned:
            mapping = map_zones(meter.zones, [(r.zone, r.value) for r in readings])
            if mapping.problem is not None:
                return "held", f"zones: {mapping.problem.value}"
            for zone, value in mapping.values.items():
                planned = await self._check(meter, zone, value, period)
                verdict = planned.check.verdict
                if verdict in REFUSED or verdict is Verdict.HIGH:
                    return "held", f"value: {verdict.value}"
                plan.append(planned)
        await self._save(ctx, account.number, plan, period, held=False, linked=False)
        return "accepted", ""

    # -- the account and the meters ----------------------------------------------------

    def _named_account(self, ctx: Context, intent: Intent) -> str | None:
        """The account the message is about when the sender named it: in the text, or
        alone in the message before (state `await_readings`)."""
        if intent.account:
            return intent.account
        if ctx.state is not None and ctx.state.kind == AWAIT_READINGS:
            return str(ctx.state.data["account"])
        return None

    async def _account(self, ctx: Context, intent: Intent, *, purpose: str) -> Account | Outcome:
        if intent.account:
            account = await self.store.registry.get_account(intent.account)
            if account is None:
                # Nothing stored; readings of an unknown account cannot reach billing.
                return Outcome.say(
                    texts.ACCOUNT_NOT_FOUND.format(account=intent.account), state=None
                )
            return account
        if ctx.state is not None and ctx.state.kind == AWAIT_READINGS:
            remembered = await self.store.registry.get_account(str(ctx.state.data["account"]))
            if remembered is not None:
                return remembered
        numbers = await linked_accounts(self.store, ctx.contact)
        accounts = [a for a in [await self.store.registry.get_account(n) for n in numbers] if a]
        if not accounts:
            return Outcome.say(texts.NEED_ACCOUNT)
        if len(accounts) > 1 and purpose == "readings":
            # A meter named by its serial tells the account without asking.
            serials = {r.meter for r in intent.readings if r.meter and len(r.meter) > 2}
            owning = [a for a in accounts if serials and serials <= _serials(a)]
            if len(owning) == 1:
                return owning[0]
        if len(accounts) == 1:
            return accounts[0]
        return ask_account(ctx, accounts, intent, purpose=purpose)

    def _assign_meters(
        self, ctx: Context, intent: Intent, account: Account
    ) -> list[tuple[Meter, list[ParsedReading]]] | Outcome:
        """Which meter each value belongs to: the labelled one (serial or ordinal «сч1»
        in registry order, which is by serial), else the only meter that fits."""
        meters = list(account.meters)
        groups: dict[str, list[ParsedReading]] = {}
        unlabelled: list[ParsedReading] = []
        for reading in intent.readings:
            if reading.meter is None:
                unlabelled.append(reading)
                continue
            meter = _find_meter(meters, reading.meter)
            if meter is None:
                return Outcome.say(
                    texts.METER_NOT_FOUND.format(label=reading.meter, account=account.number)
                )
            groups.setdefault(meter.serial, []).append(reading)
        if unlabelled:
            remaining = [m for m in meters if m.serial not in groups]
            values = [(r.zone, r.value) for r in unlabelled]
            fitting = [m for m in remaining if zones_fit(m.zones, values)]
            if len(remaining) == 1:
                chosen = remaining[0]
            elif len(fitting) == 1:
                chosen = fitting[0]
            elif (
                not groups
                and all(r.zone is None for r in unlabelled)
                and len(unlabelled) == sum(m.zones for m in remaining)
            ):
                # One value per zone of every meter, unlabelled: they fill the meters in
                # registry order, as values fill one meter's zones in order.
                values_left = list(unlabelled)
                for meter in remaining:
                    groups[meter.serial] = values_left[: meter.zones]
                    values_left = values_left[meter.zones :]
                by_serial = {m.serial: m for m in meters}
                return [(by_serial[serial], readings) for serial, readings in groups.items()]
            elif groups or not remaining:
                return Outcome.say(texts.MIXED_METERS.format(account=account.number))
            else:
                return self._ask_meter(ctx, intent, account, fitting or remaining)
            groups.setdefault(chosen.serial, []).extend(unlabelled)
        by_serial = {m.serial: m for m in meters}
        return [(by_serial[serial], readings) for serial, readings in groups.items()]

    def _ask_meter(
        self, ctx: Context, intent: Intent, account: Account, meters: list[Meter]
    ) -> Outcome:
        options = [m.serial for m in meters]
        new_state = state(
            CHOOSE_METER,
            ctx.now,
            intent=intent.model_dump(mode="json"),
            account=account.number,
            options=options,
        )
        if ctx.has_buttons:
            rows = tuple(((f"№{m.serial}", m.serial),) for m in meters)
            return Outcome(
                (Reply(texts.CHOOSE_METER_TG.format(account=account.number), choices=rows),),
                new_state,
            )
        labels = [f"№{s}" for s in options]
        return Outcome.say(
            texts.CHOOSE_METER.format(
                account=account.number, options=choice_reply_options(ctx, labels)
            ),
            state=new_state,
        )

    # -- validation inputs -------------------------------------------------------------

    def _period(self, ctx: Context) -> str:
        return period_of(local_day(ctx.now, self.config.tz), self.config.window_last_day)

    async def _check(self, meter: Meter, zone: Zone, value: Decimal, period: str) -> _Planned:
        """One value checked against its base and the meter's average month."""
        base = await self._base(meter, zone, period)
        check = check_value(
            value,
            digits=meter.digits,
            base=base,
            period=period,
            cap_kwh=self.config.consumption_cap_kwh,
            average=await self._average(meter, zone, period),
            average_factor=self.config.average_factor,
        )
        return _Planned(meter, zone, value, check, base)

    async def _base(self, meter: Meter, zone: Zone, period: str) -> Base | None:
        gateway = await self.store.readings.last_before(meter.account, meter.serial, zone, period)
        return choose_base(
            meter.last.get(zone),
            meter.last_date,
            gateway.value if gateway else None,
            local_day(gateway.received_at, self.config.tz) if gateway else None,
            self.config.window_last_day,
        )

    async def _average(self, meter: Meter, zone: Zone, period: str) -> Decimal | None:
        history = await self.store.readings.history(meter.account, meter.serial, zone)
        points = [(r.period, r.value) for r in history if r.period < period]
        billing = meter.last.get(zone)
        if billing is not None and meter.last_date is not None:
            billing_period = period_of(meter.last_date, self.config.window_last_day)
            if billing_period < period and all(p != billing_period for p, _ in points):
                points.append((billing_period, billing))
        return average_month(points)

    # -- replies -----------------------------------------------------------------------

    def _zone_problem(
        self, problem: ZoneProblem, meter: Meter, account: Account, intent: Intent
    ) -> Outcome:
        example = self._example(account, intent, meter)
        if problem is ZoneProblem.SINGLE_FOR_MULTI:
            text = texts.SINGLE_FOR_MULTI.format(zones=meter.zones, example=example)
        elif problem is ZoneProblem.INCOMPLETE:
            text = texts.INCOMPLETE.format(example=example)
        elif meter.zones == 1:
            text = texts.WRONG_COUNT_ONE
        else:
            text = texts.WRONG_COUNT.format(zones=meter.zones, example=example)
        return Outcome.say(text)

    @staticmethod
    def _example(account: Account, intent: Intent, meter: Meter | None = None) -> str:
        zones = meter.zones if meter else account.meters[0].zones if account.meters else 1
        example = texts.EXAMPLE[zones]
        return f"ЛС {account.number} {example}" if intent.account else example

    def _refusal(self, planned: _Planned, linked: bool, several_meters: bool) -> str:
        verdict = planned.check.verdict
        if verdict is Verdict.ZERO:
            return texts.ZERO
        if verdict is Verdict.TOO_LONG:
            return texts.TOO_LONG.format(digits=planned.meter.digits)
        # Lower: only a linked contact may see the earlier value (it is the customer's data).
        if linked and planned.base is not None:
            word = texts.ZONE_WORDS[planned.meter.zones][planned.zone]
            where = f" ({word})" if word else ""
            if several_meters:
                where += f" сч №{planned.meter.serial}"
            return texts.LOWER_LINKED.format(
                zone=where, value=fmt_decimal(planned.value), last=fmt_decimal(planned.base.value)
            )
        return texts.LOWER

    @staticmethod
    def _values(plan: list[_Planned]) -> str:
        by_meter: dict[str, list[_Planned]] = {}
        for p in plan:
            by_meter.setdefault(p.meter.serial, []).append(p)
        parts = []
        for serial, items in by_meter.items():
            zone_words = texts.ZONE_WORDS[items[0].meter.zones]
            values = ", ".join(
                f"{zone_words[p.zone]} {fmt_decimal(p.value)}".strip() for p in items
            )
            parts.append(f"сч №{serial} {values}" if len(by_meter) > 1 else values)
        return "; ".join(parts)

    @staticmethod
    def _consumption(plan: list[_Planned]) -> str:
        known = [p for p in plan if p.check.consumption is not None]
        if not known:
            return ""
        by_meter: dict[str, list[_Planned]] = {}
        for p in known:
            by_meter.setdefault(p.meter.serial, []).append(p)
        parts = []
        for items in by_meter.values():
            zone_words = texts.ZONE_WORDS[items[0].meter.zones]
            parts.append(
                ", ".join(
                    f"{zone_words[p.zone]} {fmt_decimal(used)}".strip()
                    for p in items
                    if (used := p.check.consumption) is not None
                )
            )
        return texts.CONSUMPTION.format(consumption="; ".join(parts))

    async def _save(
        self,
        ctx: Context,
        account: str,
        plan: list[_Planned],
        period: str,
        *,
        held: bool,
        linked: bool = True,
    ) -> tuple[list[int], bool]:
        """Store the planned values: accepted, or pending until the customer's ДА."""
        return await self.store.readings.save(
            [
                NewReading(
                    account=account,
                    meter_serial=p.meter.serial,
                    zone=p.zone,
                    value=p.value,
                    period=period,
                    channel=ctx.channel,
                    sender=ctx.sender_label,
                    received_at=ctx.now,
                    status="pending" if held else "accepted",
                    inbound_id=ctx.inbound_id,
                    linked=linked,
                    # A person typing it for the customer (handlers/inbox.py)
                    entered_by=ctx.meta.get("entered_by"),
                )
                for p in plan
            ]
        )

    def _accepted_parts(
        self, ctx: Context, account: Account, plan: list[_Planned], period: str, linked: bool
    ) -> list[str]:
        """The confirmation as [main sentence, optional sentences by importance]."""
        main = texts.ACCEPTED.format(account=account.number, values=self._values(plan))
        # Consumption is the customer's data: only to a contact linked to the account.
        consumption = self._consumption(plan) if linked else ""
        day = local_day(ctx.now, self.config.tz)
        inside = in_window(day, self.config.window_first_day, self.config.window_last_day)
        window = "" if inside else texts.OUTSIDE_WINDOW.format(month=month_name(period))
        if ctx.has_buttons:
            extra = [consumption, window or texts.IN_WINDOW_TG.format(month=month_name(period))]
            if linked and any(p.check.verdict is Verdict.ROLLOVER for p in plan):
                extra.append(texts.ROLLOVER_TG)
            return [main, *extra]
        # In an SMS the window note matters more than the consumption.
        return [main, window, consumption]

    def _compose(self, ctx: Context, parts: list[str], replaced: bool, period: str) -> str:
        """The confirmation text; a correction is always said (before the consumption)."""
        main, *extra = parts
        note = texts.CORRECTION.format(month=month_name(period))
        if replaced:
            extra.insert(1 if extra and extra[0] and not ctx.has_buttons else 0, note)
        if ctx.has_buttons:
            return " ".join(x for x in [main, *extra] if x)
        text = texts.fit_sms(main, extra)
        if replaced and note not in text:
            # A long confirmation (three meters) left no room for the sentence, and the
            # customer was not told the earlier values were replaced: say it briefly.
            rest = [x for x in extra if x != note]
            text = texts.fit_sms(f"{main} {texts.CORRECTION_SHORT}", rest)
        return text


def _serials(account: Account) -> set[str]:
    return {m.serial for m in account.meters}


def _find_meter(meters: list[Meter], label: str) -> Meter | None:
    for meter in meters:
        if label == meter.serial or label.lstrip("0") == meter.serial.lstrip("0"):
            return meter
    # «сч1», «счётчик 2»: the account's meters in registry order (by serial).
    if label.isdigit() and len(label) <= 2 and 1 <= int(label) <= len(meters):
        return meters[int(label) - 1]
    return None
