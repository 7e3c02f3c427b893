"""Inbox commands in Telegram for `[telegram] staff_ids` (docs/interfaces.md §12: they
act as supervisors, audited as `telegram:<id>`):

    /inbox              open items, most urgent first
    /reply N текст      answer item N (on the channel the customer wrote from)
    /close N            close item N

Over the same use cases as the API and the CLI (`handlers.inbox`). `inbox_command`
returns the reply to the staff member, or None when the text is not one of these.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.answers import OutboxAnswers
from handlers import inbox
from handlers.base import HandlerConfig
from handlers.common import fmt_moment
from storage.store import Store

_COMMAND = re.compile(r"^/(inbox|reply|close)(?:@\w+)?(?:\s+(.*))?$", re.S)
LIST_LIMIT = 10
USAGE_REPLY = "Нужно: /reply N текст ответа"
USAGE_CLOSE = "Нужно: /close N"


async def inbox_command(
    store: Store,
    config: HandlerConfig,
    text: str,
    user_id: int,
    *,
    now: datetime | None = None,
) -> str | None:
    """Run an inbox command of a staff member; None when `text` is not one."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    name, rest = match[1], (match[2] or "").strip()
    actor = f"telegram:{user_id}"
    moment = now or datetime.now(UTC)
    if name == "inbox":
        items = await inbox.list_items(store, state="open", now=moment, limit=LIST_LIMIT)
        if not items:
            return "Входящих без ответа нет."
        lines = []
        for t in items:
            due = f"до {fmt_moment(t.due_at, config.tz)}" if t.due_at else "без срока"
            late = " (просрочено)" if t.due_at and t.due_at < moment else ""
            flat = " ".join(t.text.split())[:80] or "(вложение)"
            lines.append(f"№{t.id} {due}{late}, {t.channel}: {flat}")
        return "\n".join(lines)
    number, _, answer = rest.partition(" ")
    if not number.isdigit():
        return USAGE_REPLY if name == "reply" else USAGE_CLOSE
    try:
        if name == "reply":
            if not answer.strip():
                return USAGE_REPLY
            await inbox.reply(store, OutboxAnswers(store), int(number), answer, actor=actor,
                              now=moment)
            return f"Ответ на №{number} отправлен."
        await inbox.close(store, int(number), actor=actor, now=moment)
    except inbox.NotFound:
        return f"Входящее №{number} не найдено."
    except inbox.InboxError as exc:
        return f"Не сделано: {exc.staff}"
    return f"Входящее №{number} закрыто."
