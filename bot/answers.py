"""Staff answers into the outbox: the `handlers.inbox.AnswerOutbox` port over the
channel envelopes of `bot.core` (handlers know no channels); and `ChannelFiles`, the
inbox's `AttachmentSource` over the running channels.

The API, the CLI (`gateway appeals answer`, `gateway inbox reply`) and the staff web
workspace hand this to the inbox use cases.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from bot.core import Channel, ChannelName, Outbound, reply_route
from storage.outbox import PRIORITY_REPLY, NewMessage
from storage.store import Store

log = logging.getLogger(__name__)


class OutboxAnswers:
    """Queues a person's answer as a reply (replies go before bulk notices)."""

    def __init__(self, store: Store, wake: Callable[[], None] | None = None) -> None:
        self.store = store
        self._wake = wake or (lambda: None)

    async def enqueue_answer(
        self,
        *,
        channel: str,
        address: str,
        reference: str | None,
        text: str,
        key: str,
        account: str | None = None,
    ) -> int:
        name = ChannelName(channel)
        outbound = Outbound(
            channel=name, address=address, text=text,
            # An SMS from the number written to, an e-mail in the customer's thread.
            **reply_route(name, reference),
        )
        return await self.store.outbox.enqueue(
            NewMessage(
                channel=name.value,
                address=address,
                payload=outbound.model_dump_json(),
                priority=PRIORITY_REPLY,
                account=account,
                phone=address if address.startswith("+") else None,
                idempotency_key=key,
            )
        )

    def wake(self) -> None:
        self._wake()


class ChannelFiles:
    """Attachments' bytes from the channel they came through (the inbox's
    `AttachmentSource`): Telegram by the file id the adapter recorded."""

    def __init__(self, channels: Mapping[str, Channel]) -> None:
        self.channels = channels

    async def fetch(
        self, channel: str, attachment: dict[str, Any], max_bytes: int
    ) -> bytes | None:
        adapter = self.channels.get(channel)
        download = getattr(adapter, "download", None)
        file_id = attachment.get("file_id")
        if download is None or not file_id:
            return None
        try:
            data: bytes | None = await download(str(file_id), max_bytes)
        except Exception:  # an expired id, a network error: staff are told it is gone
            log.warning("inbox: could not fetch an attachment from %s", channel, exc_info=True)
            return None
        return data
