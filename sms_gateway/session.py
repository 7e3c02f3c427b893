"""`SmppSession`: one SMPP 3.4 transceiver bind over asyncio, kept up for as long as
the session runs.

Why our own session and not smpplib's `Client` (docs/architecture.md, "Chosen dependencies"): its
socket is not thread-safe, its listener thread dies on any exception, and a throttled
submit kills it unless an error handler is set. Here one asyncio task owns the link:

- connect + bind_transceiver (SMPP 3.4 §4.1.5); a rejected bind is logged once per
  attempt in one clear line and retried slowly (a wrong password never crash-loops);
- reconnect after a drop or a failed bind with exponential backoff and jitter;
- enquire_link every `enquire_link_interval` with a response timeout (§4.11): no answer
  means the link is dead and is dropped; the SMSC's enquire_link is answered too;
- a window of outstanding submit_sm (pending futures keyed by sequence number);
- a pacer counting every submit_sm (so every part) against the TPS, which adapts its
  pace when the SMSC answers ESME_RTHROTTLED (0x58) (AIMD, see `AdaptivePacer`);
- throttled and temporary errors retried with backoff; submits in flight when the link
  drops are re-sent on the next bind (at-least-once: the SMSC may have taken one);
- deliver_sm / data_sm handed to `on_deliver`; the response goes out only after it
  returned, with its status (so a message is acknowledged only once it is stored);
- unbind on stop (§4.2).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

from bot.core import SendErrorKind

from . import codec
from .pdu import (
    ALERT_NOTIFICATION,
    BIND_TRANSCEIVER_RESP,
    DATA_SM,
    DATA_SM_RESP,
    DELIVER_SM,
    DELIVER_SM_RESP,
    ENQUIRE_LINK,
    ENQUIRE_LINK_RESP,
    GENERIC_NACK,
    OUTBIND,
    RESPONSE_BIT,
    SUBMIT_SM,
    UNBIND,
    UNBIND_RESP,
    FrameError,
    Framer,
    SequenceCounter,
    ShortMessage,
    bind_transceiver,
    encode_sm,
    header_only,
    message_id_resp,
    parse_data_sm,
    parse_message_id,
    parse_sm,
)

if TYPE_CHECKING:
    from bot.settings import SmppSettings

log = logging.getLogger(__name__)

AfterResponse = Callable[[bool], Awaitable[None]]
"""Called once the response was written (True) or could not be (link gone: False)."""

DeliverAnswer = int | tuple[int, AfterResponse]

DeliverHandler = Callable[[ShortMessage], Awaitable[DeliverAnswer]]
"""Called for each deliver_sm / data_sm; returns the command_status of the response
(0 = stored), optionally with a callback run after the response is written. Raising
answers ESME_RX_T_APPN (temporary), so the SMSC redelivers."""

_AUTH_STATUSES = frozenset({codec.ESME_RINVPASWD, codec.ESME_RINVSYSID, codec.ESME_RBINDFAIL})


class _LinkLost(ConnectionError):
    """The link carrying a request went away before its response came."""


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """What became of one submit_sm: the SMSC's message id, or why not."""

    message_id: str | None
    status: int = 0
    kind: SendErrorKind | None = None
    detail: str = ""
    # Submits of this part that went on the wire and got no answer (the link dropped or
    # timed out) before this outcome: the SMSC may have taken the part that often more.
    unanswered: int = 0
    # `submit(leave_on_drop=True)` gave up because this bind was not up or dropped: the
    # caller may try another bind of the same account within its deadline.
    left: bool = False

    @property
    def ok(self) -> bool:
        return self.kind is None


@dataclass(slots=True)
class SessionStats:
    """Counters for tests, benchmarks and /healthz details."""

    binds: int = 0
    bind_failures: int = 0
    submits_sent: int = 0
    submits_accepted: int = 0
    throttled: int = 0
    temporary_errors: int = 0
    resent_after_drop: int = 0
    response_timeouts: int = 0
    delivers: int = 0
    generic_nacks_sent: int = 0
    pace_history: list[float] = field(default_factory=list)


class AdaptivePacer:
    """Paces submit_sm at `rate` per second, adapting to ESME_RTHROTTLED (AIMD-like).

    Why: an operator's real limit is often below what the contract says, and an SMSC
    that answers 0x58 usually counts per wall-clock second. Hammering and sleeping
    (Kannel) wastes most submits on rejections. Here:

    - a throttle of a submit sent after the last decrease (older ones were already in
      flight and say nothing new — TCP's one-decrease-per-window rule) sets the pace to
      95 % of what the SMSC actually accepted over the last second (never more than
      95 % of the current pace), and pauses briefly; further throttles in a row only
      lengthen the pause (the SMSC's second has not rolled over yet);
    - each second without a throttle while the pacer was the bottleneck adds 1 % of
      the pace (at least 0.5/s), back up to the configured TPS.
    """

    def __init__(
        self,
        max_rate: float,
        *,
        min_rate: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_rate = max_rate
        self.min_rate = min(min_rate, max_rate)
        self.rate = max_rate
        self._clock = clock
        self._next = 0.0
        self._lock = asyncio.Lock()
        self._accepted: collections.deque[float] = collections.deque()
        self._last_decrease = -1e9
        self._last_increase = clock()
        self._streak = 0  # throttles without an accept in between
        self._waited = False  # the pacer made someone wait since the last increase
        self.history: list[float] = []

    async def acquire(self) -> float:
        """Wait for the next slot; returns the time it was granted (pass it back to
        `throttled`)."""
        async with self._lock:
            now = self._clock()
            self._maybe_increase(now)
            slot = self._next if self._next > now else now
            self._next = slot + 1.0 / self.rate
            delay = slot - now
            if delay > 0.0005:
                self._waited = True
                await asyncio.sleep(delay)
                return self._clock()
            return now

    def accepted(self) -> None:
        """A submit was accepted (feeds the accepted-rate estimate)."""
        now = self._clock()
        self._accepted.append(now)
        self._streak = 0
        horizon = now - 1.0
        while self._accepted and self._accepted[0] < horizon:
            self._accepted.popleft()

    def throttled(self, sent_at: float) -> None:
        """The SMSC answered 0x58 to a submit sent at `sent_at`."""
        now = self._clock()
        horizon = now - 1.0
        while self._accepted and self._accepted[0] < horizon:
            self._accepted.popleft()
        self._streak += 1
        # Only the first throttle of a streak lowers the pace: the ones after a pause
        # mean the SMSC's second has not rolled over yet, not that the pace is wrong.
        if self._streak == 1 and sent_at >= self._last_decrease:
            observed = float(len(self._accepted))
            target = min(self.rate, observed if observed > 0 else self.rate) * 0.95
            self.rate = max(self.min_rate, target)
            self._last_decrease = now
            self._last_increase = now
            self.history.append(self.rate)
        # 0.1 s, then longer while throttles keep coming, at most 1 s.
        pause = min(1.0, 0.1 * self._streak)
        self._next = max(self._next, now + pause)

    def _maybe_increase(self, now: float) -> None:
        if self.rate >= self.max_rate or now - self._last_increase < 1.0:
            return
        if self._waited:
            self.rate = min(self.max_rate, self.rate + max(0.5, self.rate * 0.01))
            self.history.append(self.rate)
        self._last_increase = now
        self._waited = False


class _Link:
    """One TCP connection while bound: writer, pending requests by sequence number."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.timeout = timeout
        # Requests awaiting their response, with their deadlines. The timeout is the same
        # for all, so insertion order is deadline order: one timer for the oldest serves
        # them all (not a timer per submit_sm).
        self.pending: dict[int, tuple[asyncio.Future[tuple[int, bytes]], float]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self.lost = asyncio.get_running_loop().create_future()  # result: reason
        self.framer = Framer()
        # PDUs that came in the same read as bind_resp: dispatched once serving starts.
        self.backlog: list[tuple[int, int, int, bytes]] = []
        # PDUs written during one turn of the event loop, sent together at its end: a
        # window's worth of submits (or responses) costs one send(2), not one each.
        self._corked: list[bytes] = []

    @property
    def alive(self) -> bool:
        return not self.lost.done()

    def write(self, data: bytes) -> None:
        if self.alive and not self.writer.is_closing():
            self._cork(data)

    def _cork(self, data: bytes) -> None:
        if not self._corked:
            asyncio.get_running_loop().call_soon(self.flush)
        self._corked.append(data)

    def flush(self) -> None:
        """Send what was written since the last flush (runs once per loop turn)."""
        corked, self._corked = self._corked, []
        if corked and not self.writer.is_closing():
            self.writer.write(b"".join(corked))

    def request(self, sequence: int, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, bytes]] = loop.create_future()
        if not self.alive:
            future.set_exception(_LinkLost("link down"))
            return future
        self.pending[sequence] = (future, loop.time() + self.timeout)
        if self._timer is None:
            self._timer = loop.call_later(self.timeout, self._expire)
        self._cork(data)
        return future

    def _expire(self) -> None:
        """Fail the requests past their deadline; wait for the next oldest one."""
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self.pending:
            sequence, (future, deadline) = next(iter(self.pending.items()))
            if deadline > now:
                self._timer = loop.call_at(deadline, self._expire)
                return
            del self.pending[sequence]
            if not future.done():
                future.set_exception(TimeoutError())

    def resolve(self, sequence: int, status: int, pdu: bytes) -> bool:
        entry = self.pending.pop(sequence, None)
        if entry is None:
            return False
        future, _ = entry
        if not future.done():
            future.set_result((status, pdu))
        return True

    def drop(self, reason: str) -> None:
        """Mark lost, fail every pending request (they will be re-sent), abort."""
        if not self.lost.done():
            self.lost.set_result(reason)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for future, _ in self.pending.values():
            if not future.done():
                future.set_exception(_LinkLost(reason))
        self.pending.clear()
        self.flush()  # a last response (generic_nack, unbind_resp) still goes out
        self.writer.transport.abort()


class _Slot:
    """One taken place of a semaphore, released once however often `release` is called."""

    __slots__ = ("_semaphore",)

    def __init__(self, semaphore: asyncio.Semaphore) -> None:
        self._semaphore: asyncio.Semaphore | None = semaphore

    def release(self) -> None:
        semaphore, self._semaphore = self._semaphore, None
        if semaphore is not None:
            semaphore.release()


class SmppSession:
    """An SMPP 3.4 transceiver session that keeps itself bound (see module docstring).

    Use as `async with SmppSession(...) as session:` or `start()` / `stop()`. `submit`
    never raises for a network failure: it returns a `SubmitOutcome`.
    """

    def __init__(
        self,
        host: str,
        port: int,
        system_id: str,
        password: str,
        *,
        system_type: str = "",
        tps: float = 50,
        window: int = 10,
        enquire_link_interval: float = 30,
        response_timeout: float = 10,
        reconnect_min_delay: float = 1.0,
        reconnect_max_delay: float = 60,
        auth_retry_delay: float = 30,
        max_temporary_retries: int = 5,
        on_deliver: DeliverHandler | None = None,
        max_concurrent_delivers: int = 64,
        ack_settle: float = 0.5,
        label: str = "",
        gate: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.host = host
        # Names this bind in logs when an instance binds several (docs/interfaces.md §13).
        self.label = label
        # Awaited before every submit_sm goes on the wire, after this bind's pacer: the
        # instance's `[smpp] tps_total` limiter shared by all its binds.
        self.gate = gate
        self.port = port
        self.system_id = system_id
        self._password = password  # never logged
        if len(password.encode("latin-1", errors="replace")) > 8:
            # SMPP 3.4 §4.1.1: 9 octets with the NUL; longer ones get truncated.
            log.warning("SMPP password longer than 8 characters; the SMSC sees only 8")
        self.system_type = system_type
        self.window = window
        self.enquire_link_interval = enquire_link_interval
        self.response_timeout = response_timeout
        self.reconnect_min_delay = reconnect_min_delay
        self.reconnect_max_delay = reconnect_max_delay
        self.auth_retry_delay = auth_retry_delay
        self.max_temporary_retries = max_temporary_retries
        self.on_deliver = on_deliver
        self.ack_settle = ack_settle
        self.pacer = AdaptivePacer(tps)
        self.stats = SessionStats()
        self._sequence = SequenceCounter()
        self._window = asyncio.Semaphore(window)
        self._deliver_slots = asyncio.Semaphore(max_concurrent_delivers)
        self._link: _Link | None = None
        self._bound = asyncio.Event()
        self._stopping = False
        self._stop_event = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.last_error: str | None = None

    @classmethod
    def from_settings(
        cls,
        settings: SmppSettings,
        *,
        on_deliver: DeliverHandler | None = None,
        reconnect_min_delay: float = 1.0,
        auth_retry_delay: float = 30,
        label: str = "",
        gate: Callable[[], Awaitable[None]] | None = None,
    ) -> SmppSession:
        """A session configured from `[smpp]` (docs/interfaces.md §2); `tps` is this
        bind's own pace, `gate` the instance's `tps_total` limiter (§13)."""
        return cls(
            settings.host,
            settings.port,
            settings.system_id,
            settings.password.get_secret_value(),
            system_type=settings.system_type,
            tps=settings.tps,
            window=settings.window,
            enquire_link_interval=settings.enquire_link_interval,
            response_timeout=settings.response_timeout,
            reconnect_min_delay=reconnect_min_delay,
            reconnect_max_delay=settings.reconnect_max_delay,
            auth_retry_delay=auth_retry_delay,
            on_deliver=on_deliver,
            label=label,
            gate=gate,
        )

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Start the connect/bind/reconnect loop (returns at once)."""
        if self._runner is None:
            self._stopping = False
            self._stop_event.clear()
            self._runner = asyncio.create_task(self._run(), name="smpp-session")

    async def wait_bound(self, within: float | None = None) -> bool:
        """Wait until bound; False when not bound `within` seconds."""
        try:
            await asyncio.wait_for(self._bound.wait(), within)
        except TimeoutError:
            return False
        return True

    @property
    def window_in_use(self) -> int:
        """submit_sm holding a window slot now (for `gateway_smpp_window_in_use`)."""
        return self.window - self._window._value

    def is_up(self) -> bool:
        """Bound and the link alive."""
        return self._link is not None and self._link.alive and self._bound.is_set()

    async def stop(self, grace: float = 2.0) -> None:
        """Wait briefly for submits in flight, unbind (§4.2), close, stop reconnecting."""
        if self._runner is None:
            return
        self._stopping = True
        link = self._link
        if link is not None and link.alive:
            await self._drain(link, grace)
            await self._unbind(link, min(grace, self.response_timeout))
        self._stop_event.set()
        runner, self._runner = self._runner, None
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        if self._tasks:
            _, still = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in still:
                task.cancel()
            await asyncio.gather(*still, return_exceptions=True)

    @staticmethod
    async def _drain(link: _Link, grace: float) -> None:
        futures = [future for future, _ in link.pending.values()]
        if futures:
            await asyncio.wait(futures, timeout=grace)

    async def __aenter__(self) -> SmppSession:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- connect / bind / reconnect ------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        # Exponential with "equal jitter": many gateways restarted together do not
        # reconnect in lockstep.
        growth = float(2 ** max(0, attempt - 1))
        base = min(self.reconnect_max_delay, self.reconnect_min_delay * growth)
        return base * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not crypto

    async def _run(self) -> None:
        attempt = 0
        where = f"{self.host}:{self.port}" + (f" (bind {self.label})" if self.label else "")
        while not self._stopping:
            delay: float
            try:
                link = await self._connect_and_bind()
            except _BindRejected as exc:
                attempt += 1
                self.stats.bind_failures += 1
                delay = self._backoff(attempt)
                if exc.status in _AUTH_STATUSES:
                    delay = max(delay, self.auth_retry_delay)
                    self.last_error = f"bind rejected: {codec.status_name(exc.status)}"
                    log.error(
                        "SMSC %s rejected the bind as system_id %r: %s; check [smpp] "
                        "system_id and password (GATEWAY__SMPP__PASSWORD); "
                        "retrying in %.1f s",
                        where,
                        self.system_id,
                        codec.status_name(exc.status),
                        delay,
                    )
                else:
                    self.last_error = f"bind failed: {codec.status_name(exc.status)}"
                    log.warning(
                        "SMSC %s refused the bind: %s; retrying in %.1f s",
                        where,
                        codec.status_name(exc.status),
                        delay,
                    )
            except (OSError, TimeoutError, ConnectionError, asyncio.IncompleteReadError) as exc:
                attempt += 1
                self.stats.bind_failures += 1
                delay = self._backoff(attempt)
                self.last_error = f"connect failed: {exc.__class__.__name__}"
                log.warning(
                    "SMSC %s unreachable (%s); retrying in %.1f s",
                    where,
                    exc.__class__.__name__,
                    delay,
                )
            else:
                attempt = 0
                self.last_error = None
                reason = await self._serve(link)
                if self._stopping:
                    break
                attempt = 1
                delay = self._backoff(attempt)
                self.last_error = f"link lost: {reason}"
                log.warning(
                    "SMPP link to %s lost (%s); reconnecting in %.1f s", where, reason, delay
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_event.wait(), delay)

    async def _connect_and_bind(self) -> _Link:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), self.response_timeout
        )
        link = _Link(reader, writer, self.response_timeout)
        try:
            sequence = self._sequence.next_sequence()
            writer.write(
                bind_transceiver(sequence, self.system_id, self._password, self.system_type)
            )
            status = await asyncio.wait_for(
                self._await_bind(link, sequence), self.response_timeout
            )
        except BaseException:
            writer.transport.abort()
            raise
        if status != 0:
            writer.transport.abort()
            raise _BindRejected(status)
        self.stats.binds += 1
        log.info(
            "SMPP bound to %s:%s as %r (transceiver%s)",
            self.host,
            self.port,
            self.system_id,
            f", bind {self.label}" if self.label else "",
        )
        return link

    async def _await_bind(self, link: _Link, sequence: int) -> int:
        while True:
            data = await link.reader.read(65536)
            if not data:
                raise ConnectionError("closed during bind")
            frames = link.framer.feed(data)
            for index, (command_id, status, seq, _pdu) in enumerate(frames):
                if command_id in (BIND_TRANSCEIVER_RESP, GENERIC_NACK) and seq == sequence:
                    link.backlog = frames[index + 1 :]
                    return status or (codec.ESME_RBINDFAIL if command_id == GENERIC_NACK else 0)

    async def _serve(self, link: _Link) -> str:
        """Run a bound link until it is lost; returns why."""
        self._link = link
        self._bound.set()
        reader_task = asyncio.create_task(self._read_loop(link), name="smpp-reader")
        keepalive = asyncio.create_task(self._enquire_loop(link), name="smpp-enquire-link")
        try:
            reason: str = await asyncio.shield(link.lost)
        finally:
            self._bound.clear()
            for task in (reader_task, keepalive):
                task.cancel()
            await asyncio.gather(reader_task, keepalive, return_exceptions=True)
            link.drop("session closing")
            self._link = None
        return reason

    async def _unbind(self, link: _Link, wait: float) -> None:
        sequence = self._sequence.next_sequence()
        future = link.request(sequence, header_only(UNBIND, 0, sequence))
        with contextlib.suppress(TimeoutError, ConnectionError):
            await asyncio.wait_for(future, wait)
        log.info("SMPP unbound from %s:%s", self.host, self.port)
        link.drop("unbound")

    # --- reading ----------------------------------------------------------------------

    async def _read_loop(self, link: _Link) -> None:
        backlog, link.backlog = link.backlog, []
        for command_id, status, sequence, pdu in backlog:
            await self._dispatch(link, command_id, status, sequence, pdu)
        try:
            while link.alive:
                data = await link.reader.read(65536)
                if not data:
                    link.drop("closed by SMSC")
                    return
                try:
                    frames = link.framer.feed(data)
                except FrameError as exc:
                    # §3.2: the stream cannot be re-synchronised; say so and reconnect.
                    link.write(header_only(GENERIC_NACK, codec.ESME_RINVCMDLEN, exc.sequence))
                    self.stats.generic_nacks_sent += 1
                    link.drop(f"unframeable PDU ({exc})")
                    return
                for command_id, status, sequence, pdu in frames:
                    await self._dispatch(link, command_id, status, sequence, pdu)
        except (ConnectionError, OSError) as exc:
            link.drop(f"read failed: {exc.__class__.__name__}")

    async def _dispatch(
        self, link: _Link, command_id: int, status: int, sequence: int, pdu: bytes
    ) -> None:
        if command_id & RESPONSE_BIT:
            if not link.resolve(sequence, status, pdu) and command_id == GENERIC_NACK:
                log.warning("SMSC sent generic_nack %s", codec.status_name(status))
            return
        if command_id in (DELIVER_SM, DATA_SM):
            self.stats.delivers += 1
            # Backpressure: with every slot busy, stop reading. A flood of receipts after
            # a big campaign then waits at the SMSC (TCP flow control), not as tens of
            # thousands of tasks in our memory (bench: 446 MB peak at 100 000 SMS).
            await self._deliver_slots.acquire()
            slot = _Slot(self._deliver_slots)
            task: asyncio.Task[None] = asyncio.ensure_future(
                self._handle_deliver(link, command_id, sequence, pdu, slot)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            # Also when the task is cancelled before it ever ran (a dropped link).
            task.add_done_callback(lambda _: slot.release())
        elif command_id == ENQUIRE_LINK:
            link.write(header_only(ENQUIRE_LINK_RESP, 0, sequence))
        elif command_id == UNBIND:
            link.write(header_only(UNBIND_RESP, 0, sequence))
            link.drop("unbound by SMSC")
        elif command_id in (ALERT_NOTIFICATION, OUTBIND):
            pass  # no response defined (§4.12); nothing to do on a transceiver bind
        else:
            # §4.3: an unknown or unexpected command gets generic_nack; the session lives on.
            link.write(header_only(GENERIC_NACK, codec.ESME_RINVCMDID, sequence))
            self.stats.generic_nacks_sent += 1
            log.warning("SMSC sent unsupported command_id 0x%08X; generic_nack sent", command_id)

    async def _handle_deliver(
        self, link: _Link, command_id: int, sequence: int, pdu: bytes, slot: _Slot
    ) -> None:
        resp_id = DELIVER_SM_RESP if command_id == DELIVER_SM else DATA_SM_RESP
        after: AfterResponse | None = None
        try:  # the slot was taken by the reader before this task started
            try:
                body = pdu[16:]
                sm = parse_sm(body) if command_id == DELIVER_SM else parse_data_sm(body)
                answer: DeliverAnswer = 0 if self.on_deliver is None else await self.on_deliver(sm)
                if isinstance(answer, tuple):
                    status, after = answer
                else:
                    status = answer
            except asyncio.CancelledError:
                raise
            except Exception:
                # Not stored: a temporary error makes the SMSC deliver it again later.
                log.exception("handling deliver_sm failed; answering ESME_RX_T_APPN")
                status = codec.ESME_RX_T_APPN
        finally:
            slot.release()  # before the response: the settle wait below needs no slot
        # The response goes out only now, after the handler stored the message.
        written = link.alive and not link.writer.is_closing()
        link.write(message_id_resp(resp_id, status, sequence, ""))
        if after is not None:
            if written:
                # A write into a socket the peer just cut still "succeeds"; only a link
                # that stays up a moment longer says the response got through.
                await asyncio.wait([link.lost], timeout=self.ack_settle)
                written = link.alive
            await after(written)

    # --- enquire_link -------------------------------------------------------------------

    async def _enquire_loop(self, link: _Link) -> None:
        while link.alive:
            await asyncio.sleep(self.enquire_link_interval)
            sequence = self._sequence.next_sequence()
            try:
                await link.request(sequence, header_only(ENQUIRE_LINK, 0, sequence))
            except TimeoutError:
                link.drop(f"no enquire_link_resp within {self.response_timeout:g} s")
                return
            except ConnectionError:
                return

    # --- submitting -----------------------------------------------------------------------

    async def submit(
        self,
        sm: ShortMessage,
        *,
        within: float | None = None,
        before_wire: Callable[[], Awaitable[None]] | None = None,
        leave_on_drop: bool = False,
    ) -> SubmitOutcome:
        """Submit one part; retry throttling, temporary errors and drops for `within`
        seconds (default: 6 × response_timeout). Never raises for network failures.

        `before_wire` runs once, inside the window and after the pacer, just before the
        part is first written (the channel records the submit durably there): so at most
        a window of recorded parts is ever unanswered.

        `leave_on_drop`: when this bind is not up or its link drops, return at once
        (`left=True`) instead of waiting for the rebind: the channel then sends the part
        on another bind (docs/interfaces.md §13)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (within if within is not None else 6 * self.response_timeout)
        temporary = 0
        unanswered = 0
        last = SubmitOutcome(None, kind=SendErrorKind.CONNECTION, detail="SMSC not bound")
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0 or self._stopping:
                if last.status == 0 and last.unanswered == 0 and self.is_up():
                    # Bound all along: the time ran out before the part could go (the
                    # pacer after throttling), which "SMSC not bound" would misname.
                    return SubmitOutcome(
                        None, kind=SendErrorKind.CONNECTION, detail="send timeout before submit"
                    )
                return last
            if leave_on_drop and not self.is_up():
                return SubmitOutcome(
                    None, kind=SendErrorKind.CONNECTION, detail="SMSC not bound",
                    unanswered=unanswered, left=True,
                )
            if not self._bound.is_set():
                try:
                    await asyncio.wait_for(self._bound.wait(), remaining)
                except TimeoutError:
                    return last
            link = self._link
            if link is None or not link.alive:
                await asyncio.sleep(0.01)
                continue
            async with self._window:
                sent_at = await self.pacer.acquire()
                if self.gate is not None:
                    await self.gate()
                if before_wire is not None:
                    hook, before_wire = before_wire, None
                    await hook()
                if not link.alive:
                    continue
                sequence = self._sequence.next_sequence()
                future = link.request(sequence, encode_sm(SUBMIT_SM, sequence, sm))
                self.stats.submits_sent += 1
                try:
                    status, pdu = await future
                except _LinkLost:
                    self.stats.resent_after_drop += 1
                    unanswered += 1
                    last = SubmitOutcome(
                        None, kind=SendErrorKind.CONNECTION, detail="link lost",
                        unanswered=unanswered, left=leave_on_drop,
                    )
                    if leave_on_drop:
                        return last
                    continue
                except TimeoutError:
                    self.stats.response_timeouts += 1
                    unanswered += 1
                    last = SubmitOutcome(
                        None, kind=SendErrorKind.CONNECTION, detail="no submit_sm_resp",
                        unanswered=unanswered,
                    )
                    continue
            if status == 0:
                self.pacer.accepted()
                self.stats.submits_accepted += 1
                return SubmitOutcome(parse_message_id(pdu[16:]), unanswered=unanswered)
            kind = codec.status_kind(status)
            last = SubmitOutcome(
                None, status, kind, codec.status_name(status), unanswered=unanswered
            )
            if kind is SendErrorKind.THROTTLED:
                self.stats.throttled += 1
                self.pacer.throttled(sent_at)
                continue
            if kind is SendErrorKind.TEMPORARY:
                self.stats.temporary_errors += 1
                temporary += 1
                if temporary > self.max_temporary_retries:
                    return last
                pause = min(30.0, 0.2 * 2 ** (temporary - 1)) * random.uniform(0.5, 1.0)  # noqa: S311
                await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))
                continue
            return last


class _BindRejected(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(codec.status_name(status))
        self.status = status
