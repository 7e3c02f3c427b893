"""Satisfaction surveys (docs/architecture.md: «surveys of satisfaction twice a year»), one
questionnaire per customer group (accounts.segment: household, business).

The flow:
1. Staff create a survey (`create_survey`, from a TOML/JSON file or the command line).
2. `send_survey` picks the audience: every person of the registry (a phone with the
   Telegram users linked to it, asked once), on Telegram when linked there, else by SMS;
   not those who said «СТОП» on any of their contacts. The first question goes into the
   outbox as a bulk message of the survey's campaign (kind 'survey', so the sender defers
   it in quiet hours; it is also queued for after them when sent inside them), and the
   person's conversation enters the state `survey`.
3. `handle_survey_answer` takes the answer («5», «да», a button), records it and asks the
   next question, or thanks the customer after the last one.
4. `survey_results` counts response rates and scores per group for the report.

A person with accounts of both groups gets the household questionnaire: most such
people are households who also hold a small business account, and one person is asked
once.
"""

from __future__ import annotations

import json
import random
import re
import tomllib
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from handlers.base import KEEP, Context, Outcome, Reply
from handlers.quality.survey_repo import (
    SEGMENTS,
    Answer,
    Question,
    Recipient,
    Survey,
    SurveyRepo,
)
from handlers.texts import SMS_MAX
from storage.models import ConversationKey, ConversationState
from storage.notices import respects_opt_out
from storage.outbox import PRIORITY_BULK, NewMessage
from storage.store import Store

STATE_KIND: Final = "survey"
SEGMENT_LABELS: Final = {"household": "Население", "business": "Юридические лица"}
SCALE_LABELS: Final = {"score": "оценка 1–5", "yesno": "да/нет"}

# Customer-facing texts (Russian, in one place).
HINT_SCORE_SMS: Final = "Ответьте цифрой 1–5 (5 — отлично)."
HINT_SCORE_TELEGRAM: Final = "Выберите оценку от 1 до 5 (5 — отлично)."
HINT_YESNO: Final = "Ответьте ДА или НЕТ."
OPT_OUT_HINT: Final = "СТОП — не присылать опросы."
THANKS: Final = "Спасибо за ответы! Они помогут нам работать лучше."
AGAIN_SCORE: Final = "Не понял оценку. " + HINT_SCORE_SMS
AGAIN_YESNO: Final = "Не понял ответ. " + HINT_YESNO
SURVEY_OVER: Final = "Этот опрос уже завершён. Спасибо!"


class SurveyError(Exception):
    """A survey definition or command is wrong; the message says what to fix."""


# -- definitions ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuestionSpec:
    segment: str
    text: str
    scale: str


@dataclass(frozen=True, slots=True)
class SurveySpec:
    """A survey as staff define it."""

    title: str
    questions: tuple[QuestionSpec, ...]
    intro: str = ""
    days: int = 14


_SCALE_WORDS: Final = {
    "score": "score", "scale": "score", "1-5": "score", "1–5": "score", "оценка": "score",
    "yesno": "yesno", "yes/no": "yesno", "да/нет": "yesno", "данет": "yesno",
}


def parse_question(text: str, segment: str) -> QuestionSpec:
    """`"Текст вопроса:score"` or `"…:yesno"` (also `1-5`, `да/нет`); without a known
    suffix the whole text is the question, on the 1–5 scale."""
    head, sep, tail = text.rpartition(":")
    scale = _SCALE_WORDS.get(tail.strip().lower()) if sep else None
    body = head.strip() if scale else text.strip()
    if not body:
        raise SurveyError(f"пустой вопрос: {text!r}")
    return QuestionSpec(segment, body, scale or "score")


def _segments(value: str) -> tuple[str, ...]:
    if value == "both":
        return SEGMENTS
    if value not in SEGMENTS:
        raise SurveyError(f"группа должна быть household, business или both, а не {value!r}")
    return (value,)


def survey_spec(data: Mapping[str, Any]) -> SurveySpec:
    """A survey from a parsed TOML/JSON document:

    ```toml
    title = "Удовлетворённость обслуживанием, 2 полугодие 2026"
    intro = "ЭнергоСбыт: оцените, пожалуйста, нашу работу."   # optional
    days = 14                                                 # optional
    [[household]]
    text = "Насколько вам удобно передавать показания?"
    scale = "score"          # score (1–5) | yesno
    [[business]]
    text = "Вовремя ли вы получаете счета?"
    scale = "yesno"
    ```
    """
    title = str(data.get("title", "")).strip()
    if not title:
        raise SurveyError("нужно название опроса (title)")
    questions: list[QuestionSpec] = []
    for key in ("both", *SEGMENTS):  # questions for both groups come first
        for item in data.get(key, []):
            if isinstance(item, str):
                specs = [parse_question(item, s) for s in _segments(key)]
            elif isinstance(item, Mapping) and str(item.get("text", "")).strip():
                scale = _SCALE_WORDS.get(str(item.get("scale", "score")).lower())
                if scale is None:
                    raise SurveyError(f"шкала должна быть score или yesno: {item!r}")
                specs = [QuestionSpec(s, str(item["text"]).strip(), scale)
                         for s in _segments(key)]
            else:
                raise SurveyError(f"вопрос без текста в [[{key}]]: {item!r}")
            questions += specs
    unknown = set(data) - {"title", "intro", "days", *SEGMENTS, "both"}
    if unknown:
        raise SurveyError(f"неизвестные поля: {', '.join(sorted(unknown))}")
    if not questions:
        raise SurveyError("нет ни одного вопроса ([[household]] или [[business]])")
    for segment in SEGMENTS:
        _check_sms_length([q for q in questions if q.segment == segment])
    days = int(data.get("days", 14))
    if not 1 <= days <= 90:
        raise SurveyError("days: от 1 до 90")
    ordered = sorted(questions, key=lambda q: SEGMENTS.index(q.segment))  # stable
    return SurveySpec(title, tuple(ordered), str(data.get("intro", "")).strip(), days)


def read_survey_file(path: Path) -> SurveySpec:
    """A survey from a `.toml` or `.json` file (see `survey_spec`)."""
    text = path.read_text(encoding="utf-8-sig")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SurveyError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise SurveyError(f"{path}: ожидается объект с полями title и вопросами")
    return survey_spec(data)


async def create_survey(store: Store, spec: SurveySpec, now: datetime) -> int:
    """Store a draft survey; returns its number."""
    return await SurveyRepo(store.db).create(
        spec.title,
        spec.intro,
        spec.days,
        [(q.segment, q.text, q.scale) for q in spec.questions],
        now,
    )


# -- messages ------------------------------------------------------------------------


def question_reply(
    question: Question, total: int, channel: str, intro: str = ""
) -> Reply:
    """The message asking one question: Telegram gets buttons, SMS an instruction."""
    head = f"{intro} " if intro else ""
    number = f"Вопрос {question.position + 1} из {total}: " if total > 1 else ""
    if question.scale == "yesno":
        hint = HINT_YESNO
        choices: tuple[tuple[tuple[str, str], ...], ...] = (
            (("Да", "survey:yes"), ("Нет", "survey:no")),
        )
    else:
        hint = HINT_SCORE_TELEGRAM if channel == "telegram" else HINT_SCORE_SMS
        choices = (tuple((str(n), f"survey:{n}") for n in range(1, 6)),)
    tail = f" {OPT_OUT_HINT}" if intro else ""
    asked = _asked(question.text)
    text = f"{head}{number}{asked} {hint}{tail}"
    if channel == "telegram":
        return Reply(text, choices=choices)
    # SMS: within two parts (docs/architecture.md «Notifications»); the introduction goes first,
    # then the opt-out hint; the question and how to answer are never cut.
    for candidate in (text, f"{number}{asked} {hint}{tail}", f"{number}{asked} {hint}"):
        if len(candidate) <= SMS_MAX:
            return Reply(candidate)
    return Reply(f"{asked} {hint}")


def _asked(text: str) -> str:
    asked = text.rstrip()
    if asked and asked[-1] not in ".?!:…":
        asked += "."  # «…от 1 до 5 Ответьте цифрой» ran the question into the hint
    return asked


def _check_sms_length(questions: Sequence[QuestionSpec]) -> None:
    """Refuse a question that cannot be asked in two SMS parts with its numbering and
    the hint how to answer (a survey goes by SMS to everyone without a messenger)."""
    total = len(questions)
    for position, spec in enumerate(questions, 1):
        hint = HINT_YESNO if spec.scale == "yesno" else HINT_SCORE_SMS
        number = f"Вопрос {total} из {total}: " if total > 1 else ""
        length = len(f"{number}{_asked(spec.text)} {hint}")
        if length > SMS_MAX:
            raise SurveyError(
                f"вопрос {position} слишком длинный для SMS: {length} знаков с подсказкой, "
                f"можно {SMS_MAX} (сократите на {length - SMS_MAX})"
            )


def _payload(channel: str, address: str, reply: Reply, valid_until: datetime | None) -> str:
    # The `Outbound` envelope of bot/core.py as JSON (handlers do not import `bot`).
    return json.dumps(
        {
            "channel": channel,
            "address": address,
            "text": reply.text,
            "source": None,
            "buttons": [[{"text": t, "data": d} for t, d in row] for row in reply.choices],
            "request_contact": False,
            "valid_until": None if valid_until is None else valid_until.isoformat(),
            "ref": None,
        },
        ensure_ascii=False,
    )


_WORD_SCORES: Final = (
    ("очень плохо", 1), ("ужасно", 1), ("отвратительно", 1), ("плохо", 2),
    ("удовлетворительно", 3), ("нормально", 3), ("средне", 3), ("хорошо", 4),
    ("отлично", 5), ("прекрасно", 5), ("превосходно", 5),
)
_YES: Final = frozenset({"да", "ага", "конечно", "угу", "yes", "+", "д"})
_NO: Final = frozenset({"нет", "неа", "no", "-", "н"})
_DIGITS: Final = re.compile(r"\d+")


def parse_answer(text: str, scale: str) -> int | None:
    """An answer's value: 1–5 for a score, 1 (да) or 0 (нет); None when the text is not
    an answer. Button data (`survey:5`, `survey:yes`) is accepted as typed text is."""
    clean = text.strip().lower().replace("ё", "е")
    clean = clean.removeprefix("survey:")
    if not clean or len(clean) > 40:
        return None
    if scale == "yesno":
        first = re.split(r"[\s,.!;:)]+", clean, maxsplit=1)[0]
        if first in _YES or clean == "yes":
            return 1
        if first in _NO or clean == "no":
            return 0
        return None
    numbers = _DIGITS.findall(clean)
    if numbers:
        # «5», «5!», «оценка 4», «на 5 баллов»; one small number and nothing else
        if len(numbers) == 1 and numbers[0] in {"1", "2", "3", "4", "5"}:
            return int(numbers[0])
        return None
    for word, score in _WORD_SCORES:
        if word in clean:
            return score
    return None


async def _follow_rerouted(store: Store, ctx: Context) -> ConversationState | None:
    """A survey question meant for this person's Telegram chat went by SMS (the bot was
    blocked): the survey state is on the Telegram conversation. Move it here, so the SMS
    answer counts; None when there is nothing to move."""
    if ctx.contact.phone is None or not ctx.contact.is_verified:
        return None
    repo = SurveyRepo(store.db)
    for recipient in await repo.asked_elsewhere(ctx.contact.phone, ctx.channel):
        there = ConversationKey(recipient.channel, recipient.address)
        moved = await store.state.get(there, ctx.now)
        if moved is not None and moved.kind == STATE_KIND:
            await store.state.set(there, None)
            await store.state.set(ctx.key, moved)
            return moved
    return None


def _looks_like_answer(text: str) -> bool:
    """A short text that was meant as an answer but is not a valid one («7», «0», «?»)."""
    clean = text.strip().lower().removeprefix("survey:")
    return (clean.isdigit() and len(clean) <= 2) or len(clean) <= 1


# -- sending -------------------------------------------------------------------------


def after_quiet_hours(now: datetime, tz: ZoneInfo, window: tuple[time, time]) -> datetime | None:
    """The end of the quiet hours when `now` falls inside them (local time), else None.
    The window may cross midnight (21:00–09:00)."""
    start, end = window
    local = now.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    crosses = start > end
    inside = (clock >= start or clock < end) if crosses else (start <= clock < end)
    if not inside:
        return None
    day = local.date()
    if crosses and clock >= start:
        day += timedelta(days=1)
    return datetime.combine(day, end, tzinfo=tz)


@dataclass(frozen=True, slots=True)
class Target:
    """One person to ask."""

    phone: str
    segment: str
    account: str
    channel: str
    address: str


@dataclass(frozen=True, slots=True)
class SendResult:
    """What `send_survey` did (or, with dry_run, would do)."""

    survey_id: int
    campaign_id: int | None
    recipients: int  # new recipients queued now
    already: int  # asked before (a repeated send)
    opted_out: int
    by_segment: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    states_kept: int = 0  # conversations busy with another question: state not replaced
    sample: str = ""


async def audience(store: Store, survey_id: int, limit: int | None = None) -> tuple[
    list[Target], int
]:
    """The people a survey goes to, and how many were left out for opting out.

    With `limit`, a random sample of that size (the same one for the same survey)."""
    repo = SurveyRepo(store.db)
    groups = {q.segment for q in await repo.questions(survey_id)}
    opted_out = await repo.opted_out_phones() if respects_opt_out("survey") else set()
    chats = await repo.telegram_chats()
    targets: list[Target] = []
    skipped = 0
    for person in await repo.people():
        choice = next(
            ((s, a) for s, a in (("household", person.household),
                                 ("business", person.business)) if a and s in groups),
            None,
        )
        if choice is None:
            continue
        if person.phone in opted_out:
            skipped += 1
            continue
        segment, account = choice
        chat = chats.get(person.phone)
        channel, address = ("telegram", chat) if chat else ("sms", person.phone)
        targets.append(Target(person.phone, segment, account, channel, address))
    if limit is not None and limit < len(targets):
        targets = sorted(random.Random(survey_id).sample(targets, limit), key=lambda t: t.phone)
    return targets, skipped


async def send_survey(
    store: Store,
    survey_id: int,
    now: datetime,
    *,
    tz: ZoneInfo,
    quiet_hours: tuple[time, time] | None = (time(21), time(9)),
    limit: int | None = None,
    dry_run: bool = False,
) -> SendResult:
    """Queue the first question to every person of the audience (see the module
    docstring) and put their conversations in the survey state. Sending again reaches
    only people not asked before (idempotency key `survey:{id}:{phone}`)."""
    repo = SurveyRepo(store.db)
    survey = await repo.get(survey_id)
    if survey is None:
        raise SurveyError(f"опроса №{survey_id} нет")
    if survey.status == "closed":
        raise SurveyError(f"опрос №{survey_id} закрыт")
    questions = await repo.questions(survey_id)
    by_group: dict[str, list[Question]] = defaultdict(list)
    for q in questions:
        by_group[q.segment].append(q)
    if not by_group:
        raise SurveyError(f"в опросе №{survey_id} нет вопросов")
    targets, opted_out = await audience(store, survey_id, limit)
    asked = {r.phone for r in await repo.recipients(survey_id)}
    fresh = [t for t in targets if t.phone not in asked]
    first = next(iter(by_group.values()))
    sample = question_reply(first[0], len(first), "sms", _intro(survey)).text
    result = SendResult(
        survey_id=survey_id,
        campaign_id=survey.campaign_id,
        recipients=len(fresh),
        already=len(targets) - len(fresh),
        opted_out=opted_out,
        by_segment=dict(Counter(t.segment for t in fresh)),
        by_channel=dict(Counter(t.channel for t in fresh)),
        sample=sample,
    )
    if dry_run:
        return result
    closes_at = survey.closes_at or now + timedelta(days=survey.days)
    not_before = after_quiet_hours(now, tz, quiet_hours) if quiet_hours else None
    kept = 0
    async with store.db.transaction():
        campaign_id = await repo.start_campaign(survey, now)
        for target in fresh:
            recipient_id = await repo.add_recipient(
                survey_id, segment=target.segment, phone=target.phone, account=target.account,
                channel=target.channel, address=target.address, now=now,
            )
            if not recipient_id:
                continue
            group = by_group[target.segment]
            reply = question_reply(group[0], len(group), target.channel, _intro(survey))
            await store.outbox.enqueue(
                NewMessage(
                    channel=target.channel,
                    address=target.address,
                    payload=_payload(target.channel, target.address, reply, closes_at),
                    priority=PRIORITY_BULK,
                    not_before=not_before,
                    # like the campaigns' bulk rows: deferred until the quiet hours end
                    status="deferred" if not_before else "queued",
                    valid_until=closes_at,
                    campaign_id=campaign_id,
                    account=target.account,
                    phone=target.phone,
                    idempotency_key=f"survey:{survey_id}:{target.phone}",
                )
            )
            key = ConversationKey(target.channel, target.address)
            current = await store.state.get(key, now)
            if current is not None and current.kind != STATE_KIND:
                # A pending confirmation or question must not be lost to a survey: the
                # customer answers that first; this survey then goes unanswered by them.
                kept += 1
                continue
            await store.state.set(
                key,
                ConversationState(
                    STATE_KIND,
                    {
                        "survey_id": survey_id,
                        "recipient_id": recipient_id,
                        "group": target.segment,
                        "question": 0,
                    },
                    closes_at,
                ),
            )
        await repo.mark_sent(survey_id, now, closes_at)
    return replace(result, campaign_id=campaign_id, states_kept=kept)


def _intro(survey: Survey) -> str:
    return survey.intro or "Опрос о качестве обслуживания."


# -- answers in the conversation -----------------------------------------------------


async def handle_survey_answer(store: Store, ctx: Context, text: str) -> Outcome | None:
    """Record an answer to the current survey question and ask the next one.

    Returns None when the conversation is not in a survey, or when the text is not an
    answer (a reading, an appeal…): the dispatcher then handles it as usual and the survey
    waits. A short text that is not a valid answer («7») is asked again. A survey button
    pressed when no survey is running gets «опрос завершён». A customer who opted out
    since leaves the survey."""
    state = ctx.state
    if (state is None or state.kind != STATE_KIND) and (
        _looks_like_answer(text) or parse_answer(text, "yesno") is not None
    ):
        state = await _follow_rerouted(store, ctx) or state
    if state is None or state.kind != STATE_KIND:
        if ctx.is_callback and text.startswith("survey:"):
            # A button of a survey that is over (answered, expired): say so, rather than
            # «не понял» for text the customer never typed.
            return Outcome.say(SURVEY_OVER)
        return None
    if ctx.contact.opted_out:
        # «СТОП» after the survey began: no more questions.
        await store.state.set(ctx.key, None)
        return None
    repo = SurveyRepo(store.db)
    try:
        survey_id = int(state.data["survey_id"])
        recipient_id = int(state.data["recipient_id"])
        index = int(state.data["question"])
        group = str(state.data["group"])
    except (KeyError, TypeError, ValueError):
        survey_id, recipient_id, index, group = 0, 0, 0, ""
    questions = await repo.questions(survey_id, group)
    survey = await repo.get(survey_id)
    if survey is None or survey.status == "closed" or index >= len(questions):
        # A broken state or a closed survey: drop the state, handle the message as usual.
        await store.state.set(ctx.key, None)
        return None
    question = questions[index]
    value = parse_answer(text, question.scale)
    if value is None:
        if _looks_like_answer(text) or (ctx.is_callback and text.startswith("survey:")):
            again = AGAIN_YESNO if question.scale == "yesno" else AGAIN_SCORE
            retry = question_reply(question, len(questions), ctx.channel)
            return Outcome((Reply(again), retry), KEEP)
        return None
    await repo.answer(recipient_id, question.id, value, ctx.now)
    if index + 1 < len(questions):
        following = questions[index + 1]
        return Outcome(
            (question_reply(following, len(questions), ctx.channel),),
            ConversationState(STATE_KIND, {**state.data, "question": index + 1},
                              state.expires_at),
        )
    await repo.complete(recipient_id, ctx.now)
    return Outcome((Reply(THANKS),), None)


# -- results -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuestionResult:
    """Answers to one question of one group's questionnaire."""

    question: Question
    answers: int
    distribution: dict[int, int]  # value → answers (1..5, or 0/1)
    mean: float | None  # score questions
    yes_share: float | None  # yes/no questions


@dataclass(frozen=True, slots=True)
class GroupResult:
    """One customer group: how many were asked and answered, and the scores."""

    segment: str
    recipients: int
    responded: int  # answered at least one question
    completed: int  # answered every question
    questions: tuple[QuestionResult, ...]

    @property
    def response_rate(self) -> float | None:
        return None if self.recipients == 0 else self.responded / self.recipients

    @property
    def completion_rate(self) -> float | None:
        return None if self.recipients == 0 else self.completed / self.recipients


@dataclass(frozen=True, slots=True)
class SurveyResults:
    """The survey report's model."""

    survey: Survey
    groups: tuple[GroupResult, ...]
    by_channel: dict[str, tuple[int, int]]  # channel → (recipients, responded)
    recipients: tuple[Recipient, ...]
    answers: tuple[Answer, ...]

    @property
    def total_recipients(self) -> int:
        return sum(g.recipients for g in self.groups)

    @property
    def total_responded(self) -> int:
        return sum(g.responded for g in self.groups)


def summarise_survey(
    survey: Survey,
    questions: Sequence[Question],
    recipients: Sequence[Recipient],
    answers: Sequence[Answer],
) -> SurveyResults:
    """Response rates and scores per customer group (pure)."""
    answered_by: dict[int, set[int]] = defaultdict(set)
    values: dict[int, list[int]] = defaultdict(list)
    for answer in answers:
        answered_by[answer.recipient_id].add(answer.question_id)
        values[answer.question_id].append(answer.value)
    groups = []
    for segment in SEGMENTS:
        own = [q for q in questions if q.segment == segment]
        people = [r for r in recipients if r.segment == segment]
        if not own and not people:
            continue
        wanted = {q.id for q in own}
        results = []
        for q in own:
            got = values[q.id]
            dist = Counter(got)
            keys = range(1, 6) if q.scale == "score" else (1, 0)
            results.append(
                QuestionResult(
                    question=q,
                    answers=len(got),
                    distribution={k: dist[k] for k in keys},
                    mean=sum(got) / len(got) if got and q.scale == "score" else None,
                    yes_share=sum(got) / len(got) if got and q.scale == "yesno" else None,
                )
            )
        groups.append(
            GroupResult(
                segment=segment,
                recipients=len(people),
                responded=sum(1 for r in people if answered_by[r.id]),
                completed=sum(1 for r in people if wanted and wanted <= answered_by[r.id]),
                questions=tuple(results),
            )
        )
    channels: dict[str, tuple[int, int]] = {}
    for r in recipients:
        asked, responded = channels.get(r.channel, (0, 0))
        channels[r.channel] = (asked + 1, responded + (1 if answered_by[r.id] else 0))
    return SurveyResults(survey, tuple(groups), channels, tuple(recipients), tuple(answers))


async def survey_results(store: Store, survey_id: int) -> SurveyResults:
    """Load a survey with its recipients and answers and summarise it."""
    repo = SurveyRepo(store.db)
    survey = await repo.get(survey_id)
    if survey is None:
        raise SurveyError(f"опроса №{survey_id} нет")
    return summarise_survey(
        survey,
        await repo.questions(survey_id),
        await repo.recipients(survey_id),
        await repo.answers(survey_id),
    )
