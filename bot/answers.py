"""Staff answers into the outbox: the `handlers.inbox.AnswerOutbox` port over the
channel envelopes of `bot.core` (handlers know no channels).

The API, the CLI (`gateway appeals answer`, `gateway inbox reply`) and the staff web
workspace hand this to the inbox use cases.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.core import ChannelName, Outbound
from storage.outbox import PRIORITY_REPLY, NewMessage
from storage.store import Store


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
        source: str | None,
        text: str,
        key: str,
        account: str | None = None,
    ) -> int:
        name = ChannelName(channel)
        outbound = Outbound(channel=name, address=address, text=text, source=source)
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
