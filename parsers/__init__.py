"""Free text → `Intent` (contracts.md §5): readings, commands, appeals.

Pure functions, no I/O; nothing else of ours is imported. pymorphy3 loads its
dictionary at the first message that needs lemmas.
"""

from __future__ import annotations

import json
import re
from typing import Any

from parsers.appeals import STRONG, classify_appeal, score_appeal
from parsers.commands import match_command
from parsers.intent import (
    APPEAL_CATEGORIES,
    AppealCategory,
    Command,
    Intent,
    IntentKind,
    ParsedReading,
    Zone,
    format_decimal,
)
from parsers.meaning import command_by_meaning
from parsers.normalize import normalize, tokenize
from parsers.readings import extract_readings, find_account

__all__ = [
    "APPEAL_CATEGORIES",
    "AppealCategory",
    "Command",
    "Intent",
    "IntentKind",
    "ParsedReading",
    "Zone",
    "classify_appeal",
    "format_decimal",
    "intent_to_json",
    "parse",
    "parse_line",
]

# Kinds of token that show a message is about something else than readings; a weak
# appeal cue then makes it an appeal («подскажите, почему 2 раза списали»).
_WEAK_APPEAL_MIN_WORDS = 3
_WORDS = re.compile(r"[^\W\d_]+")
_NOT_TO_STAFF = (
    r"(?!\s+(?:вашим\s+|вашему\s+|всем\s+)?(?:сотрудни[кц]|персонал|работни[кц]|коллектив"
    r"|мастер|бригад|контролер|оператор|специалист|электрик|девушк|кассир|менеджер|консультант))"
)
_NOT_APPEAL_WORDS = re.compile(
    # the label of a number given (not «закрыть лицевой счёт»: that is about the account)
    r"лицев\w*\s*(?:сч[её]т\w*|сч\.?)\s*(?:№|#|:)?\s*(?=\d)"
    # (not a thanks to named staff: «огромное спасибо сотрудникам» is an appeal, `other`)
    r"|(?:спасибо|благодарю)(?:\s+вам)?\s+(?:большое|огромное|заранее)"
    + _NOT_TO_STAFF
    + r"|(?:большое|огромное)\s+(?:вам\s+)?спасибо"
    + _NOT_TO_STAFF
    + r"|всего\s+(?:доброго|хорошего|наилучшего)|хорошего\s+дня"
    # the courtesies of a letter: «Заранее благодарю», «Заранее спасибо за работу»,
    # «если что-то не так, перезвоните»
    r"|заранее\s+(?:вам\s+)?(?:спасибо|благодар\w*|признательн\w*)"
    r"(?:\s+(?:вам\s+)?за\s+(?:работу|помощь|понимание|внимание|ответ))?"
    r"|если\s+(?:что|что-то|что-нибудь|будут\s+вопросы|есть\s+вопросы)\b[^.!?\n]{0,40}?"
    r"(?:пере|по)?(?:звоните|звонить|пишите|напишите|свяжитесь)"
    # a zone label before its value («ночь 1876») and «показания по свету» name no
    # outage: «свет» + «ночь» once made a rural reading an outage appeal
    r"|(?:ночь|ночн\w*|день|дневн\w*)(?=\s*[:\-=]?\s*[0-9])"
    r"|(?:показани\w*|пок)\s+(?:по|за)\s+свет\w*"
)


def parse(text: str, *, account_digits: tuple[int, int] = (8, 12)) -> Intent:
    """Parse one customer message. Never raises; unclear text is `unknown`.

    `account_digits` is the length range of an unlabelled account number
    (`[readings] account_digits`).
    """
    norm = normalize(text)
    if not norm.strip():
        return Intent(text=text)
    tokens = tokenize(norm, text, account_digits)
    account, account_index = find_account(tokens, account_digits)

    command, ticket = match_command(norm, tokens, account_index)
    if command is not None:
        if command == "status":
            # «статус 12345678»: the number is the ticket, not an account.
            if ticket is not None and ticket == account:
                account = None
            return Intent(
                text=text, intent="command", command=command, ticket=ticket, account=account
            )
        return Intent(text=text, intent="command", command=command, account=account)
    meant = command_by_meaning(tokens, account_index)
    if meant is not None:
        if meant.command == "status" and meant.ticket is not None and meant.ticket == account:
            account = None
        return Intent(
            text=text,
            intent="command",
            command=meant.command,
            ticket=meant.ticket,
            account=account,
            notify_channel=meant.channel,
        )

    # Every word counts for appeals, also those inside protected spans («оплатил 15»),
    # except the account's label and stock courtesies: «по лицевому счёту … Спасибо
    # большое» is «большой» + «счёт» to the billing rule, and was taken for an appeal.
    words = _WORDS.findall(_NOT_APPEAL_WORDS.sub(" ", norm))
    category, score = score_appeal(words) if words else (None, 0)
    if category is not None and score >= STRONG:
        return Intent(text=text, intent="appeal", account=account, appeal_category=category)

    readings = extract_readings(tokens, account_index)
    if readings:
        return Intent(text=text, intent="readings", account=account, readings=tuple(readings))

    if category is None and any(tok.kind == "voltage" for tok in tokens):
        # «в розетке 250 В, боимся за технику»: a voltage named, and no reading
        category, score = score_appeal([*words, "вольт"])
    if category is not None and len(words) >= _WEAK_APPEAL_MIN_WORDS:
        return Intent(text=text, intent="appeal", account=account, appeal_category=category)
    return Intent(text=text, account=account)


def intent_to_json(intent: Intent) -> dict[str, Any]:
    """The contract's JSON object for `intent` (contracts.md §5); `error` only when set."""
    out: dict[str, Any] = {
        "text": intent.text,
        "intent": intent.intent,
        "account": intent.account,
        "readings": [
            {"meter": r.meter, "zone": r.zone, "value": format_decimal(r.value)}
            for r in intent.readings
        ],
        "command": intent.command,
        "ticket": intent.ticket,
        "appeal_category": intent.appeal_category,
    }
    if intent.notify_channel is not None:
        out["notify_channel"] = intent.notify_channel
    if intent.error is not None:
        out["error"] = intent.error
    return out


def parse_line(
    line: str, *, json_mode: bool, account_digits: tuple[int, int] = (8, 12)
) -> dict[str, Any]:
    """The `gateway parse` output object for one input line (without its newline).

    With `json_mode` the line is a JSON string literal; anything else gives `unknown`
    with an `error` naming the problem.
    """
    if not json_mode:
        return intent_to_json(parse(line, account_digits=account_digits))
    try:
        text = json.loads(line)
    except ValueError as exc:
        return intent_to_json(Intent(text=line, error=f"invalid JSON: {exc}"))
    if not isinstance(text, str):
        return intent_to_json(Intent(text=line, error="invalid JSON: not a string literal"))
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        # «"\ud800"» decodes to a lone surrogate, which no output can encode.
        return intent_to_json(Intent(text=line, error="invalid JSON: lone surrogate"))
    return intent_to_json(parse(text, account_digits=account_digits))
