"""What the messenger channels (Telegram, MAX) share: taking updates from a Bot API, and
cutting a long text into messages.

`UpdateReceiver` is the receiving lifecycle of a messenger channel: `start`, `stop`,
`set_receiving`, the polling loop with its backoff, and the webhook route. Its rules,
the same for every messenger:

- An update is confirmed to the messenger only after it is in the inbound journal
  (`on_inbound` returns once it is durable): the polling loop journals a batch, and the
  next poll passes the batch's position (Telegram's offset, MAX's marker), which is what
  confirms it. A crash before that fetches the batch again; the journal knows each
  update again by its external id.
- Only the cluster leader takes updates (docs/interfaces.md §13): `bot/app.py` sets
  `receiving` before `start` and calls `set_receiving` when leadership moves. A
  follower only checks the token, and sends.
- `start` never raises for a network or token problem (SMS must keep working while a
  messenger is down): it logs and keeps retrying in the background with backoff.
- In webhook mode the messenger POSTs each update, with the secret in a header, and
  retries every non-2xx answer: 200 only once the update is journaled. Updates of one
  chat are journaled one at a time, in the order they came, even when posted in
  parallel.

A channel fills in what differs: the setup calls (`_setup`), one poll (`_poll_once`),
the confirmation of the last batch (`_confirm`), its error table (`_API_ERRORS`,
`_polling_failed`), its log lines (`_log_failure`), closing its HTTP session
(`_close`), and for the webhook its update model (`_read_update`), what orders
updates (`_order_key`) and what follows journaling (`_dispatch`).

Only `bot.core` and `bot.settings` of ours are imported, so that a channel importing
this imports nothing of the other messenger's client library.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Self, TypeVar

from aiohttp import web
from pydantic import ValidationError

from bot.core import ChannelName, Inbound, OnInbound, OnReport
from bot.settings import MaxSettings, SettingsError, TelegramSettings


class JournalError(Exception):
    """`on_inbound` could not store an update; it must not be confirmed to the messenger."""


@dataclass
class _ChatLock:
    """A lock for one chat's webhook updates, dropped when nobody holds or awaits it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


UpdateT = TypeVar("UpdateT")


class UpdateReceiver(ABC, Generic[UpdateT]):
    """The receiving half of a messenger `Channel` (bot.core): see the module docstring.

    Subclasses set the class attributes and implement the abstract hooks; they call
    `super().__init__` first. It raises `SettingsError` for an empty token and for
    webhook mode without `webhook_url` / `webhook_secret`.
    """

    name: ChannelName
    # What a call to the messenger's Bot API raises for a network or API problem.
    _API_ERRORS: ClassVar[tuple[type[Exception], ...]]
    _TASK_NAME: ClassVar[str]
    # The channel's own logger and the word its log lines start with.
    _logger: ClassVar[logging.Logger]
    _label: ClassVar[str]
    # The messenger's name in log lines ("Telegram will retry").
    _MESSENGER: ClassVar[str]
    # The header a webhook POST carries the secret in, and the answer to a wrong one.
    _SECRET_HEADER: ClassVar[str]
    _WRONG_SECRET: ClassVar[str]

    def __init__(
        self,
        settings: TelegramSettings | MaxSettings,
        *,
        poll_timeout: int,
        retry_delay: float,
        max_retry_delay: float,
    ) -> None:
        token = settings.token.get_secret_value()
        if not token:
            raise SettingsError(
                f"{self._label}.token: empty (set GATEWAY__{self._label.upper()}__TOKEN)"
            )
        if settings.mode == "webhook" and not (
            settings.webhook_url and settings.webhook_secret.get_secret_value()
        ):
            raise SettingsError(
                f"{self._label}: webhook mode needs webhook_url and webhook_secret"
            )
        self._token = token
        self._mode = settings.mode
        self._webhook_path = settings.webhook_path
        self._webhook_secret = settings.webhook_secret
        # A short long-poll, so that a connection silently dropped by a NAT or a proxy is
        # noticed soon; stop() cancels an open poll anyway.
        self._poll_timeout = poll_timeout
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._on_inbound: OnInbound | None = None
        self._ready = False  # the token check and the role's setup call succeeded
        self._up = False
        self._closed = False
        # Whether this instance takes updates (the leader) or only sends (set_receiving).
        self.receiving = True
        self._task: asyncio.Task[None] | None = None
        # True while the loop waits on the network (a poll or the backoff): stop() may
        # cancel it there; while journaling a batch it lets the batch finish.
        self._idle = True
        self._chat_locks: dict[Hashable, _ChatLock] = {}

    # ------------------------------------------------------------------ lifecycle

    async def start(self, on_inbound: OnInbound, on_report: OnReport) -> None:
        """Connect and begin delivering updates to `on_inbound`. Messengers have no
        delivery receipts for bots, so `on_report` is never called."""
        del on_report
        if self._task is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        self._on_inbound = on_inbound
        await self._begin()

    async def stop(self) -> None:
        """Stop polling (within a second or two), confirm what was journaled, close."""
        if self._closed:
            return
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            await self._end(task)
        await self._confirm()
        self._up = False
        await self._close()

    async def set_receiving(self, on: bool) -> None:
        """Take updates (poll, or register the webhook) or leave that to another
        instance (docs/interfaces.md §13: one live instance receives; every instance
        sends, and serves the webhook route). A follower only checks the token. Off:
        the polling loop stops as in `stop()`, its last batch confirmed."""
        if on == self.receiving or self._closed:
            return
        self.receiving = on
        task, self._task = self._task, None
        if task is not None and not task.done():
            await self._end(task)
        if not on:
            await self._confirm()
        self._ready = False  # the new role's setup call (delete/set the webhook)
        if self._on_inbound is not None and not self._closed:
            await self._begin()

    def is_up(self) -> bool:
        """True while the Bot API answers (the token check worked and polling or the
        webhook is set)."""
        return self._up and not self._closed

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _begin(self) -> None:
        # One attempt at once, so that a wrong token shows in the log at start-up; the
        # loop retries in the background.
        try:
            await self._setup()
        except self._API_ERRORS as exc:
            self._log_failure("start", exc)
        self._task = asyncio.create_task(self._run(), name=self._TASK_NAME)

    async def _end(self, task: asyncio.Task[None]) -> None:
        if self._idle:
            task.cancel()
        # A batch being journaled is allowed to finish, so that its position can be
        # confirmed; a journal that hangs is cut off.
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, timeout=5)

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        delay = self._retry_delay
        if not self._ready:
            await asyncio.sleep(delay)  # _begin() has just tried and logged why it failed
        while not self._closed:
            try:
                if not self._ready:
                    await self._setup()
                if self._mode == "webhook" or not self.receiving:
                    return  # the messenger calls us, or another instance receives
                await self._poll_once()
                delay = self._retry_delay
                continue
            except JournalError as exc:
                self._logger.error(
                    "%s: inbound journal failed, will fetch again: %s", self._label, exc
                )
                wait = delay
            except Exception as exc:
                found = self._polling_failed(exc, delay)
                if found is None:
                    raise
                wait = found
            self._idle = True
            await asyncio.sleep(wait)
            delay = min(delay * 2, self._max_retry_delay)

    async def _journal(self, inbound: Inbound) -> None:
        """Hand one update to `on_inbound`; raise `JournalError` if that failed."""
        assert self._on_inbound is not None
        try:
            await self._on_inbound(inbound)
        except Exception as exc:  # the journal's own failure; never acknowledge it
            raise JournalError(f"{type(exc).__name__}: {exc}") from exc

    # ------------------------------------------------------------------ the webhook

    def webhook_routes(self) -> list[web.RouteDef]:
        """The aiohttp route for webhook mode: POST the channel's `webhook_path`.

        Add it to the service's application before that starts (aiohttp freezes the
        router): `app.add_routes(channel.webhook_routes())`. The route answers 401 to a
        wrong or missing secret (nothing recorded), 503 before `start` or after `stop`,
        400 to a body that is not an update, 500 when journaling failed (the messenger
        retries), 200 otherwise (an update we do not handle included).
        """
        return [web.post(self._webhook_path, self._handle_webhook)]

    def add_routes(self, app: web.Application) -> None:
        """`app.add_routes(self.webhook_routes())`."""
        app.add_routes(self.webhook_routes())

    async def _handle_webhook(self, request: web.Request) -> web.StreamResponse:
        expected = self._webhook_secret.get_secret_value().encode()
        given = request.headers.get(self._SECRET_HEADER, "").encode()
        # Constant-time: the secret is what keeps strangers from forging updates.
        if not expected or not hmac.compare_digest(given, expected):
            return web.Response(status=401, text=self._WRONG_SECRET)
        if self._on_inbound is None or self._closed:
            return web.Response(status=503, text="not started")
        try:
            update = self._read_update(await request.json())
        except (json.JSONDecodeError, UnicodeDecodeError, ValidationError):
            return web.Response(status=400, text="not an Update")
        # Keep one chat's updates in order even when the messenger posts them in parallel.
        key = self._order_key(update)
        entry = self._chat_locks.setdefault(key, _ChatLock())
        entry.users += 1
        try:
            async with entry.lock:
                await self._dispatch(update)
        except JournalError as exc:
            self._logger.error(
                "%s: inbound journal failed, %s will retry: %s", self._label,
                self._MESSENGER, exc,
            )
            return web.Response(status=500, text="journal failed")
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._chat_locks[key]
        return web.Response(status=200)

    # ------------------------------------------------------------------ hooks

    @abstractmethod
    def _read_update(self, data: Any) -> UpdateT:
        """The update of a webhook body; raises pydantic's `ValidationError`."""

    @abstractmethod
    def _order_key(self, update: UpdateT) -> Hashable:
        """What keeps webhook updates in order: updates with one key go one at a time."""

    @abstractmethod
    async def _dispatch(self, update: UpdateT) -> None:
        """Journal one update (`_journal`, raising `JournalError`), then what must follow
        it (answer a pressed button, ...)."""

    @abstractmethod
    async def _setup(self) -> None:
        """Check the token; as the receiver, also set the mode up (remove or register
        the webhook). Sets `_ready` and `_up`; raises one of `_API_ERRORS`."""

    @abstractmethod
    async def _poll_once(self) -> None:
        """One long poll: journal its updates in order, then note the batch's position
        for the next poll to confirm. Sets `_idle` False while journaling."""

    @abstractmethod
    def _polling_failed(self, exc: Exception, delay: float) -> float | None:
        """A poll or setup raised `exc`: log it, and return how long to wait before the
        next attempt (at least `delay`), or None to let the loop end with it."""

    @abstractmethod
    async def _confirm(self) -> None:
        """Confirm the last journaled batch now (polling mode), quietly."""

    @abstractmethod
    async def _close(self) -> None:
        """Close the HTTP session."""

    @abstractmethod
    def _log_failure(self, what: str, exc: Exception) -> None:
        """Log a failed call without the token (never with exc_info)."""


# --------------------------------------------------------------------------- texts


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int) -> list[str]:
    """Split a long text into messages of at most `limit` UTF-16 code units (as Telegram
    counts them).

    Cuts at the last paragraph break of the chunk, else at the last line break, else at
    the last space, provided the cut keeps at least half the chunk (a break near the start
    would leave a stub message); failing that at any break; failing that hard (one word
    longer than `limit`). Separators at a cut are dropped; nothing else is lost.
    """
    parts: list[str] = []
    rest = text
    while _utf16_len(rest) > limit:
        # The longest prefix within the limit (code points ≤ code units, so search down).
        end = min(len(rest), limit)
        while _utf16_len(rest[:end]) > limit:
            end -= 1
        chunk = rest[:end]
        cut, width = _best_cut(chunk)
        if cut > 0:
            parts.append(chunk[:cut].rstrip())
            rest = rest[cut + width :].lstrip("\n")
        else:
            parts.append(chunk)
            rest = rest[end:]
    if rest.strip() or not parts:
        parts.append(rest)
    return [part for part in parts if part] or [text]


def _best_cut(chunk: str) -> tuple[int, int]:
    """(index, separator length) of the best break in `chunk`, or (-1, 0)."""
    for minimum in (len(chunk) // 2, 1):
        for separator in ("\n\n", "\n", " "):
            cut = chunk.rfind(separator)
            if cut >= minimum:
                return cut, len(separator)
    return -1, 0
