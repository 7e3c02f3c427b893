"""Routes a parsed message to its use case.

FOUNDATION STAGE: until the use-case issue lands this router only knows `help`; every
other message gets the help text. The use-case handlers replace `_route`.
"""

from __future__ import annotations

from parsers.intent import Intent
from storage.store import Store

from handlers.base import Context, HandlerConfig, Outcome

HELP_SMS = (
    "Показания: ЛС 1234567890 день 4521 ночь 1876. "
    "Баланс: БАЛАНС. Обращение: опишите вопрос. Статус: СТАТУС 123. Офисы: ОФИСЫ."
)


class Handlers:
    """The use cases behind the conversation engine."""

    def __init__(self, store: Store, config: HandlerConfig) -> None:
        self.store = store
        self.config = config

    async def handle(self, ctx: Context, intent: Intent) -> Outcome:
        return await self._route(ctx, intent)

    async def _route(self, ctx: Context, intent: Intent) -> Outcome:
        return Outcome.say(HELP_SMS)
