"""The app wiring: the one place that knows every part.

`Gateway` opens the store, builds the engine and the channels that settings enable,
starts the outbox sender, the admin HTTP API and the schedulers, and stops them in the
reverse order. Channels are listed here explicitly (no import-time registration).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.core import Channel, ChannelName, Outbound
from bot.engine import ConversationEngine, Parse
from bot.metrics import InstrumentedChannel, Metrics, Snapshot
from bot.settings import Settings, SettingsError, SmppSettings
from bot.staff_inbox import inbox_command
from handlers.base import Context, HandlerConfig, Outcome
from handlers.dispatch import Handlers
from handlers.inbox import InboxIntake
from notifications.campaigns import Notifications
from notifications.limits import ChannelLimits
from notifications.scheduler import ReminderScheduler
from notifications.sender import OutboxSender
from notifications.staff import staff_reply
from notifications.wake import LocalWake, PgWake, WakeSignal
from parsers.intent import Intent
from storage.cluster import LIVE_PERIODS, Cluster, PgCluster, SoloCluster
from storage.db import utcnow
from storage.outbox import PRIORITY_URGENT, NewMessage
from storage.pg import PgDatabase
from storage.store import Store

if TYPE_CHECKING:
    from bot.api import AdminApi
    from sms_gateway.fragments import FragmentStore
    from sms_gateway.simulator import SmscSimulator

log = logging.getLogger("gateway")

# How long past its lease a `sending` message may wait before /healthz says the sender
# is down (a live sender reclaims it at its next look, within a poll).
STUCK_GRACE = timedelta(seconds=10)


def handler_config(settings: Settings) -> HandlerConfig:
    r, a, i, st = settings.readings, settings.appeals, settings.identity, settings.staff
    return HandlerConfig(
        tz=settings.service.tz,
        company=settings.service.company,
        window_first_day=r.window_first_day,
        window_last_day=r.window_last_day,
        consumption_cap_kwh=r.consumption_cap_kwh,
        average_factor=r.average_factor,
        account_digits=r.account_digits,
        urgent_hours=a.urgent_hours,
        working_days=a.working_days,
        codes_per_day=i.codes_per_day,
        code_ttl_minutes=i.code_ttl_minutes,
        code_tries=i.code_tries,
        failed_attempts_per_hour=i.failed_attempts_per_hour,
        unlinked_readings_per_hour=i.unlinked_readings_per_hour,
        unlinked_accounts_per_day=i.unlinked_accounts_per_day,
        unlinked_per_account_per_day=i.unlinked_per_account_per_day,
        offices_file=str(a.offices_file) if a.offices_file else None,
        working_hours=st.working_window,
        answer_within_hours=st.answer_within_hours,
        attachment_max_mb=st.attachment_max_mb,
    )


def make_parse(settings: Settings) -> Parse:
    """The parser with the account-number lengths of `[readings] account_digits`."""
    from parsers import parse

    digits = settings.readings.account_digits

    def _parse(text: str) -> Intent:
        return parse(text, account_digits=digits)

    return _parse


def _whole_share() -> float:
    return 1.0


def _listen_error(section: str, host: str, port: int, exc: OSError) -> str:
    """A server socket that cannot listen, named by the settings key that moves it."""
    reason = exc.strerror or str(exc)
    return (
        f"{section}.port: cannot listen on {host}:{port}: {reason} (another process "
        f"uses it? set [{section}] port, or GATEWAY__{section.upper()}__PORT)"
    )


class StaffAwareHandlers:
    """Staff commands (/outage, /restored N, …) from allow-listed Telegram users go to
    the notifications service; everything else to the customer use cases. It lives here
    because handlers may not know notifications, nor notifications handlers."""

    def __init__(self, handlers: Handlers, service: Notifications, staff_ids: list[int]) -> None:
        self.handlers = handlers
        self.service = service
        self.staff_ids = staff_ids

    async def handle(self, ctx: Context, intent: Intent) -> Outcome:
        if ctx.channel == ChannelName.TELEGRAM.value and self.staff_ids and ctx.text:
            user_id = int(ctx.key.address) if ctx.key.address.isdigit() else None
            answer = await staff_reply(self.service, ctx.text, user_id, self.staff_ids)
            if answer is None and user_id in self.staff_ids:
                # /inbox, /reply N, /close N (bot/staff_inbox.py)
                answer = await inbox_command(
                    self.handlers.store, self.handlers.config, ctx.text, user_id, now=ctx.now
                )
            if answer is not None:
                return Outcome.say(answer)
        return await self.handlers.handle(ctx, intent)


class Gateway:
    """The running service. `async with Gateway(settings) as gw:` or start()/stop()."""

    def __init__(
        self,
        settings: Settings,
        *,
        extra_channels: list[Channel] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        # The SMS channel's time source (when a message was received, hence its readings
        # period); None is the wall clock. Tests replay conversations at scripted times.
        self.clock = clock
        self.store: Store | None = None
        self.engine: ConversationEngine | None = None
        self.sender: OutboxSender | None = None
        self.channels: dict[str, Channel] = {}
        # This instance's share of `[smpp] tps_total` (docs/interfaces.md §13): the whole
        # grant alone; the cluster sets it to its part (e.g. 1 / live instances).
        self.smpp_share: Callable[[], float] = _whole_share
        self.simulator: SmscSimulator | None = None
        self.api: AdminApi | None = None
        self.demo_loaded = 0
        self._extra = list(extra_channels or [])
        # [smpp] as the channel must see it (the simulator's real port when 0 was asked)
        self._smpp: SmppSettings | None = None
        self.notifications: Notifications | None = None
        self.reminders: ReminderScheduler | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        # This instance among the instances of the gateway (docs/interfaces.md §13): the
        # singletons (updates from Telegram and MAX, the reminder scheduler, the staff
        # digest) run only while it is the leader.
        self.cluster: Cluster | None = None
        self._singletons: dict[str, asyncio.Task[Any]] = {}
        self._leading = asyncio.Lock()
        self._ready = False
        self._stopping = False
        # Its own registry per gateway: two gateways in one process never mix counts.
        self.metrics = Metrics(settings.instance)

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        self.store = await Store.open(s.storage.target)
        self._up("store", s.storage.target.describe())
        if s.demo.enabled:
            from storage.demo import load_demo_if_empty

            self.demo_loaded = await load_demo_if_empty(self.store.db)
            if self.demo_loaded:
                log.warning("DEMO DATA: loaded %d demo accounts into an empty database",
                            self.demo_loaded)
        self.cluster = self._make_cluster()
        await self.cluster.start(self._on_leadership)
        # This instance's part of `[smpp] tps_total` (the operator's grant over every
        # bind of every instance): 1 / live instances, as the messengers' limits.
        self.smpp_share = self.cluster.share
        self._up("cluster", f"instance {s.instance}, "
                 f"{'leader' if self.cluster.is_leader else 'follower'}")
        self.sender = OutboxSender.from_settings(self.store, s)
        if isinstance(self.sender.limiter, ChannelLimits):
            # The Telegram and MAX limits are the bots', counted across instances.
            self.sender.limiter.share = self.cluster.share
        # Another process (the CLI) or instance that queues work wakes this sender at once.
        self.sender.wake_signal = self._make_wake()
        self.notifications = Notifications.from_settings(self.store, s, wake=self.sender.wake)
        config = handler_config(s)
        handlers = StaffAwareHandlers(
            Handlers(self.store, config), self.notifications, s.telegram.staff_ids
        )
        self.engine = ConversationEngine(
            self.store,
            handlers,
            make_parse(s),
            phone_region=s.service.phone_region,
            wake_sender=self.sender.wake,
            metrics=self.metrics,
            inbox=InboxIntake(self.store, config),
        )
        if s.smpp.enabled and s.smpp.simulator:
            await self._start_simulator()
        for channel in [*self._build_channels(), *self._extra]:
            # A follower's messenger channels send but take no updates (the leader's do).
            if hasattr(channel, "set_receiving"):
                channel.receiving = self.cluster.is_leader  # type: ignore[attr-defined]
            # Receipts feed the receipt lag; the sender sends through a wrapper that
            # counts and times each send (bot/metrics.py).
            await channel.start(self.engine.accept, self.metrics.on_report(self.sender.on_report))
            self.channels[channel.name.value] = channel
            self.sender.channels[channel.name.value] = InstrumentedChannel(channel, self.metrics)
            self._up(f"channel {channel.name.value}", "")
        await self.engine.recover()
        self._tasks.append(asyncio.create_task(self.sender.run(), name="outbox-sender"))
        self._up("outbox sender", "")
        self._ready = True
        await self._apply_leadership()
        if s.api.enabled:
            from bot.api import AdminApi

            self.api = AdminApi(self)
            try:
                await self.api.start()
            except OSError as exc:
                raise SettingsError(_listen_error("api", s.api.host, s.api.port, exc)) from exc
            self._up("admin API", f"http://{s.api.host}:{self.api.port}")

    def _make_cluster(self) -> Cluster:
        """PostgreSQL: instances with the same url find each other through it; SQLite:
        this process is the only instance (docs/interfaces.md §13)."""
        assert self.store is not None
        s = self.settings
        if self.store.db.dialect == "postgresql":
            return PgCluster(
                self._pg_url(), s.instance, heartbeat=s.service.heartbeat_seconds
            )
        return SoloCluster(s.instance)

    def _make_wake(self) -> WakeSignal:
        assert self.store is not None
        if self.store.db.dialect == "postgresql":
            return PgWake(self._pg_url())
        return LocalWake(self.settings.storage.path)

    def _pg_url(self) -> str:
        db = self.store.db if self.store is not None else None
        if not isinstance(db, PgDatabase):
            raise RuntimeError("not a PostgreSQL store")
        return db.url

    async def _on_leadership(self, leader: bool) -> None:
        await self._apply_leadership()

    async def _apply_leadership(self) -> None:
        """Start the singletons on the leader, stop them on a follower (idempotent: the
        cluster's callback and the end of `start()` both call it)."""
        if not self._ready or self.cluster is None:
            return
        async with self._leading:
            leader = self.cluster.is_leader and not self._stopping
            for channel in self.channels.values():
                setter = getattr(channel, "set_receiving", None)
                if setter is not None and not self._stopping:  # stop() confirms itself
                    await setter(leader)
            if leader:
                self._start_singletons()
            else:
                await self._stop_singletons()

    def _start_singletons(self) -> None:
        s = self.settings
        assert self.notifications is not None
        assert self.store is not None
        if "reminders" not in self._singletons:
            self.reminders = ReminderScheduler(self.notifications)
            self._singletons["reminders"] = asyncio.create_task(
                self.reminders.run(), name="reminders"
            )
            self._up("reading reminder scheduler", f"day {s.readings.window_first_day}, "
                     f"{s.notifications.reminder_hour}:00 local")
        if (
            s.telegram.enabled and s.telegram.staff_chat_id is not None
            and "staff-digest" not in self._singletons
        ):
            from handlers.quality.digest import run_digest_scheduler

            self._singletons["staff-digest"] = asyncio.create_task(
                run_digest_scheduler(self.store, self._to_staff_chat, s.service.tz),
                name="staff-digest",
            )
            self._up("staff digest", "09:00 local to the staff chat")
        shared = not isinstance(self.cluster, SoloCluster)
        if shared and "journal-recovery" not in self._singletons:
            self._singletons["journal-recovery"] = asyncio.create_task(
                self._recover_orphans(), name="journal-recovery"
            )

    async def _recover_orphans(self) -> None:
        """The leader's housekeeping on a shared store: messages journaled by an instance
        that died before handling them are handled here (each once: the engine skips
        what another instance processed meanwhile)."""
        assert self.engine is not None
        # Looked for every heartbeat; an entry unprocessed for as long as an instance
        # takes to count as dead (LIVE_PERIODS heartbeats) was left by one, or is slow
        # where it is: either way the engine handles it once (docs/operations.md).
        period = self.settings.service.heartbeat_seconds
        age = timedelta(seconds=period * LIVE_PERIODS)
        while True:
            await asyncio.sleep(period)
            try:
                found = await self.engine.recover(received_before=utcnow() - age)
            except Exception:
                log.exception("journal recovery failed; trying again later")
                continue
            if found:
                log.warning("took over %d inbound messages left by another instance", found)

    async def _stop_singletons(self) -> None:
        if self.reminders is not None:
            self.reminders.stop()
        tasks, self._singletons = self._singletons, {}
        for task in tasks.values():
            task.cancel()
        for name, task in tasks.items():
            with suppress(asyncio.CancelledError, Exception):
                await task
            log.info("stopped %s (not the leader)", name)

    def _standby(self) -> list[str]:
        """The singletons another instance runs while this one follows (/healthz: they
        are neither up nor down here)."""
        if self.cluster is None or self.cluster.is_leader:
            return []
        s = self.settings
        names = [name for name, channel in self.channels.items()
                 if hasattr(channel, "set_receiving")]
        names.append("reminders")
        if s.telegram.enabled and s.telegram.staff_chat_id is not None:
            names.append("staff-digest")
        if not isinstance(self.cluster, SoloCluster):
            names.append("journal-recovery")
        return names

    def _build_channels(self) -> list[Channel]:
        s = self.settings
        channels: list[Channel] = []
        if s.smpp.enabled:
            from sms_gateway.channel import SmsChannel

            channels.append(
                SmsChannel(
                    self._smpp or s.smpp,
                    self._fragments(),
                    region=s.service.phone_region,
                    clock=self.clock,
                    journal=self.sender.journal if self.sender is not None else None,
                    # read at every slot, so the cluster may replace `smpp_share` later
                    share=self._smpp_share_now,
                )
            )
        if s.telegram.enabled:
            from bot.telegram import TelegramChannel

            channels.append(TelegramChannel(s.telegram))
        if s.max.enabled:
            from bot.max import MaxChannel

            channels.append(MaxChannel(s.max))
        if s.email.enabled:
            from mail_gateway.channel import EmailChannel

            channels.append(EmailChannel(s.email, company=s.service.company))
        return channels

    def _fragments(self) -> FragmentStore | Path:
        """Parts of long MO SMS: in the PostgreSQL store, shared by every instance (a
        long SMS whose parts reach two instances is reassembled once); beside the SQLite
        file otherwise."""
        db = self.store.db if self.store is not None else None
        if isinstance(db, PgDatabase):
            from sms_gateway.fragments_pg import PgFragmentStore

            return PgFragmentStore(db.pool)
        return self._fragments_path()

    def _smpp_share_now(self) -> float:
        return self.smpp_share()

    def _fragments_path(self) -> Path:
        return self.settings.storage.path.with_name(
            self.settings.storage.path.stem + "-sms-fragments.db"
        )

    async def _start_simulator(self) -> None:
        """The development SMSC, started before the SMS channel binds to it."""
        from sms_gateway.simulator import SmscSimulator

        s = self.settings.smpp
        self.simulator = SmscSimulator(
            host=s.host, port=s.port, system_id=s.system_id,
            password=s.password.get_secret_value(), default_to=s.source_addr,
        )
        try:
            await self.simulator.start()
        except OSError as exc:
            raise SettingsError(_listen_error("smpp", s.host, s.port, exc)) from exc
        if s.port == 0:  # tests: an ephemeral port, which the channel must then use
            self._smpp = s.model_copy(update={"port": self.simulator.port})
        log.warning("SMSC SIMULATOR: development SMSC on %s:%s, no real SMS is sent",
                    s.host, s.port)

    async def _to_staff_chat(self, text: str) -> None:
        """The morning digest goes through the outbox like any other message."""
        assert self.store is not None
        chat = self.settings.telegram.staff_chat_id
        outbound = Outbound(channel=ChannelName.TELEGRAM, address=str(chat), text=text)
        day = datetime.now(self.settings.service.tz).date().isoformat()
        await self.store.outbox.enqueue(
            NewMessage(
                channel=ChannelName.TELEGRAM.value,
                address=str(chat),
                payload=outbound.model_dump_json(),
                priority=PRIORITY_URGENT,
                idempotency_key=f"digest:{day}",
            )
        )
        if self.sender is not None:
            self.sender.wake()

    def _up(self, part: str, detail: str) -> None:
        log.info("started %s%s", part, f" ({detail})" if detail else "")

    async def stop(self) -> None:
        """Stop taking requests and messages, leave unsent work in the outbox, close.

        The admin API goes first: requests in flight get `SHUTDOWN_SECONDS` to finish,
        then are cancelled (a slow client or a long wait held the stop forever). The
        store closes last and always, whatever failed before it: its worker thread
        is not a daemon, and a store left open kept the process alive after SIGTERM."""
        try:
            await self._stop_parts()
        finally:
            await self.close_store()

    async def _stop_parts(self) -> None:
        # Leave the cluster first: another instance takes over the singletons now.
        self._stopping = True
        await self._apply_leadership()
        if self.cluster is not None:
            try:
                await self.cluster.stop()
            except Exception:
                log.exception("leaving the cluster failed")
        if self.api is not None:
            try:
                await self.api.stop()
            except Exception:
                log.exception("stopping the admin API failed")
            log.info("stopped admin API")
        for name, channel in reversed(list(self.channels.items())):
            try:
                await channel.stop()
            except Exception:
                log.exception("stopping channel %s failed", name)
            log.info("stopped channel %s", name)
        if self.engine is not None:
            await self.engine.close()
            log.info("stopped conversation engine")
        if self.reminders is not None:
            self.reminders.stop()
        if self.sender is not None:
            self.sender.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        log.info("stopped outbox sender")
        if self.simulator is not None:
            await self.simulator.stop()
            log.info("stopped SMSC simulator")

    async def close_store(self, *, interrupt: bool = False) -> None:
        """Close the store (once). `interrupt`: abort a statement still running first
        (a stop that ran out of time)."""
        if self.store is None or not self.store.db.is_open:
            return
        if interrupt:
            self.store.db.interrupt()
        await self.store.close()
        log.info("stopped store")

    async def _sender_stuck(self) -> bool:
        """The sender is down when its loop ended, or when a message stays `sending`
        past its lease (plus a few polls' grace: the live sender reclaims such rows)."""
        assert self.store is not None
        loops = [t for t in self._tasks if t.get_name() == "outbox-sender"]
        if loops and all(t.done() for t in loops):
            return True
        return await self.store.outbox.stuck(utcnow() - STUCK_GRACE) > 0

    async def __aenter__(self) -> Gateway:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- metrics -----------------------------------------------------------------------

    async def metrics_text(self) -> bytes:
        """`GET /metrics`: the Prometheus exposition with the state read from the store
        now (docs/interfaces.md §13)."""
        assert self.store is not None
        stats = self.store.stats
        sms = self.channels.get(ChannelName.SMS.value)
        bind_windows = getattr(sms, "bind_windows", None)
        # one `bind` label value per SMPP session, `system_id@host:port#N`
        windows: dict[str, int] = bind_windows() if bind_windows is not None else {}
        snapshot = Snapshot(
            outbox_depth=await stats.outbox_depth(),
            appeals_overdue=await stats.appeals_overdue(datetime.now(UTC)),
            inbox_open=await self._inbox_open(),
            smpp_windows=windows,
            leader=self.cluster.is_leader if self.cluster is not None else None,
            live_instances=self.cluster.live_count() if self.cluster is not None else None,
        )
        return self.metrics.render(snapshot)

    async def _inbox_open(self) -> int:
        """`gateway_inbox_open`: items waiting for a person (handlers/inbox.py)."""
        assert self.store is not None
        return await self.store.inbox.count_open()

    # -- health ------------------------------------------------------------------------

    async def health(self) -> tuple[bool, dict[str, Any]]:
        down = []
        if self.store is None or not await self.store.db.ping():
            down.append("store")
        elif await self._sender_stuck():
            down.append("sender")
        for name, channel in self.channels.items():
            if name != ChannelName.CONSOLE.value and not channel.is_up():
                down.append(f"channel:{name}")
        cluster = self.cluster
        bind_states = getattr(self.channels.get(ChannelName.SMS.value), "bind_states", None)
        body: dict[str, Any] = {
            "status": "ok" if not down else "down",
            "down": down,
            "instance": self.settings.instance,
            # docs/interfaces.md §13: whether this instance runs the singletons, and the
            # live instances of the gateway (this one included)
            "leader": cluster is not None and cluster.is_leader,
            "standby": self._standby(),
            "instances": [i.id for i in await cluster.instances()] if cluster else [],
            "channels": sorted(self.channels),
            "mode": {
                "simulator": self.settings.smpp.enabled and self.settings.smpp.simulator,
                "demo": self.settings.demo.enabled,
            },
        }
        if bind_states is not None:
            # each SMPP bind: "up" or why not; the channel is up while one bind is
            body["smpp_binds"] = bind_states()
        if body["mode"]["simulator"] or body["mode"]["demo"]:
            body["warning"] = "development mode: " + ", ".join(
                k for k in ("simulator", "demo") if body["mode"][k]
            )
        return not down, body
