"""Commands of the contract in their everyday wordings (docs/interfaces.md §5).

A command is recognised only when the whole message, once greetings, politeness,
signatures and the account number are set aside, is one of the wordings below: «нет»
is a command, «нет света» is an appeal.
"""

from __future__ import annotations

import re
from typing import Final

from parsers.appeals import fold_latin
from parsers.intent import Command
from parsers.normalize import Token

# Words that carry no request: dropped before the wordings are matched.
_POLITE: Final = frozenset(
    {
        "здравствуйте",
        "здравствуй",
        "здрасте",
        "здрасьте",
        "привет",
        "приветствую",
        "добрый",
        "доброе",
        "доброго",
        "спасибо",
        "спс",
        "благодарю",
        "пожалуйста",
        "пожалуста",
        "пжл",
        "пжлст",
        "пжлста",
        "плз",
        "пж",
        "плиз",
        "please",
        "уважаемые",
        "уважаемый",
        "сотрудники",
        "господа",
        "скажите",
        "подскажите",
        "можно",
        "мне",
        "а",
        "и",
        "ну",
        "вот",
        "так",
        "хочу",
        "хотел",
        "хотела",
        "бы",
        "прошу",
        # Tatar «нужно»: «помощь кирәк»
        "кирәк",
        "кирек",
    }
)
# Tokens that are set aside (the account is reported separately).
_ACCOUNT_PREPOSITIONS: Final = frozenset({"по", "для", "на"})
_SKIPPED_KINDS: Final = frozenset(
    {"account", "account_label", "noise", "initials", "unit", "phone", "link"}
)

_W = r"[^\W\d_]*"


def _ticket(n: int) -> str:
    return rf"(?:\s(?:номер|ном|n))?\s(?P<ticket{n}>[0-9]{{1,10}})"


_APPEAL = rf"(?:обра[щш]ени{_W}|заявк{_W}|жалоб{_W}|заявлени{_W}|тикет{_W})"
# What customers subscribe to and unsubscribe from: «рассылка», «смс-информирование», …
_FEED = (
    rf"(?:смс(?:\s(?:информировани{_W}|оповещени{_W}|рассылк{_W}))?|sms|рассылк{_W}"
    rf"|уведомлени{_W}|оповещени{_W}|информировани{_W}|сообщени{_W}|подписк{_W}|новост{_W})"
)
# «…, на каком она этапе?»: how a question about an appeal's state may end.
_STATE = (
    r"(?:статус|что|как|на\sкаком\s(?:она\s|оно\s)?этапе|в\sкаком\sсостоянии"
    r"|какой\sстатус|что\sс\s(?:ней|ним))"
)

_PATTERNS: Final[list[tuple[Command, re.Pattern[str]]]] = [
    (
        "status",
        re.compile(
            rf"(?:(?:узнать|проверить|какой|каков)\s)?(?:статус|status|состояние|ход)"
            rf"(?:\s(?:по|у|моего|моей|мое|моему|мой|моих|рассмотрения))*(?:\s{_APPEAL})?"
            rf"(?:{_ticket(1)})?"
            rf"|(?:что|как)(?:\s(?:там|сейчас))?\s(?:с|по)\s(?:мо{_W}\s)?{_APPEAL}"
            rf"(?:{_ticket(2)})?"
            rf"|(?:номер\s)?(?:мо{_W}\s)?{_APPEAL}{_ticket(3)}(?:\s{_STATE})?"
            # «как продвигается обращение № 618»
            rf"|как\s(?:продвига|движет|рассматрива|решает){_W}\s(?:мо{_W}\s)?{_APPEAL}"
            rf"(?:{_ticket(4)})?"
        ),
    ),
    (
        "unchanged",
        re.compile(
            # «никто не живёт, показания те же»: why they did not change.
            rf"(?:(?:никто\sне\s(?:живет|проживает)|не\s(?:живем|проживаем)"
            rf"|(?:дом|квартира|дача)\sпуст{_W}|никого\sнет|расход\sнулевой|нулевой\sрасход)\s)?"
            rf"(?:(?:мои|наши)\s)?(?:(?:показани{_W}|пок|показател{_W}|данные|цифры)\s)?"
            rf"(?:(?:счетчик{_W}|за\s(?:этот|текущий)\sмесяц)\s)?"
            rf"(?:(?:остал{_W}|оста[её]тся|оста[её]тся|все|всё|у\sменя)\s)?"
            rf"(?:те\sже(?:\sсамые)?(?:\sпоказани{_W})?|такие\sже|прежни{_W}|без\sизменени{_W}"
            rf"|не\s(?:изменил{_W}|поменял{_W}|менял{_W}|изменял{_W})|такие\sже\sкак"
            rf"\s(?:и\s)?(?:в\s)?прошл{_W}\s(?:раз|месяц{_W})"
            rf"|как\s(?:и\s)?(?:в\s)?прошл{_W}\s(?:раз|месяц{_W})|расхода\sне\sбыло"
            # «те же, что и в прошлом месяце»
            rf"|(?:те|такие)\sже\s(?:что|как)\s(?:и\s)?(?:в\s)?прошл{_W}\s(?:раз|месяц{_W})"
            rf"|нет\sрасхода|не\sбыло\sрасхода)"
            # «показания прежние, никто не живёт»: the reason may also follow
            rf"(?:\s(?:никто\sне\s(?:живет|проживает)|не\s(?:живем|проживаем)"
            rf"|(?:дом|квартира|дача)\sпуст{_W}|никого\sнет))?"
        ),
    ),
    (
        "stop",
        re.compile(
            rf"(?:stop|стоп)(?:\s(?:рассылк{_W}|смс|sms|уведомлени{_W}))?"
            rf"|отпи[сш]{_W}(?:\s(?:меня|нас))?(?:\sот\s{_FEED})?"
            rf"|отписк{_W}|отказ{_W}\sот\s(?:рассылк{_W}|смс|sms|уведомлени{_W}|сообщени{_W}"
            rf"|подписк{_W})"
            rf"|отказ{_W}\sот\s{_FEED}"
            rf"|(?:больше\s)?не\s(?:присылай{_W}|присылать|отправляй{_W}|пишите|шлите|надо"
            rf"|нужно|беспокой{_W}|беспокоит{_W}|хочу|получать)"
            rf"(?:\s(?:мне|меня|нас|больше|сюда|на\sэтот\sномер))*"
            rf"(?:\s(?:смс|sms|сообщени{_W}|рассылк{_W}|уведомлени{_W}|спам|писать|присылать"
            rf"|ничего|получать))*"
            rf"|(?:отключи{_W}|отмени{_W}|прекрати{_W}|убери{_W}|остановит{_W})\s"
            rf"(?:мне\s)?(?:смс\s)?(?:рассылк{_W}|уведомлени{_W}|смс|sms|подписк{_W}"
            rf"|сообщени{_W})(?:\s(?:смс|sms))?"
            rf"|хватит(?:\s(?:присылать|писать|слать|спамить))?(?:\s(?:мне\s)?{_FEED})?"
            rf"|не\sбеспокоить"
            rf"|отмена\s(?:рассылк{_W}|подписк{_W}|уведомлени{_W}|смс|sms)"
            rf"|перестан{_W}\s(?:мне\s)?(?:присылать|слать|писать|отправлять|спамить)(?:\sмне)?"
            rf"(?:\s{_FEED})?"
        ),
    ),
    (
        "start",
        re.compile(
            rf"start|старт|начать|подпис(?:аться|ат{_W}|ыва{_W})"
            rf"(?:\s(?:меня|нас))?(?:\sна\s(?:рассылк{_W}|уведомлени{_W}|смс|sms|новост{_W}))?"
            rf"|подпишите{_W}(?:\s(?:меня|нас))?|подписк{_W}"
            rf"|(?:(?:снова|опять|дальше|и\sдальше)\s)?получать\s(?:снова\s)?{_FEED}"
            rf"(?:\sот\sвас)?"
            rf"|(?:возобнов{_W}|включи{_W}|верни{_W})\s(?:мне\s)?{_FEED}"
        ),
    ),
    (
        "balance",
        re.compile(
            # «скинь баланс», «пришлите задолженность»
            rf"(?:(?:скинь|скиньте|покажи|покажите|пришли|пришлите|напиши|напишите|дай|дайте"
            rf"|сообщи|сообщите|назовите|уточните)\s)?(?:"
            rf"balance|balans|баланс|мой\sбаланс|долг|задолженность|мой\sдолг|остаток|к\sоплате"
            rf"|сумма\sк\sоплате|сколько\s(?:я\s|мы\s|нам\s)?"
            # «сколько за свет к оплате», «сколько нужно заплатить»
            rf"(?:за\s(?:свет|электричество|электроэнергию)\s)?(?:нужно\s|надо\s)?"
            rf"(?:должен|должна|должны|платить"
            rf"|к\sоплате|оплачивать|заплатить|задолжал{_W})(?:\sза\s[^\W\d_]+)?"
            rf"|(?:какой|какая|какова|каков)\s(?:у\s(?:меня|нас)\s)?(?:мой\s)?(?:долг|баланс"
            rf"|задолженность|сумма\sк\sоплате)"
            rf"|есть\sли\s(?:у\s(?:меня|нас)\s)?(?:долг|задолженность)"
            rf"|(?:узнать|проверить|уточнить)\s(?:мой\s|свой\s)?(?:баланс|долг|задолженность"
            rf"|сумму\sк\sоплате)"
            rf"|(?:баланс|долг|задолженность)(?:\sпо)?(?:\s(?:лицевому|счету|лс))?"
            rf")(?:\sза\s(?:электроэнергию|электричество|свет))?"
            # «какой долг на 25.11», «баланс на сегодня»
            rf"(?:\sна\s(?:<date>|сегодня|сейчас|текущ{_W}\sмомент|данный\sмомент))?"
        ),
    ),
    (
        "offices",
        re.compile(
            rf"(?:адрес{_W}|где)(?:\s(?:ваш{_W}|ближайш{_W}|находит{_W}|наход{_W}|есть))*"
            rf"\s(?:офис{_W}|отделени{_W}|касс{_W}|центр{_W}\sобслуживания|пункт{_W}\sприема)"
            rf"(?:\s(?:энергосбыт{_W}|компани{_W}|ваш{_W}))?"
            rf"(?:\s(?:находит{_W}|в\s[^\W\d_]+))*"
            # «скажите адрес», «ваш адрес?»
            rf"|(?:ваш{_W}\s)?адрес{_W}(?:\sваш{_W})?"
            rf"|офисы|(?:режим|график|часы|время)\sработы(?:\s(?:офис{_W}|отделени{_W}|касс{_W}))?"
            rf"|куда\s(?:прийти|обратиться|идти|подойти)|offices"
            # «офисы в Сыктывкаре где», «режим работы и адрес офиса»
            rf"|офис{_W}(?:\sв\s[^\W\d_]+)?\sгде"
            rf"|(?:режим|график|часы|время)\sработы(?:\sи)?\sадрес{_W}(?:\s(?:офис{_W}|отделени{_W}))?"
            rf"|адрес{_W}(?:\sи)?\s(?:режим|график|часы|время)\sработы(?:\s(?:офис{_W}|отделени{_W}))?"
        ),
    ),
    (
        "help",
        re.compile(
            rf"help|помо[щш]ь|помогите|справка|инструкция|меню|команды|хелп"
            rf"|(?:(?:напишите|покажите|пришлите|дайте)\s)?(?:список\s)?(?:какие\s)?команд{_W}"
            rf"(?:\sесть)?"
            rf"|что\s(?:мне\s)?(?:писать|отправлять|делать|умеешь|умеете)"
            # «что умеет бот?», «как пользоваться?»
            rf"|что\s(?:умеет|может)\s(?:этот\s|ваш\s)?бот"
            rf"|как\s(?:им\s|этим\s|ботом\s)?пользоваться(?:\s(?:ботом|чатом|сервисом))?"
            rf"|как\s(?:мне\s)?(?:передать|отправить|подать|сдать|прислать|передавать"
            rf"|отправлять|присылать)\s(?:показани{_W}|пок)(?:\sсчетчик{_W})?"
            rf"(?:\s(?:через|по)\s(?:смс|sms|бот{_W}|телеграм{_W}))?"
        ),
    ),
    (
        "yes",
        re.compile(
            # «ага, правильно», «агась»
            r"(?:да|ага|агась|угу)"
            r"(?:\s(?:да|верно|все\sверно|все\sправильно|подтверждаю|правильно|конечно))*"
            r"|верно"
            r"|все\sверно|подтверждаю|yes|y|ок|ok|окей|конечно|правильно|согласен|согласна"
            r"|da|д"
        ),
    ),
    (
        "no",
        re.compile(
            # «нет, не так, ошибка», «нет, ошибся» («так» is dropped as a filler: «нет не»)
            r"нет(?:\s(?:не\sверно|неверно|не\sправильно|неправильно|не\sподтверждаю|не\sтак"
            r"|ошибка|ошибся|ошиблась|ошиблись|ошибочно|не\sнадо|не))*|не\sтак"
            r"|неверно|не\sверно|no|не\sподтверждаю|отмена|отменить|неправильно"
            r"|не\sправильно|net|не\sнадо|ошибка|н"
        ),
    ),
]

_BARE_NO: Final = frozenset({"не надо", "не нужно"})
_SLASH: Final = re.compile(r"\s*/([a-z]+)(?:@\w+)?\s*")
_SLASH_COMMANDS: Final[dict[str, Command]] = {
    "start": "start",
    "help": "help",
    "stop": "stop",
    "balance": "balance",
    "status": "status",
    "offices": "offices",
}


def command_core(tokens: list[Token], skip: int = -1) -> str:
    """The words and numbers of a message that may form a command, space-joined;
    `skip` is the index of the account's token."""
    parts: list[str] = []
    for i, tok in enumerate(tokens):
        if tok.kind in _SKIPPED_KINDS or i == skip:
            if tok.kind == "account" or i == skip:
                # «баланс по лс 1234567890»: the preposition went with the account.
                while parts and parts[-1] in _ACCOUNT_PREPOSITIONS:
                    parts.pop()
            continue
        if tok.kind == "word":
            if tok.text == "уважением":
                break  # «С уважением, Иванов» ends the message.
            # «da vse verno», «NET,NE NADO»: a whole Latin word is read as translit.
            word = fold_latin(tok.text)
            if word not in _POLITE:
                parts.append(word)
        elif tok.kind in {"num", "qmark"}:
            parts.append(tok.text)
        elif tok.kind == "ticket":
            parts.append(f"обращение {tok.value}")
        elif tok.kind == "numbered" and tok.value is not None:
            # «статус № 456»: «№» is «номер», as the status wordings already allow.
            parts.append(f"номер {tok.value}")
        elif tok.kind == "meter" and tok.value is None:
            parts.append(tok.text.strip())  # «как передать показания счётчика»
        elif tok.kind == "zone" and tok.text.startswith(("д", "н")) and len(tok.text) <= 2:
            # «д»/«н» alone are yes/no on old phones more often than zone labels.
            parts.append(tok.text.rstrip("."))
        else:
            parts.append(f"<{tok.kind}>")
    # «?» glued to the last word («баланс?») asks the same as without it.
    while len(parts) > 1 and parts[-1] == "?":
        parts.pop()
    if parts and parts[-1].endswith("с") and parts[-1] == "с":
        parts.pop()  # «..., с уважением» without a name
    return " ".join(parts)


def match_command(
    norm: str, tokens: list[Token], skip: int = -1
) -> tuple[Command | None, str | None]:
    """The command the whole message asks for, and its ticket number for `status`;
    `skip` is the index of the account's token."""
    slash = _SLASH.fullmatch(norm)
    if slash:
        return _SLASH_COMMANDS.get(slash.group(1)), None
    stripped = norm.strip(" \n.!,;")
    if stripped and set(stripped) <= {"?"}:
        return "help", None
    if stripped == "+":
        return "yes", None
    if stripped in {"-", "--"}:
        return "no", None
    core = command_core(tokens, skip)
    # «статус 12345678»: for `status` a long number is the ticket, not the account.
    full = command_core(tokens) if skip >= 0 else core
    if not core:
        return None, None
    if core in _BARE_NO:
        return "no", None  # a bare «не надо» answers a question; it does not leave the feed
    for command, pattern in _PATTERNS:
        m = pattern.fullmatch(full if command == "status" else core)
        if m:
            if command != "status":
                return command, None
            found = [v for k, v in m.groupdict().items() if k.startswith("ticket") and v]
            return command, found[0] if found else None
    return None, None
