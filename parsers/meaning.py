"""Commands recognised by meaning, when no known wording matched the whole message.

A customer who asks «в каком формате отправлять показания?» or «вы в субботу
работаете?» asks for `help` or `offices` without saying the keyword. Each command here is
a frame over lemmas: a topic (what it is about) AND a cue (a question word, a request
verb), with negative evidence that sends the message elsewhere: a complaint («оператор
не берёт трубку», «очередь в кассе»), a negation («уведомления не приходят»), a strong
appeal cue, or numbers that may be readings. Frames say nothing when unsure: the
message then goes on to the appeal rules, the readings, or a person.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from parsers import budget
from parsers.appeals import STRONG, fold_latin, lemmas, past_tense, score_appeal, word_lemma
from parsers.intent import Command, NotifyChannel
from parsers.normalize import Token


@dataclass(frozen=True, slots=True)
class Meaning:
    """A command found by meaning, with its ticket (status) or channel (notify)."""

    command: Command
    ticket: str | None = None
    channel: NotifyChannel | None = None


@dataclass(frozen=True, slots=True)
class _Message:
    words: tuple[str, ...]  # lower-case word tokens, in order
    lemmas: frozenset[str]
    numbers: int  # how many numbers that may be readings (or a ticket: «статус 618»)
    tickets: int  # how many «№ 618», «обращение 618»
    question: bool  # a «?» or a question word
    dated: bool  # names a date («31 декабря», «25.11»)
    # Lemmas of verbs written only in the past tense («которую я подавала»): something
    # done already, not asked for.
    done: frozenset[str] = frozenset()
    zoned: bool = False  # names a zone («т1», «ночь») with no number

    def has(self, *groups: frozenset[str]) -> bool:
        return all(self.lemmas & g for g in groups)


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_QUESTION: Final = _set(
    "где когда как какой каков куда сколько скольки ли можно подсказать сказать узнать "
    "интересовать уточнить почему зачем что есть объяснить"
)
_NEGATION: Final = _set("не нет ни никто нельзя невозможно перестать хватить надоесть")
# The words of a complaint: with them a frame gives way to the appeal rules.
_COMPLAINT: Final = _set(
    "хамить нахамить хамство грубить нагрубить грубый грубо невежливый хам орать наорать "
    "жалоба пожаловаться жаловаться безобразие очередь поведение ужасный отвратительный "
    "повысить голос кричать накричать бросить обмануть некомпетентный издеваться"
)

# operator: a person asked for, not complained about.
_PERSON: Final = _set("оператор специалист сотрудник консультант менеджер человек живой operator")
_ASK_PERSON: Final = _set(
    "позвать соединить связать переключить поговорить пообщаться вызвать дать нужный нужно "
    "надо хотеть можно пригласить перевести общаться звать связь разговаривать позвонить "
    "перезвонить связаться"
)
_PERSON_ASKED: Final = _set("оператора оператору специалиста специалисту")
_OPERATOR_TOPIC: Final = _set("начисление начислить оплата платеж")
_UNANSWERED: Final = _set("отвечать ответить брать взять перезвонить дозвониться реагировать")

# notify: the channel is told by the word as written (lemmas of brand names are guesses:
# pymorphy3 reads «телеграм» as «телефон»).
_CHANNELS: Final[list[tuple[NotifyChannel, re.Pattern[str]]]] = [
    ("max", re.compile(r"max|макс|максе|максом|мax|мах")),
    (
        "telegram",
        re.compile(r"телеграм\w*|телеграмм\w*|телег[аеуиой]\w*|тг|tg|telegram\w*|телеге"),
    ),
    (
        "email",
        re.compile(r"(?:e|е)?-?mail\w*|имейл\w*|емейл\w*|имеил\w*|мейл\w*|почт\w*|электронк\w*"),
    ),
    ("email", re.compile("email@")),
    ("sms", re.compile(r"смс\w*|sms\w*|эсэмэс\w*|смски|смсок|смсками")),
]
_ANY_CHANNEL: Final = re.compile("|".join(f"(?:{pattern.pattern})" for _, pattern in _CHANNELS))
_LONGEST_CHANNEL_WORD: Final = 20
_PUT_ASIDE: Final = _set("не плохо неудобно")
_PERSONAL: Final = _set("я мы мне нам там у меня нас")
_COURTESY: Final = _set("пожалуйста пжл плиз в на по мне а можно хочу через спасибо")
_NOTICE_KINDS: Final = _set(
    "отключение отключить авария задолженность долг оплата квитанция счет напоминание показание"
)
_NOTICE: Final = _set(
    "уведомление оповещение рассылка извещение квитанция счет информирование напоминание "
    "новость сообщение платежка информация"
)
_SEND: Final = _set(
    "присылать прислать отправлять отправить слать получать получить переключить перевести "
    "подключить дублировать хотеть направлять направить приходить перейти скидывать "
    "настроить сменить изменить поменять удобно писать написать"
)
_STOP_WORDS: Final = _set(
    "отписать отписаться отключить прекратить остановить убрать отказаться исключить удалить "
    "вычеркнуть хватить надоесть"
)

# help: how to use the service.
_SERVICE: Final = _set("пользоваться формат бот сервис команда инструкция чат-бот функция")
_READINGS: Final = _set("показание показатель цифра")
_SEND_READINGS: Final = _set(
    "передать передавать отправить отправлять подать подавать сдать сдавать прислать "
    "присылать писать написать вводить ввести указывать указать скинуть скидывать "
    "сообщить сообщать внести вносить принимать передаваться отправляться подаваться "
    "сдаваться приниматься"
)
# «не могу передать показания»: a failure is a problem to look into, not a question.
_FAILURE: Final = _set(
    "мочь получаться получиться принимать принять работать проходить пройти отправляться "
    "уходить выходить"
)
_WRITE: Final = _set("писать написать отправлять присылать нажимать нажать вводить набирать")
_HERE: Final = _set("сюда здесь тут")
_CAN: Final = _set("уметь мочь")
_MEANS: Final = _set("такой значит значить означать обозначать")
_TARIFF: Final = _set("тариф зона многотарифный двухтарифный трехтарифный")
_WORKS: Final = _set("работать устроить пользоваться")
_THIS_SERVICE: Final = _set("бот номер чат сервис вы")
_HOW: Final = _set("как какой каков куда формат образ правильно где когда число срок")

# Other services than this one: a question about them is for a person.
_ELSEWHERE: Final = _set(
    "госуслуга госуслуги сбербанк сбер банк приложение сайт кабинет мфц терминал"
)

# offices: where and when a place works.
_PLACE: Final = _set("офис отделение касса центр пункт представительство филиал отдел кабинет")
_WHERE_WHEN: Final = _set(
    "где адрес когда работать открыть открытый режим график час суббота воскресенье "
    "выходной праздник праздничный сколько скольки находиться ближайший близкий добраться прийти "
    "подойти приехать обед перерыв открываться закрываться работа есть часы прием"
)
_PAY: Final = _set("оплатить заплатить платить оплата оплачивать")
_WHERE: Final = _set("где куда")
_COME: Final = _set(
    "прийти подойти приехать обратиться принимать прием лично находиться идти пойти ехать поехать"
)
_CLOSED: Final = _set("закрыть хотя")
_OPEN: Final = _set("работать открыть открытый открываться закрываться находиться")
_WHEN_WHERE_ONLY: Final = _set(
    "где когда суббота воскресенье выходной праздник праздничный сколько скольки обед"
)

# start / stop: subscribing again, or leaving, asked for in words.
_FEED: Final = _set(
    "рассылка уведомление оповещение информирование смс sms подписка сообщение новость "
    "напоминание "
    "смс-уведомление смс-информирование смс-рассылка"
)
_START: Final = _set("подписать подписаться возобновить включить вернуть подключить восстановить")
_SUBSCRIBING: Final = _set("подписать подписаться отписать отписаться")
_AGAIN: Final = _set("снова опять обратно заново вновь")
_CEASE: Final = _set("перестать хватить прекратить")

# status: an appeal of one's own and how it goes.
_APPEAL: Final = _set("обращение заявка жалоба заявление тикет запрос")
_OWN: Final = _set("мой наш статус рассмотреть рассматривать этап стадия состояние продвигаться")
_FILE: Final = _set(
    "подать подавать оставить написать составить оформить отправить направить создать"
)
_WAITING: Final = _set("ждать долго сколько")
# unchanged: the readings are as last time
_SAME: Final = _set("такой тот те то")
_CHANGED: Final = _set("измениться поменяться меняться изменяться изменить поменять менять")
_PREVIOUS: Final = _set("прошлый предыдущий прежний")
_PERIOD: Final = _set("месяц раз")
_USED_UP: Final = _set("нагореть намотать накрутить нажечь набежать")
# What else stays the same or changes: the bill, the balance, an appeal, the power.
_NOT_READINGS: Final = _set(
    "баланс долг задолженность счет квитанция сумма тариф оплата оплатить заплатить статус "
    "обращение заявка жалоба напряжение свет электричество цена начисление номер телефон "
    "адрес фамилия собственник"
)
_WEAK_PROGRESS: Final = _set("что как решить решение ответ ответить")
_PROGRESS: Final = _set(
    "статус что как ответ рассмотреть рассматривать решить решение продвигаться этап "
    "состояние готовый результат известно новое новость стадия ответить выполнить исполнить "
    "обработать движение подвижка"
)

# balance: how much is owed.
_OWED: Final = _set("баланс долг задолженность остаток переплата")
_PAID: Final = _set("оплатить заплатить внести перевести висеть")
# «внук оплачивал за меня, а мне пишут что долг»: paid, and still owing; but «муж всегда
# платил сам, я не знаю сколько у нас долгу» asks how much
_PAYING: Final = _set("оплачивать платить")
_PAPER: Final = _set("справка документ")
_HOW_MUCH: Final = _set(
    "какой сколько узнать проверить есть ли подсказать сказать уточнить показать "
    "сообщить прислать скинуть"
)
_LEFT_ON_ACCOUNT: Final = _set("деньга деньги средство остаться")
# money moved (a payment, a charge, a refund): a question about it is for a person
_MONEY_MOVED: Final = _set(
    "оплатить заплатить платить перевести списать снять вернуть зачислить поступить уйти"
)
_RAN_UP: Final = _set("должный набежать накопиться накапать натикать")
_DISPUTE: Final = _set(
    "почему откуда зачем ошибка ошибочный неправильный неверный большой огромный завысить "
    "завышенный взяться непонятный перерасчет вернуть возврат возвратить зачесть перенести"
)

# yes / no with words around them.
_THANKS: Final = _set("спасибо благодарю спс заранее")
_ASKING: Final = _set("где когда как какой почему зачем сколько ли что нормально")
_YES: Final = _set("да ага угу конечно верно подтверждаю подтвердить согласный правильно")
_NO: Final = _set("нет неа неверно неправильно")
# Words of an answer about the readings just read back: with them a yes/no stays one.
_CONFIRMING: Final = _set(
    "показание ошибка ошибиться ошибочно неверно неправильно верно правильно мой это не "
    "записать ввести указать отправить принять принимать отменить"
)

_ADDRESS: Final = "email@"  # the word an e-mail address stands for
_LETTERS: Final = re.compile(r"[^\W\d_]+")
_NUMBER_KINDS: Final = frozenset({"num", "ambig", "fragment", "meter_num", "unit"})


def _scan(
    tokens: list[Token], skip: int
) -> tuple[list[str], list[str], list[str], bool, bool, bool]:
    """Words, numbers, tickets, whether a «?» is there, whether a date is, whether a
    zone label is."""
    words: list[str] = []
    numbers: list[str] = []
    tickets: list[str] = []
    question = dated = zoned = False
    for i, tok in enumerate(tokens):
        if i == skip or tok.kind == "account":
            continue
        if tok.kind == "word":
            words.append(fold_latin(tok.text))
        elif tok.kind == "qmark":
            question = True
        elif tok.kind == "date":
            dated = True
        elif tok.kind == "zone":
            zoned = True
        elif tok.kind == "link" and "@" in tok.text:
            words.append(_ADDRESS)  # «на почту petrova72@mail.ru»: the channel named
        elif tok.kind in _NUMBER_KINDS:
            numbers.append("".join(ch for ch in tok.text if ch.isdigit()))
        elif tok.kind in {"ticket", "numbered"} and tok.value:
            tickets.append(tok.value)
            words += _LETTERS.findall(tok.text)  # «заявкой №618»: the noun counts
        elif tok.kind in {"money", "code"}:
            # «заплатила 3200», «ошибку е-03»: the words of a protected span count
            words += _LETTERS.findall(tok.text)
        elif tok.kind == "meter":
            words += _LETTERS.findall(tok.text)
            if tok.value is not None:
                numbers.append(tok.value)
    return words, [n for n in numbers if n], tickets, question, dated, zoned


def _operator(m: _Message) -> Meaning | None:
    if not m.lemmas & _PERSON or m.numbers or m.has(_COMPLAINT):
        return None
    if m.has(_NEGATION, _UNANSWERED):
        return None  # «оператор не отвечает»: a complaint
    # «оператор», «operator pozhalujsta»
    alone = m.lemmas <= {"оператор", "человек", "пожалуйста", "пжл", "плиз", "срочно", "мне"}
    # «человек» asks for a person only with a request («позовите человека»); «оператора,
    # бот не понимает»: the person named as what is asked for (genitive or dative)
    asked_for = any(word in _PERSON_ASKED for word in m.words)
    if alone or asked_for or m.has(_ASK_PERSON):
        return Meaning("operator")
    return None


def _channels(m: _Message) -> tuple[set[NotifyChannel], set[NotifyChannel]]:
    """The channels named, and those refused («по смс, а не в телеграм», «телеграма у
    меня нет»)."""
    named: set[NotifyChannel] = set()
    refused: set[NotifyChannel] = set()
    for i, word in enumerate(m.words):
        if len(word) > _LONGEST_CHANNEL_WORD or not _ANY_CHANNEL.fullmatch(word):
            continue  # «смсааа…»: a run of letters names no channel
        found = {ch for ch, pattern in _CHANNELS if pattern.fullmatch(word)}
        after = m.words[i + 1 : i + 4]
        # «в телеграме я не сижу», «смс я плохо вижу»: put aside, not chosen
        # («телеграм у меня не работает»: past the words about oneself)
        said = list(itertools.dropwhile(_PERSONAL.__contains__, after))
        aside = bool(said) and said[0] in _PUT_ASIDE
        if "не" in m.words[max(0, i - 2) : i] or "нет" in after or aside:
            refused |= found
        else:
            named |= found
    return named - refused, refused


def _notify(m: _Message) -> Meaning | None:
    named, refused = _channels(m)
    # A negation is allowed only when it refuses a channel.
    negated = m.has(_NEGATION) and not refused
    if len(named) != 1 or m.numbers or negated or m.has(_STOP_WORDS):
        return None
    if m.has(_READINGS) and (m.question or m.has(_HOW)):
        return None  # «в каком формате отправлять показания по смс» asks how
    channel = named.pop()
    # «Телеграм», «в MAX пожалуйста» (a bare address is no choice)
    alone = len(set(m.words) - _COURTESY) == 1 and _ADDRESS not in m.words
    # «всё на почту, смс не нужно»: one channel refused for another is a choice
    if not (m.has(_NOTICE) or m.has(_SEND) or alone or refused):
        return None
    if channel == "sms" and (m.has(_AGAIN) or m.has(_START - {"подключить", "включить"})):
        return None  # «снова получать смс», «верните смс-уведомления»: subscribing again
    return Meaning("notify", channel=channel)


def _help(m: _Message) -> Meaning | None:
    if m.numbers or m.has(_NEGATION, _FAILURE):
        return None
    if m.has(_SERVICE) and (m.question or m.has(_HOW)):
        return Meaning("help")
    # «а что сюда можно писать?», «дочка, а что сюда писать надо, я не понимаю»
    short = len(m.words) <= 6 or m.has(_HERE)
    if "что" in m.lemmas and m.has(_WRITE) and short and not m.has(_ELSEWHERE):
        return Meaning("help")
    # «что умеет этот номер?», «что вы умеете?»
    if "что" in m.lemmas and m.has(_CAN, _THIS_SERVICE):
        return Meaning("help")
    # «что такое т1 и т2?», «что значит день и ночь в показаниях?»
    if "что" in m.lemmas and m.has(_MEANS) and (m.zoned or m.has(_TARIFF)):
        return Meaning("help") if "почему" not in m.lemmas else None
    # «как у вас тут всё работает?», «как тут всё устроено?»
    if "как" in m.lemmas and m.has(_HERE, _WORKS) and not m.has(_NEGATION):
        return Meaning("help")
    if m.has(_ELSEWHERE):
        return None  # «можно ли передавать показания через Госуслуги?»: not our service
    if m.has(_READINGS, _SEND_READINGS) and (m.question or m.has(_HOW)):
        return Meaning("help")
    return None


def _offices(m: _Message) -> Meaning | None:
    if m.numbers or m.has(_COMPLAINT) or m.has(_CLOSED):
        return None  # «офис был закрыт, хотя …»: a complaint
    if m.has(_PLACE, _WHERE_WHEN):
        return Meaning("offices")
    # «куда к вам прийти лично, где принимают?»
    if m.has(_WHERE, _COME) and not m.has(_READINGS):
        return Meaning("offices")
    # «вы в субботу работаете?», «до скольки вы открыты»: the company's own hours.
    asked = m.has(_WHEN_WHERE_ONLY) or m.dated or "ли" in m.lemmas
    if m.has(_OPEN) and asked and m.lemmas & {"вы", "ваш"} and m.question:
        return Meaning("offices")
    return None


def _pay_place(m: _Message) -> Meaning | None:
    # «где можно заплатить наличными?»: a place to pay at.
    if m.numbers or m.has(_NEGATION) or m.has(_COMPLAINT):
        return None
    if m.has(frozenset({"где", "куда"}), _PAY):
        return Meaning("offices")
    return None


def _start_stop(m: _Message) -> Meaning | None:
    if m.numbers:
        return None
    subscription = m.has(_FEED) or m.has(_SUBSCRIBING)
    # «перестаньте мне писать»: asked to stop writing (not «перестали писать», told)
    ceased = m.has(_CEASE, _SEND) and not m.done & _CEASE and m.lemmas & {"я", "мне", "меня"}
    if ceased and not m.has(_START):
        return Meaning("stop")
    if not subscription:
        return None
    if not m.has(_FEED) and not m.has(_AGAIN | {"передумать", "случайно"}):
        # «отпишите меня, мама здесь больше не живёт»: leaving needs no feed named
        unsubscribe = _SUBSCRIBING & _STOP_WORDS
        if m.has(unsubscribe) and m.lemmas & {"я", "мы"} and not m.done & unsubscribe:
            return Meaning("stop")
        return None  # «я передумал, подпишите обратно», «случайно отписалась, подключите»
    if m.has(_STOP_WORDS) and m.has(_START):
        # «я отписался случайно, верните рассылку»: the last request stands; a verb in
        # the past tense tells what happened («включите обратно, случайно отписался»).
        asked = [
            i
            for i, w in enumerate(m.words)
            if lemmas([w]) & (_STOP_WORDS | _START) and not past_tense(w)
        ] or [i for i, w in enumerate(m.words) if lemmas([w]) & (_STOP_WORDS | _START)]
        last = max(asked)
        return Meaning("stop" if lemmas([m.words[last]]) & _STOP_WORDS else "start")
    if m.has(_STOP_WORDS) or ("не" in m.lemmas and m.has(_SEND)):
        return Meaning("stop")
    if m.has(_NEGATION):
        return None
    if m.has(_START) or (m.has(_AGAIN) and m.has(_SEND)):
        return Meaning("start")
    return None


def _unchanged(m: _Message) -> Meaning | None:
    # «показания такие же как прошлые», «не изменились с прошлого месяца», «без изменений»
    if m.numbers or m.has(_NOT_READINGS):
        return None
    found = m.lemmas  # lemmas, so that translit counts too («bez izmenenij»)
    same = (
        ("же" in found and m.has(_SAME))
        or "прежний" in found
        or ("без" in found and "изменение" in found)
        or ("не" in found and m.has(_CHANGED))
        or ("как" in found and m.has(_PREVIOUS, _PERIOD))
        # «ничего не нагорело», «показания старые»: nothing used since last time
        or ({"ничего", "не"} <= found and m.has(_USED_UP))
        or {"показание", "старый"} <= found
    )
    return Meaning("unchanged") if same else None


def _status(m: _Message) -> Meaning | None:
    if not m.has(_APPEAL, _PROGRESS) or m.has(_NEGATION) or m.has(_COMPLAINT - {"жалоба"}):
        return None
    own = m.has(_OWN) or m.has(_PROGRESS - _WEAK_PROGRESS) or m.tickets or m.numbers
    # «писала жалобу на прошлой неделе, ответ будет?»: filed already, so one's own
    own = own or bool(m.done & (_FILE | {"писать"}))
    if (m.lemmas & _FILE) - m.done or m.has(_WAITING) or not own:
        # «как подать заявку», «жду ответа на обращение месяц»; but «заявка, которую я
        # подавала в понедельник» is one of one's own
        return None
    if m.numbers + m.tickets > 1:
        return None
    return Meaning("status")  # the ticket is the one number, if any


def _balance(m: _Message) -> Meaning | None:
    if not m.has(_OWED) or m.numbers or m.has(_DISPUTE) or m.has(_NEGATION):
        return None
    if m.has(_PAPER):
        return None  # «справку об отсутствии задолженности»: a document asked for
    if m.has(_PAID) or (m.has(_PAYING) and "сколько" not in m.lemmas):
        return None  # «оплатила 3100, а у вас долг висит»: a payment not credited
    if m.question or m.has(_HOW_MUCH):
        return Meaning("balance")
    return None


def _money_left(m: _Message) -> Meaning | None:
    # «сколько денег на счету осталось», «сколько у меня осталось на счёте»
    if m.numbers or m.has(_DISPUTE) or m.has(_NEGATION) or m.has(_MONEY_MOVED):
        return None
    if m.has(frozenset({"сколько"}), _LEFT_ON_ACCOUNT) and m.lemmas & {"счет", "остаться"}:
        return Meaning("balance")
    return None


def _sum_due(m: _Message) -> Meaning | None:
    # «какая сумма к оплате за ноябрь?»
    if m.numbers or m.has(_DISPUTE) or m.has(_NEGATION):
        return None
    if m.has(frozenset({"сумма"}), _PAY) and (m.question or m.has(_HOW_MUCH)):
        return Meaning("balance")
    return None


def _amount_due(m: _Message) -> Meaning | None:
    # «сколько мне надо заплатить в этом месяце?»
    if m.numbers or m.has(_DISPUTE) or m.has(_NEGATION):
        return None
    # «сколько там набежало за свет?»
    if m.has(frozenset({"сколько"}), _PAY | _RAN_UP):
        return Meaning("balance")
    return None


def _yes_no(m: _Message) -> Meaning | None:
    asked = m.has(_ASKING) and len(m.words) > 2
    if m.numbers or not m.words or len(m.words) > 8 or asked or "или" in m.words:
        # «нет, ну это нормально, что счёт 5000?» asks something else; «да или нет?»
        # offers the choice back
        return None
    words = m.words
    denied = any(a == "не" and b in _YES for a, b in zip(words, words[1:], strict=False))
    # «не верно», «не надо»; but «не пришла квитанция» is a complaint
    bare_not = words[0] == "не" and lemmas(words[1:]) <= _CONFIRMING | _YES | {"надо", "нужно"}
    no = words[0] in {"нет", "неа"} or bare_not or denied
    yes = not no and bool({words[0], words[-1]} & _YES) and "не" not in words
    if not (yes or no):
        return None
    # «нет, ошибка в показаниях» answers the question asked; «нет света» does not.
    rest = [w for w in words if w not in _YES | _NO and not lemmas([w]) & _CONFIRMING]
    if score_appeal(rest)[0] is not None:
        return None  # «нет света», «да, вопрос по счёту»
    return Meaning("yes" if yes else "no")


# In order: the first frame that holds wins. The narrow frames come first.
# With each frame, the words of its own topic: a strong appeal cue among the OTHER words
# sends the message to the appeal rules («позовите оператора, счётчик сгорел»). None:
# the frame stands against any appeal cue, because the appeal is its topic («что с моей
# жалобой по перерасчёту?») or the answer is about the readings just read back.
_FRAMES: Final[list[tuple[Callable[[_Message], Meaning | None], frozenset[str] | None]]] = [
    (_notify, _NOTICE_KINDS),  # «уведомления об отключениях присылайте смской»
    (_start_stop, _FEED),  # «снова получать напоминания» is no suggestion
    # «счётчик не крутился, цифры как в прошлом месяце»: the meter standing still is why
    (_unchanged, frozenset({"крутиться", "вращаться", "мотать"}) | _USED_UP),
    (_operator, _OPERATOR_TOPIC),  # «специалист по начислениям» is whom to call
    (_status, None),
    (_pay_place, None),  # «где оплатить электроэнергию без комиссии»: «без» is no outage
    (_offices, frozenset()),
    (_help, frozenset()),
    (_balance, _OWED),  # «есть ли переплата?» asks the balance, not a refund
    (_amount_due, frozenset({"свет", "электричество", "электроэнергия"})),
    (_money_left, frozenset({"счет"})),
    (_sum_due, frozenset({"сумма", "оплата"})),
    (_yes_no, None),
]


# «я не знаю, сколько у нас долгу», «рассмотрели мою жалобу или нет»: an indirect
# question, not a negation of what is asked.
_INDIRECT: Final = re.compile(
    r"(?:^| )(?:не (?:знаю|знаем|понимаю|понимаем|помню|помним|разберусь|пойму)"
    r"|или (?:нет|не))(?= |$)"
)


_INDIRECT_LEAVES: Final = 2


def _indirect(words: tuple[str, ...]) -> tuple[bool, tuple[str, ...]]:
    """Whether the words hold an indirect question, and the words without it."""
    joined = " ".join(words)
    plain = _INDIRECT.sub("", joined)
    if plain == joined or len(plain.split()) < _INDIRECT_LEAVES:
        return False, words  # «да или нет?» asks nothing of us
    return True, tuple(plain.split())


def command_by_meaning(tokens: list[Token], skip: int = -1) -> Meaning | None:
    """The command a message asks for in its own words; `skip` is the account token."""
    words, numbers, tickets, question, dated, zoned = _scan(tokens, skip)
    if not words:
        return None
    # Pure in its arguments (within a complete look-up plan), so cached: a gateway sees
    # the same wordings again and again; long texts are not kept (memory stays bounded).
    cached = len(words) <= _DECIDED_CACHED_UP_TO and budget.allowed() is None
    found = (_decide_cached if cached else _decide)(
        tuple(words), len(numbers), len(tickets), qmark=question, dated=dated, zoned=zoned
    )
    if found is not None and found.command == "status" and (tickets or numbers):
        return Meaning("status", ticket=(tickets or numbers)[0])
    return found


def _decide(
    words: tuple[str, ...], numbers: int, tickets: int, *, qmark: bool, dated: bool, zoned: bool
) -> Meaning | None:
    asked, words = _indirect(words)
    # (each word read once: a long text has hundreds)
    each = [(word_lemma(w), past_tense(w)) for w in words]
    found_lemmas = frozenset(found for found, _ in each if found is not None)
    question = qmark or asked or bool(found_lemmas & _QUESTION)
    # lemmas written only in the past tense
    done = frozenset(found for found, past in each if past and found is not None) - frozenset(
        found for found, past in each if not past and found is not None
    )
    m = _Message(words, found_lemmas, numbers, tickets, question, dated, done, zoned)
    for frame, topic in _FRAMES:
        found = frame(m)
        if found is None:
            continue
        if topic is not None:
            others = [w for w in m.words if not topic or not lemmas([w]) & topic]
            if m.question:
                # «… где ближайший офис? Спасибо» thanks for the answer, not the office
                others = [w for w in others if w not in _THANKS]
            category, score = score_appeal(others)
            if category is not None and score >= STRONG:
                return None
        return found
    return None


_DECIDED_CACHED_UP_TO: Final = 24
_decide_cached: Final = lru_cache(maxsize=8_192)(_decide)


def clear_caches() -> None:
    """Forget the wordings decided (benches and tests time them from cold)."""
    _decide_cached.cache_clear()
