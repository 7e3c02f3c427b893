"""The gateway's Prometheus metrics (docs/interfaces.md §13), all in one place.

Each `Metrics` owns its own `CollectorRegistry` (never the process-global one), so two
gateways in one process — tests start dozens — never share or leak counts. Every family
carries the label `instance` (`[service] instance_id`).

Where the figures come from:
- counters and histograms are fed as things happen: the engine counts inbound messages
  and parse results; `InstrumentedChannel` wraps each channel the outbox sender uses and
  times every `send`, counts its outcome, and remembers when each message id was
  submitted so that its delivery receipt gives the receipt lag;
- gauges that describe state (outbox depth, overdue appeals, open inbox items, SMPP
  window in use) are read at scrape time (`Snapshot`), so they are never stale.

This module imports nothing of ours but `bot.core`, so channels and the sender may use
it as they use `bot.core`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.core import (
    Channel,
    ChannelName,
    DeliveryReport,
    OnInbound,
    OnReport,
    Outbound,
    SendErrorKind,
    SendResult,
)

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Outbox priorities (storage.outbox.PRIORITY_*) as the `priority` label reads them.
PRIORITY_LABELS: Mapping[int, str] = {0: "reply", 10: "urgent", 20: "bulk"}

# A send takes milliseconds (Telegram, console) to seconds (an SMSC under load).
_SEND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# A delivery receipt comes seconds to days after the submit (a phone switched off).
_LAG_BUCKETS = (1, 5, 15, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 3 * 24 * 3600)
# Submit times kept for the receipt lag; older ones are forgotten first.
_REMEMBER_SUBMITS = 100_000


def outcome_of(result: SendResult) -> str:
    """The `outcome` label of one send: sent, throttled, retried or failed.

    A retryable error is `retried` (the sender tries again until `max_attempts`);
    throttling is its own outcome because it means the granted rate is too low."""
    if result.ok:
        return "sent"
    error = result.error
    if error is not None and error.kind is SendErrorKind.THROTTLED:
        return "throttled"
    if error is not None and error.retryable:
        return "retried"
    return "failed"


@dataclass
class Snapshot:
    """State read at scrape time."""

    outbox_depth: Mapping[int, int]
    appeals_overdue: int
    # None: no inbox store yet (the family is then not exported).
    inbox_open: int | None = None
    smpp_windows: Mapping[str, int] = field(default_factory=dict)
    # Several instances (docs/interfaces.md §13): whether this one leads, and how many
    # are live (None: not reported; the families are then not exported).
    leader: bool | None = None
    live_instances: int | None = None


class Metrics:
    """The metric families of one gateway instance, in a registry of its own."""

    def __init__(self, instance: str) -> None:
        self.instance = instance
        self.registry = CollectorRegistry(auto_describe=True)
        self._lazy: dict[str, Gauge] = {}
        r = self.registry
        self._inbound = Counter(
            "gateway_inbound", "Inbound messages journaled (redeliveries not counted).",
            ["instance", "channel"], registry=r,
        )
        self._outbound = Counter(
            "gateway_outbound", "Send attempts by outcome (sent, failed, retried, throttled).",
            ["instance", "channel", "outcome"], registry=r,
        )
        self._depth = Gauge(
            "gateway_outbox_depth", "Messages waiting in the outbox (queued, deferred, "
            "claimed) by priority.", ["instance", "priority"], registry=r,
        )
        self._send_seconds = Histogram(
            "gateway_send_seconds", "Time one send takes on its channel.",
            ["instance", "channel"], buckets=_SEND_BUCKETS, registry=r,
        )
        self._window = Gauge(
            "gateway_smpp_window_in_use", "submit_sm outstanding on an SMPP bind.",
            ["instance", "bind"], registry=r,
        )
        self._receipt_lag = Histogram(
            "gateway_receipt_lag_seconds", "From a message's submit to its delivery receipt.",
            ["instance"], buckets=_LAG_BUCKETS, registry=r,
        )
        self._parse = Counter(
            "gateway_parse", "Parsed customer messages by intent.",
            ["instance", "intent"], registry=r,
        )
        self._appeals_overdue = Gauge(
            "gateway_appeals_overdue", "Open appeals past their due time.",
            ["instance"], registry=r,
        )
        self._inbox_open: Gauge | None = None
        self._submitted: OrderedDict[tuple[str, str], float] = OrderedDict()
        # Each family appears in the output from the start, at 0 where it has a known
        # label set, so a dashboard sees it before the first event.
        for priority in PRIORITY_LABELS.values():
            self._depth.labels(instance, priority).set(0)
        self._receipt_lag.labels(instance)
        self._appeals_overdue.labels(instance).set(0)

    # -- events ------------------------------------------------------------------------

    def inbound(self, channel: str) -> None:
        self._inbound.labels(self.instance, channel).inc()

    def parsed(self, intent: str) -> None:
        self._parse.labels(self.instance, intent).inc()

    def sent(self, channel: str, result: SendResult, seconds: float) -> None:
        self._outbound.labels(self.instance, channel, outcome_of(result)).inc()
        self._send_seconds.labels(self.instance, channel).observe(max(0.0, seconds))
        if result.ok:
            at = time.time()
            for message_id in result.message_ids:
                self._submitted[(channel, message_id)] = at
            while len(self._submitted) > _REMEMBER_SUBMITS:
                self._submitted.popitem(last=False)

    def receipt(self, report: DeliveryReport) -> None:
        """A delivery receipt: observe its lag when this instance saw the submit."""
        submitted = self._submitted.pop((report.channel.value, report.message_id), None)
        if submitted is None:
            return
        at = report.at.timestamp() if report.at.tzinfo is not None else time.time()
        # The SMSC's done date has minute precision: never report a negative lag.
        self._receipt_lag.labels(self.instance).observe(max(0.0, at - submitted))

    # -- scrape ------------------------------------------------------------------------

    def render(self, snapshot: Snapshot) -> bytes:
        """The Prometheus text exposition, with the scrape-time gauges set first."""
        for priority, label in PRIORITY_LABELS.items():
            self._depth.labels(self.instance, label).set(snapshot.outbox_depth.get(priority, 0))
        for priority, count in snapshot.outbox_depth.items():
            if priority not in PRIORITY_LABELS:
                self._depth.labels(self.instance, str(priority)).set(count)
        self._appeals_overdue.labels(self.instance).set(snapshot.appeals_overdue)
        if snapshot.inbox_open is not None:
            if self._inbox_open is None:
                self._inbox_open = Gauge(
                    "gateway_inbox_open", "Inbox items waiting for a person.",
                    ["instance"], registry=self.registry,
                )
            self._inbox_open.labels(self.instance).set(snapshot.inbox_open)
        for bind, in_use in snapshot.smpp_windows.items():
            self._window.labels(self.instance, bind).set(in_use)
        if snapshot.leader is not None:
            self._gauge("gateway_leader", "1 while this instance runs the singletons.").labels(
                self.instance).set(int(snapshot.leader))
        if snapshot.live_instances is not None:
            self._gauge("gateway_instances_live", "Live instances of the gateway.").labels(
                self.instance).set(snapshot.live_instances)
        return generate_latest(self.registry)

    def _gauge(self, name: str, documentation: str) -> Gauge:
        """A gauge labelled `instance`, made at its first scrape."""
        gauge = self._lazy.get(name)
        if gauge is None:
            gauge = self._lazy[name] = Gauge(
                name, documentation, ["instance"], registry=self.registry
            )
        return gauge

    # -- wiring ------------------------------------------------------------------------

    def on_report(self, on_report: OnReport) -> OnReport:
        """Wrap a channel's `OnReport` callback so receipts feed the receipt lag."""

        async def report(delivery: DeliveryReport) -> None:
            self.receipt(delivery)
            await on_report(delivery)

        return report


class InstrumentedChannel:
    """A `Channel` that counts and times each `send` of the channel it wraps; the
    outbox sender uses it in place of the channel itself."""

    def __init__(self, inner: Channel, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics
        self.name: ChannelName = inner.name

    async def start(self, on_inbound: OnInbound, on_report: OnReport) -> None:
        await self.inner.start(on_inbound, self.metrics.on_report(on_report))

    async def send(self, outbound: Outbound) -> SendResult:
        began = time.perf_counter()
        result = await self.inner.send(outbound)
        self.metrics.sent(self.name.value, result, time.perf_counter() - began)
        return result

    async def stop(self) -> None:
        await self.inner.stop()

    def is_up(self) -> bool:
        return self.inner.is_up()
