"""The quarterly analysis of appeals (docs/architecture.md: «quarterly analysis of appeals: main
reasons, counts against the last period, repeated errors»). Pure: appeal records in, an
`AppealsReport` out; no I/O, so the numbers are checked against tables of known answers.

Definitions the report states to its readers (also in `DEFINITIONS`):

- **Answered within the due time**: `answered_at <= due_at`. The base is every appeal of
  the quarter whose answer was due by the time of the report, or which was answered:
  answered appeals plus open ones past their due time. Open appeals not yet due and
  appeals closed without a staff answer (an appeal about a known outage is answered at
  once with its reason and restoration time, and closed) are outside the base and
  counted apart.
- **Time to answer**: `answered_at − created_at` of answered appeals; the median in hours.
- **Repeats within one event**: (a) several appeals linked to one outage (`outage_id`):
  the appeals beyond the first one per outage; (b) further messages joined to an open
  appeal of the same contact and category (`appeals.repeats`).
- **Gap between expectation and result** (an appeal counts once, whichever rules hit):
  `repeat_after_answer`: the same contact wrote again in the same category within
  30 days after an answer (the answer did not settle the question);
  `estimated_billing`: a billing appeal about a charge by the norm or by the average
  (норматив, средний, усреднённый…): the customer expected a bill by their meter;
  `outage_overrun`: an appeal linked to an outage, received after the restoration time
  announced for it.
- **Repeated errors of the company**: a reason (category, frequent word, or a gap rule)
  with at least `recurring_min` appeals in both the quarter and the previous one.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

import pymorphy3

from parsers.intent import APPEAL_CATEGORIES
from storage.models import Appeal, Outage

CATEGORIES: Final[tuple[str, ...]] = APPEAL_CATEGORIES  # the parser's, in contract order
CATEGORY_LABELS: Final = {
    "outage": "Отключение электроэнергии",
    "power_quality": "Качество электроэнергии",
    "billing": "Начисления и счета",
    "payment": "Оплата",
    "meter": "Приборы учёта",
    "contract": "Договор",
    "service_complaint": "Качество обслуживания",
    "other": "Прочее",
}
CHANNEL_LABELS: Final = {
    "sms": "SMS",
    "telegram": "Telegram",
    "console": "Консоль",
    "api": "API",
}
GAP_RULES: Final = ("repeat_after_answer", "estimated_billing", "outage_overrun")
GAP_LABELS: Final = {
    "repeat_after_answer": "Повторное обращение после ответа (30 дней)",
    "estimated_billing": "Начисление по нормативу или среднему",
    "outage_overrun": "Свет не дали к объявленному сроку",
}
DEFINITIONS: Final = (
    ("В срок", "ответ дан не позже срока (answered_at ≤ due_at). База: отвеченные "
     "обращения квартала и открытые, срок которых уже прошёл. Открытые с ненаступившим "
     "сроком и закрытые без ответа сотрудника (обращение об известной аварии получает "
     "ответ с причиной и сроком сразу и закрывается) в базу не входят."),
    ("Время ответа", "от регистрации обращения до ответа; медиана в часах."),
    ("Повторы по одному событию", "обращения, связанные с одной аварией (сверх первого "
     "на аварию), и дополнительные сообщения, присоединённые к открытому обращению."),
    ("Расхождение ожиданий и результата", "обращение, подпадающее под одно из правил: "
     "повторное обращение того же клиента по той же теме в течение 30 дней после ответа; "
     "обращение о начислении по нормативу или среднему; обращение об аварии после "
     "объявленного срока восстановления. Каждое обращение считается один раз."),
    ("Повторяющиеся ошибки", "причина (тема, частое слово или правило расхождения), "
     "встречающаяся не реже порога и в этом, и в прошлом квартале."),
)

REPEAT_WINDOW: Final = timedelta(days=30)
ESTIMATE_LEMMAS: Final = frozenset(
    {"норматив", "средний", "среднемесячный", "усреднить", "усредненный", "усреднение"}
)

# Lemmas are compared with ё written as е.
# Words that carry no reason: greetings, pronouns, auxiliaries, the generic vocabulary
# of any appeal. Parts of speech other than nouns, verbs and adjectives are dropped too.
_STOP: Final = frozenset(
    {
        "быть", "мочь", "весь", "который", "это", "этот", "такой", "свой", "наш", "ваш",
        "мой", "здравствуйте", "добрый", "день", "вечер", "утро", "пожалуйста", "спасибо",
        "сказать", "просить", "прошу", "хотеть", "сделать", "делать", "знать", "нужно",
        "год", "раз", "вопрос", "обращение", "ответ", "ответить", "очень", "почему",
        "какой", "сколько", "сегодня", "вчера", "уже", "еще", "опять", "снова", "самый",
        "другой", "каждый", "получаться", "получиться", "стать", "иметь", "говорить",
        "помочь", "подсказать", "лс", "лицевой", "счет", "тот", "сам", "один", "два",
        "нужный", "январь", "февраль", "март", "апрель", "май", "июнь", "июль",
        "август", "сентябрь", "октябрь", "ноябрь", "декабрь",
    }
)
_KEEP_POS: Final = frozenset({"NOUN", "VERB", "INFN", "ADJF", "ADJS", "PRTF", "PRTS"})
_WORD: Final = re.compile(r"[а-яёa-z]+", re.IGNORECASE)


@lru_cache(maxsize=1)
def _morph() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer()


# Names of people and places are no «reason» and must not reach a report: surnames,
# first names, patronymics, place names (pymorphy3's grammemes).
_PROPER: Final = frozenset({"Surn", "Name", "Patr", "Geox"})
# Words that name a street or a place: the next words are its name («ул. Мира» is no
# complaint about peace), up to a house number or the end of the name.
_ADDRESS_MARKERS: Final = frozenset({
    "ул", "улица", "улице", "улицы", "улицу", "пр", "пр-т", "проспект", "проспекте", "пер",
    "переулок", "переулке", "пл", "площадь", "площади", "ш", "шоссе", "бульвар", "б-р",
    "мкр", "микрорайон", "микрорайоне", "пос", "поселок", "посёлок", "поселке", "посёлке",
    "пгт", "село", "селе", "деревня", "деревне", "г", "город", "городе", "наб",
    "набережная", "набережной", "проезд", "проезде", "тупик",
})
_NAME_WORDS_AFTER_MARKER: Final = 2


@lru_cache(maxsize=50_000)
def _lemma(word: str) -> str | None:
    parse = _morph().parse(word)[0]
    if parse.tag.POS not in _KEEP_POS or _PROPER & parse.tag.grammemes:
        return None
    lemma = str(parse.normal_form).replace("ё", "е")
    return None if lemma in _STOP or len(lemma) < 3 else lemma


_TOKEN: Final = re.compile(r"[а-яёa-z]+(?:-[а-яёa-z]+)?|\d+|[.,;:!?]", re.IGNORECASE)


@lru_cache(maxsize=50_000)
def _may_be_name(word: str) -> bool:
    """Whether any reading of a word is a person's name («Вера», «Роман»): a capitalised
    word inside a sentence that may be a name is left out, even where it is also a
    common noun."""
    return any(_PROPER & p.tag.grammemes for p in _morph().parse(word))


def lemmas(text: str) -> frozenset[str]:
    """The distinct meaningful lemmas of a text (nouns, verbs, adjectives; no stop-words,
    no names of people, streets or places). «отключили», «отключение», «отключат» give
    one lemma each of their words."""
    found = set()
    skip = 0
    initial = True  # at the start of a sentence a capital says nothing
    for match in _TOKEN.finditer(text.replace("ё", "е").replace("Ё", "Е")):
        token = match[0]
        lower = token.lower()
        was_initial, initial = initial, token in ".!?"
        if token.isdigit() or token in ".,;:!?":
            if skip < _NAME_WORDS_AFTER_MARKER or token.isdigit():
                skip = 0  # a house number or punctuation ends a street name («ул.» not)
            continue
        if lower in _ADDRESS_MARKERS:
            skip = _NAME_WORDS_AFTER_MARKER
            continue
        if skip:
            skip -= 1
            continue
        if token[0].isupper() and not was_initial and _may_be_name(lower):
            continue
        for word in lower.split("-"):
            lemma = _lemma(word)
            if lemma is not None:
                found.add(lemma)
    return frozenset(found)


# -- quarters ------------------------------------------------------------------------

_QUARTER: Final = re.compile(r"^\s*(\d{4})\s*-?\s*[QqКк]\s*([1-4])\s*$")
_ROMAN: Final = ("I", "II", "III", "IV")


@dataclass(frozen=True, slots=True, order=True)
class Quarter:
    """A calendar quarter; its bounds are local midnights in the service's time zone."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """`2026Q4`, `2026-Q4`, `2026q4`; ValueError otherwise."""
        match = _QUARTER.match(text)
        if not match:
            raise ValueError(f"квартал должен выглядеть как 2026Q4, а не {text!r}")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, moment: datetime, tz: ZoneInfo) -> Quarter:
        """The quarter a moment falls in, by local time."""
        local = moment.astimezone(tz)
        return cls(local.year, (local.month - 1) // 3 + 1)

    def start(self, tz: ZoneInfo) -> datetime:
        return datetime(self.year, 3 * self.number - 2, 1, tzinfo=tz)

    def end(self, tz: ZoneInfo) -> datetime:
        """The start of the next quarter (exclusive bound)."""
        return self.next().start(tz)

    def previous(self) -> Quarter:
        if self.number == 1:
            return Quarter(self.year - 1, 4)
        return Quarter(self.year, self.number - 1)

    def next(self) -> Quarter:
        if self.number == 4:
            return Quarter(self.year + 1, 1)
        return Quarter(self.year, self.number + 1)

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def title(self) -> str:
        return f"{_ROMAN[self.number - 1]} квартал {self.year} г."

    def __str__(self) -> str:
        return self.label


# -- the report model ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CountRow:
    """One line of a «this quarter against the previous one» table."""

    key: str
    label: str
    current: int
    previous: int

    @property
    def delta(self) -> int:
        return self.current - self.previous

    @property
    def delta_pct(self) -> float | None:
        """Change in per cent of the previous count; None when there was none."""
        if self.previous == 0:
            return None
        return 100.0 * (self.current - self.previous) / self.previous


@dataclass(frozen=True, slots=True)
class Reason:
    """A frequent word (lemma) of appeal texts: the appeals whose text has it."""

    lemma: str
    category: str  # the category most of these appeals have
    current: int
    previous: int


@dataclass(frozen=True, slots=True)
class OutageGroup:
    """Appeals of one quarter linked to one outage."""

    outage_id: int
    appeals: int
    contacts: int
    repeats: int  # further messages joined to those appeals


@dataclass(frozen=True, slots=True)
class RepeatStats:
    """Repeats within one event (see the module docstring)."""

    outage_groups: tuple[OutageGroup, ...]  # most appeals first
    linked_appeals: int  # appeals linked to some outage
    extra_outage_appeals: int  # linked appeals beyond the first per outage
    appeals_with_repeats: int
    repeat_messages: int  # sum of appeals.repeats

    @property
    def total(self) -> int:
        """Contacts about an event already known: extra outage appeals + joined messages."""
        return self.extra_outage_appeals + self.repeat_messages


@dataclass(frozen=True, slots=True)
class ServiceLevel:
    """Answers against due times (see the module docstring)."""

    base: int  # answered + open past due
    on_time: int
    answered_late: int
    open_overdue: int
    open_not_due: int
    closed_without_answer: int
    median_hours: float | None

    @property
    def share_on_time(self) -> float | None:
        return None if self.base == 0 else self.on_time / self.base


@dataclass(frozen=True, slots=True)
class OverdueItem:
    """An appeal answered late or still open past its due time."""

    appeal_id: int
    category: str
    channel: str
    created_at: datetime
    due_at: datetime
    answered_at: datetime | None
    hours_late: float  # at the answer, or at the report's time when still open


@dataclass(frozen=True, slots=True)
class AppealLine:
    """One appeal of the quarter with what the analysis found (the CSV rows)."""

    appeal: Appeal
    hours_to_answer: float | None
    on_time: bool | None  # None: outside the service-level base
    gap_rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Recurring:
    """A reason seen in both quarters at least `recurring_min` times."""

    kind: str  # category | word | gap
    key: str
    label: str
    current: int
    previous: int


@dataclass(frozen=True, slots=True)
class AppealsReport:
    """Everything the quarterly appeals report shows."""

    quarter: Quarter
    previous_quarter: Quarter
    as_of: datetime
    total: int
    previous_total: int
    by_category: tuple[CountRow, ...]
    by_channel: tuple[CountRow, ...]
    top_reasons: tuple[Reason, ...]
    reasons_by_category: dict[str, tuple[Reason, ...]]
    repeats: RepeatStats
    previous_repeats: RepeatStats
    gaps: tuple[CountRow, ...]  # per rule
    gap_total: int  # distinct appeals with any rule
    previous_gap_total: int
    service: ServiceLevel
    previous_service: ServiceLevel
    overdue: tuple[OverdueItem, ...]  # most late first
    recurring: tuple[Recurring, ...]
    lines: tuple[AppealLine, ...]
    recurring_min: int

    @property
    def gap_share(self) -> float | None:
        return None if self.total == 0 else self.gap_total / self.total


# -- analysis ------------------------------------------------------------------------


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600.0


def _answered(appeal: Appeal) -> bool:
    return appeal.answered_at is not None


def service_level(appeals: Iterable[Appeal], as_of: datetime) -> ServiceLevel:
    """Answers against due times at the moment `as_of`."""
    on_time = late = open_overdue = open_not_due = closed = 0
    hours: list[float] = []
    for appeal in appeals:
        if appeal.answered_at is not None:
            hours.append(_hours(appeal.answered_at - appeal.created_at))
            if appeal.answered_at <= appeal.due_at:
                on_time += 1
            else:
                late += 1
        elif appeal.status == "open":
            if appeal.due_at < as_of:
                open_overdue += 1
            else:
                open_not_due += 1
        else:
            closed += 1
    return ServiceLevel(
        base=on_time + late + open_overdue,
        on_time=on_time,
        answered_late=late,
        open_overdue=open_overdue,
        open_not_due=open_not_due,
        closed_without_answer=closed,
        median_hours=statistics.median(hours) if hours else None,
    )


def repeat_stats(appeals: Iterable[Appeal]) -> RepeatStats:
    """Repeats within one event of a set of appeals."""
    by_outage: dict[int, list[Appeal]] = defaultdict(list)
    with_repeats = messages = 0
    for appeal in appeals:
        if appeal.outage_id is not None:
            by_outage[appeal.outage_id].append(appeal)
        if appeal.repeats > 0:
            with_repeats += 1
            messages += appeal.repeats
    groups = sorted(
        (
            OutageGroup(
                outage_id=outage_id,
                appeals=len(group),
                contacts=len({a.contact_id for a in group}),
                repeats=sum(a.repeats for a in group),
            )
            for outage_id, group in by_outage.items()
        ),
        key=lambda g: (-g.appeals, g.outage_id),
    )
    return RepeatStats(
        outage_groups=tuple(groups),
        linked_appeals=sum(g.appeals for g in groups),
        extra_outage_appeals=sum(g.appeals - 1 for g in groups),
        appeals_with_repeats=with_repeats,
        repeat_messages=messages,
    )


def gap_rules(
    appeal: Appeal,
    words: frozenset[str],
    earlier: Sequence[Appeal],
    outages: Mapping[int, Outage],
) -> tuple[str, ...]:
    """The expectation-gap rules an appeal hits (see the module docstring). `earlier`
    holds the same contact's earlier appeals in the same category."""
    hits = []
    for before in earlier:
        answered = before.answered_at
        if (
            answered is not None
            and before.id != appeal.id
            and answered <= appeal.created_at
            and appeal.created_at - answered <= REPEAT_WINDOW
        ):
            hits.append("repeat_after_answer")
            break
    if appeal.category == "billing" and words & ESTIMATE_LEMMAS:
        hits.append("estimated_billing")
    outage = outages.get(appeal.outage_id) if appeal.outage_id is not None else None
    if outage is not None and appeal.created_at > outage.until_at:
        hits.append("outage_overrun")
    return tuple(hits)


def _count_rows(
    keys: Sequence[str], labels: Mapping[str, str], current: Counter[str], previous: Counter[str]
) -> tuple[CountRow, ...]:
    ordered = list(keys) + sorted((set(current) | set(previous)) - set(keys))
    return tuple(
        CountRow(key, labels.get(key, key), current[key], previous[key])
        for key in ordered
        if key in keys or current[key] or previous[key]
    )


def _gap_lines(
    appeals: Sequence[Appeal],
    words: Mapping[int, frozenset[str]],
    history: Sequence[Appeal],
    outages: Mapping[int, Outage],
) -> dict[int, tuple[str, ...]]:
    by_thread: dict[tuple[int, str], list[Appeal]] = defaultdict(list)
    for appeal in history:
        by_thread[(appeal.contact_id, appeal.category)].append(appeal)
    return {
        appeal.id: gap_rules(
            appeal, words[appeal.id], by_thread[(appeal.contact_id, appeal.category)], outages
        )
        for appeal in appeals
    }


def analyse_appeals(
    current: Sequence[Appeal],
    previous: Sequence[Appeal],
    *,
    quarter: Quarter,
    as_of: datetime,
    outages: Mapping[int, Outage] | None = None,
    earlier: Sequence[Appeal] = (),
    top: int = 10,
    per_category: int = 3,
    recurring_min: int = 3,
) -> AppealsReport:
    """Analyse a quarter's appeals against the previous quarter's.

    `current` and `previous` are the appeals created in each quarter; `earlier` may add
    appeals from before the previous quarter (only for `repeat_after_answer` in the
    previous quarter). `outages` maps the outage ids the appeals link to. Open appeals
    are overdue when their due time is before `as_of` (the time of the report).
    """
    outages = outages or {}
    words = {a.id: lemmas(a.text) for a in (*current, *previous)}
    history = sorted({a.id: a for a in (*earlier, *previous, *current)}.values(),
                     key=lambda a: (a.created_at, a.id))
    gaps_now = _gap_lines(current, words, history, outages)
    gaps_before = _gap_lines(previous, words, history, outages)

    by_category = _count_rows(
        CATEGORIES,
        CATEGORY_LABELS,
        Counter(a.category for a in current),
        Counter(a.category for a in previous),
    )
    by_channel = _count_rows(
        ("sms", "telegram"),
        CHANNEL_LABELS,
        Counter(a.channel for a in current),
        Counter(a.channel for a in previous),
    )

    # Reasons: appeals per lemma (an appeal counts once per lemma).
    lemma_now: Counter[str] = Counter()
    lemma_before: Counter[str] = Counter()
    lemma_category: dict[str, Counter[str]] = defaultdict(Counter)
    per_cat: dict[str, Counter[str]] = defaultdict(Counter)
    for appeal in current:
        for word in words[appeal.id]:
            lemma_now[word] += 1
            lemma_category[word][appeal.category] += 1
            per_cat[appeal.category][word] += 1
    for appeal in previous:
        lemma_before.update(words[appeal.id])

    def reason(word: str, count: int) -> Reason:
        category = min(lemma_category[word].items(), key=lambda kv: (-kv[1], kv[0]))[0]
        return Reason(word, category, count, lemma_before[word])

    def ranked(counter: Counter[str], n: int) -> list[tuple[str, int]]:
        return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]

    top_reasons = tuple(reason(w, c) for w, c in ranked(lemma_now, top) if c >= 2)
    reasons_by_category = {
        category: tuple(
            Reason(w, category, c, 0) for w, c in ranked(per_cat[category], per_category)
        )
        for category in CATEGORIES
        if per_cat.get(category)
    }

    gap_now = Counter(rule for rules in gaps_now.values() for rule in rules)
    gap_before = Counter(rule for rules in gaps_before.values() for rule in rules)
    gaps = _count_rows(GAP_RULES, GAP_LABELS, gap_now, gap_before)

    service = service_level(current, as_of)
    lines = []
    overdue = []
    for appeal in current:
        answered = appeal.answered_at
        hours = None if answered is None else _hours(answered - appeal.created_at)
        if answered is not None:
            on_time: bool | None = answered <= appeal.due_at
        elif appeal.status == "open" and appeal.due_at < as_of:
            on_time = False
        else:
            on_time = None
        lines.append(AppealLine(appeal, hours, on_time, gaps_now[appeal.id]))
        if on_time is False:
            overdue.append(
                OverdueItem(
                    appeal_id=appeal.id,
                    category=appeal.category,
                    channel=appeal.channel,
                    created_at=appeal.created_at,
                    due_at=appeal.due_at,
                    answered_at=answered,
                    hours_late=_hours((answered or as_of) - appeal.due_at),
                )
            )
    overdue.sort(key=lambda o: (-o.hours_late, o.appeal_id))

    recurring: list[Recurring] = []
    for row in by_category:
        if row.key != "other" and min(row.current, row.previous) >= recurring_min:
            recurring.append(Recurring("category", row.key, row.label, row.current, row.previous))
    for word, count in ranked(lemma_now, top):
        if min(count, lemma_before[word]) >= recurring_min:
            recurring.append(Recurring("word", word, word, count, lemma_before[word]))
    for row in gaps:
        if min(row.current, row.previous) >= recurring_min:
            recurring.append(Recurring("gap", row.key, row.label, row.current, row.previous))

    return AppealsReport(
        quarter=quarter,
        previous_quarter=quarter.previous(),
        as_of=as_of,
        total=len(current),
        previous_total=len(previous),
        by_category=by_category,
        by_channel=by_channel,
        top_reasons=top_reasons,
        reasons_by_category=reasons_by_category,
        repeats=repeat_stats(current),
        previous_repeats=repeat_stats(previous),
        gaps=gaps,
        gap_total=sum(1 for rules in gaps_now.values() if rules),
        previous_gap_total=sum(1 for rules in gaps_before.values() if rules),
        service=service,
        previous_service=service_level(previous, as_of),
        overdue=tuple(overdue),
        recurring=tuple(recurring),
        lines=tuple(lines),
        recurring_min=recurring_min,
    )
