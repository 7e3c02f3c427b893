"""Free text → `Intent` (docs/interfaces.md §5): readings, commands, appeals.

Pure functions, no I/O; nothing else of ours is imported. pymorphy3 loads its
dictionary at the first message that needs lemmas.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any, Final

from parsers import appeals, budget, meaning
from parsers.appeals import STRONG, classify_appeal, plan_lookups, score_appeal
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
    "clear_caches",
    "format_decimal",
    "intent_to_json",
    "parse",
    "parse_line",
]

# Kinds of token that show a message is about something else than readings; a weak
# appeal cue then makes it an appeal («подскажите, почему 2 раза списали»).
_WEAK_APPEAL_MIN_WORDS = 3
_VOLTAGE_WORDS = ("вольт",)  # what a voltage written in figures («250 В») says
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
    (`[readings] account_digits`). The work is bounded whatever the text
    (`parsers/budget.py`): an over-long text is read in part and gives no readings.
    """
    part = readable_part(text)
    read = unquoted(part)
    norm = normalize(read)
    if not norm.strip():
        return Intent(text=text)
    # Every word counts for appeals, also those inside protected spans («оплатил 15»),
    # except the account's label and stock courtesies: «по лицевому счёту … Спасибо
    # большое» is «большой» + «счёт» to the billing rule, and was taken for an appeal.
    words = _WORDS.findall(_NOT_APPEAL_WORDS.sub(" ", norm))
    # The dictionary work is bounded per message, whatever its length (parsers/budget.py).
    plan = plan_lookups(itertools.chain(_WORDS.findall(norm), words, _VOLTAGE_WORDS))
    with budget.planned(plan):
        return _parse(text, read, norm, words, account_digits, whole=part is text)


_LAST_WORD: Final = re.compile(r"[^\W\d_](?![^\W\d_])")


def readable_part(text: str) -> str:
    """What of `text` the parser reads: all of it, or for a text over
    `budget.READ_CHARS` characters its start up to the end of the last word within them
    (never a number cut in two); empty when no word ends there."""
    if len(text) <= budget.READ_CHARS:
        return text
    limit = budget.READ_CHARS
    # (one character past the limit, to see whether the word there goes on)
    ends = [m.end() for m in _LAST_WORD.finditer(text, 0, limit + 1) if m.end() <= limit]
    return text[: ends[-1]] if ends else ""


_QUOTED_LINE: Final = re.compile(r"^[ \t]*>[^\n]*(?:\n|$)", re.MULTILINE)


def unquoted(text: str) -> str:
    """`text` without the lines it quotes («> Ваши показания 4521, верно?» above the
    answer «да»): what a messenger or a mail client copied from our earlier message is
    not the customer's. A text of quotes only stays as it is."""
    if ">" not in text:
        return text
    rest = _QUOTED_LINE.sub("", text)
    return rest if rest.strip() else text


def _parse(
    text: str,
    read: str,
    norm: str,
    words: list[str],
    account_digits: tuple[int, int],
    *,
    whole: bool,
) -> Intent:
    tokens = tokenize(norm, read, account_digits)
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

    category, score = score_appeal(words) if words else (None, 0)
    if category is not None and score >= STRONG:
        return Intent(text=text, intent="appeal", account=account, appeal_category=category)

    # Readings in a text read in part may have their other half past the cut: a person
    # reads them (no reading is better than a wrong one).
    readings = extract_readings(tokens, account_index) if whole else []
    if readings:
        return Intent(text=text, intent="readings", account=account, readings=tuple(readings))

    if category is None and any(tok.kind == "voltage" for tok in tokens):
        # «в розетке 250 В, боимся за технику»: a voltage named, and no reading
        category, score = score_appeal([*words, *_VOLTAGE_WORDS])
    if category is not None and len(words) >= _WEAK_APPEAL_MIN_WORDS:
        return Intent(text=text, intent="appeal", account=account, appeal_category=category)
    return Intent(text=text, account=account)


def clear_caches() -> None:
    """Forget every word and wording seen: the next parse meets the caches cold (for
    benches and tests; the dictionary stays loaded)."""
    appeals.clear_caches()
    meaning.clear_caches()


def intent_to_json(intent: Intent) -> dict[str, Any]:
    """The contract's JSON object for `intent` (docs/interfaces.md §5); `error` only when set."""
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
