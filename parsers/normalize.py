"""Normalisation and tokenisation of customer text.

The text is first normalised without changing its length (lower case, ё → е, every
dash → ``-``, odd spaces → a space), so that every token keeps the offsets of the
original text: the original is still needed where case carries meaning (initials,
«250 В», «Ленина 31»).

Tokenisation is one master regular expression whose alternatives are tried in a fixed
order at each position. Protected spans (phones, dates, times, money, percentages,
voltages, house and flat numbers, durations and counts, ticket numbers, corrected and
negative values) come first, so their digits are taken before anything is split on
separators and can never become a reading or an account (docs/interfaces.md §5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

# Characters rewritten one for one, so offsets stay valid.
_TRANSLATE: Final = str.maketrans(
    {
        "ё": "е",
        "Ё": "е",
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00ad": " ",
        "\u00a0": " ",
        "\u2007": " ",
        "\u2009": " ",
        "\u200a": " ",
        "\u202f": " ",
        "\t": " ",
        "\r": "\n",
        "\u00b7": "*",
        "\u00d7": "*",
        "\u2116": "№",
    }
)


# Latin letters that look like Cyrillic ones («CЧ», «ЛC», «HЕТ» typed on a mixed
# keyboard or by autocorrect), by their lower-case form.
_LOOKALIKE: Final = str.maketrans(
    {
        "a": "а",
        "c": "с",
        "e": "е",
        "h": "н",
        "k": "к",
        "m": "м",
        "o": "о",
        "p": "р",
        "t": "т",
        "x": "х",
        "y": "у",
    }
)
_HAS_LATIN: Final = re.compile(r"[a-z]")
_HAS_CYRILLIC: Final = re.compile(r"[а-я]")
_LETTER_RUN: Final = re.compile(r"[^\W\d_]+")


def _fold_lookalike_run(m: re.Match[str]) -> str:
    run = m.group()
    # A word mixing both scripts, or a single Latin letter among Cyrillic words
    # («Д4521 H1876», «л/c»); whole Latin words («ok», «kwh», «help») stay as they are.
    if len(run) == 1 or _HAS_CYRILLIC.search(run):
        return run.translate(_LOOKALIKE)
    return run


def normalize(text: str) -> str:
    """Lower-case `text` and fold look-alike characters, keeping its length.

    Offsets in the result are offsets in `text`: a few characters change length when
    lower-cased (``İ``); those are kept as they are.
    """
    lowered = text.lower()
    if len(lowered) != len(text):
        lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    lowered = lowered.translate(_TRANSLATE)
    if _HAS_LATIN.search(lowered) and _HAS_CYRILLIC.search(lowered):
        lowered = _LETTER_RUN.sub(_fold_lookalike_run, lowered)
    return lowered


@dataclass(slots=True)
class Token:
    """One span of the normalised text and what it was recognised as."""

    kind: str
    start: int
    end: int
    text: str
    # Kind-specific details: the digits of an account, the zone of a zone label, the
    # ordinal or serial of a meter label, the number written after a meter label.
    value: str | None = None
    serial: bool = False


NL = r"(?![^\W\d_])"  # not followed by a letter
PL = r"(?<![^\W\d_])"  # not preceded by a letter
ND = r"(?![0-9])"
PD = r"(?<![0-9])"

_MONTHS_FULL = r"(?:январ|феврал|март|апрел|ма[яй]|июн|июл|август|сентябр|октябр|ноябр|декабр)"
_MONTHS_ABBR = r"(?:янв|фев|мар|апр|авг|сент?|окт|нояб?|дек)"

# Order matters: at one position the first alternative that matches wins.
_ALTERNATIVES: Final[list[tuple[str, str]]] = [
    # E-mail addresses and links: their digits are never readings («ivan1985@mail.ru»).
    (
        "link",
        # (each starts only where its run of characters starts: linear on «-----…»)
        r"(?<![a-z0-9._%+\-])[a-z0-9][a-z0-9._%+\-]*@[a-z0-9\-]+(?:\.[a-z0-9\-]+)+"
        r"|(?:https?://|www\.)[^\s,;]+"
        r"|(?<![a-z0-9.\-])" + PL + r"[a-z0-9][a-z0-9\-]*(?:\.[a-z0-9\-]+)*"
        r"\.(?:ru|com|org|net|su|info|рф)(?:/[^\s,;]*)?(?![a-z0-9])",
    ),
    # Greetings whose words would otherwise read as zone labels («Добрый день! 4521»).
    (
        "noise",
        PL + r"(?:добр\w*\s+(?:день|дня|вечер\w*|утр\w*|ноч\w*)|день\s+добр\w*"
        r"|доброго\s+времени\s+суток|хорошего\s+(?:дня|вечера)"
        r"|(?:сегодняшн|текущ|нынешн|вчерашн|следующ|прошл|весь|всю|вс[ея]|цел|втор|трет"
        r"|четверт|пят|кажд|эт|тот|один|рабоч|выходн|какой|который|тот\s+же)\w*\s+"
        r"(?:день|ночь|дня|ночи)|в\s+течени[ея]\s+(?:дня|ночи)|на\s+день|в\s+день"
        r"|днем\s+и\s+ночью|по\s+ночам|по\s+дням"
        # «д. Выльгорт»: before a name, «д.» is деревня, not the day label.
        r"|д\.\s?(?!(?:показ|пок|ноч|нч|дн|ден)[^\W\d_]*)[^\W\d_]{3,})" + NL,
    ),
    # Account labels first: «л.с.» would otherwise read as initials.
    (
        "account",
        PL + r"(?:лицев\w*(?:\s?сч\w*\.?)?|лиц\.?\s?сч\w*\.?|л\s?[./\\]\s?с(?:ч\w*)?\.?"
        r"|л\s?с\s?ч\.?|лс(?:ч\.?)?(?=\s?[0-9№#n:=.\-]|"
        + NL
        + r")|ls"
        + NL
        + r"|l\s?/\s?s"
        + NL
        + r"|абонент\w*(?:\s(?:номер|№))?|номер\s+абонента|ак+аунт\w*"
        + r"|сч[е]т(?:а|у|ом|е)?"
        + NL
        + r"(?=\s?(?:№|n|#|:)?\s?[0-9]{6}))"
        r"(?:\s|№|#|:|=|-|\.|номер|ном\.|n(?=\s?[0-9]))*"
        r"(?P<an>[0-9]+(?:(?:\s?-\s?|\s)[0-9]+)*)?",
    ),
    # «Петрова Н.В. 89121234567»: initials before a number are still initials (they
    # once became the night label of the reading before them); «п.п.» is полупик.
    ("initials", PL + r"(?!п\.\s?п\.)[^\W\d_]\.\s?[^\W\d_]\."),
    (
        "phone",
        r"(?:\+\s?[0-9](?:[\s\-()]{0,2}[0-9]){9,13}" + ND + ")"
        r"|" + PD + r"[78]\s?[\-(]?\s?9[0-9]{2}\s?[\-)]?\s?[0-9]{3}"
        r"\s?-?\s?[0-9]{2}\s?-?\s?[0-9]{2}"
        + ND
        + r"|"
        + PD
        + r"8\s?[\-(]\s?[0-9]{3,5}\s?[\-)]\s?[0-9]{1,3}(?:\s?-?\s?[0-9]{2}){2}"
        + ND
        + r"|"
        + PD
        + r"[0-9]{1,4}(?:-[0-9]{2,3}){2,}"
        + ND
        + r"|"
        + PL
        + r"(?:тел|телефон|моб|сот|tel)\w*\.?\s?(?:номер\s)?:?\s?\+?\(?"
        r"[0-9][0-9\s\-()]{4,}[0-9]"
        + ND
        # «(8212) 21-34-56»: a city code in brackets.
        + r"|\(\s?[0-9]{3,5}\s?\)\s?[0-9]{1,3}(?:\s?-?\s?[0-9]{2}){2}"
        + ND,
    ),
    (
        "date",
        PD
        + r"(?:0?[1-9]|[12][0-9]|3[01])[./](?:0[1-9]|1[0-2])(?:[./](?:20[0-9]{2}|[0-9]{2}))?"
        + ND
        + r"|"
        + PD
        + r"(?:0?[1-9]|[12][0-9]|3[01])-(?:0?[1-9]|1[0-2])-20[0-9]{2}"
        + ND
        + r"|"
        + PD
        + r"(?:0[1-9]|1[0-2])[./]20[0-9]{2}"
        + ND
        + r"|"
        + PD
        + r"20[0-9]{2}[\-./](?:0[1-9]|1[0-2])(?:[\-./](?:0[1-9]|[12][0-9]|3[01]))?"
        + ND
        + r"|"
        + PD
        + r"(?:[12]?[0-9]|3[01])\s?-?\s?(?:го|е|ое|ого)?\s?(?:"
        + _MONTHS_FULL
        + r"\w*|"
        + _MONTHS_ABBR
        + NL
        + r"\.?)"
        r"|"
        + PL
        + _MONTHS_FULL
        + r"\w*\s?(?:20[12][0-9]|[12][0-9])(?:\s?г\w*\.?)?"
        + ND
        + r"|"
        + PD
        + r"(?:20[0-3][0-9]|19[5-9][0-9])\s?(?:г|год\w*|гг)"
        + NL
        + r"\.?"
        r"|" + PD + r"[0-9]{1,2}\s?-?\s?(?:го|ое|ого|числ\w*)" + NL,
    ),
    (
        "time",
        PD
        + r"(?:[01]?[0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])?"
        + ND
        + r"|"
        + PL
        + r"(?:в|с|до|к|около|после)\s(?:[01]?[0-9]|2[0-3])[.][0-5][0-9]"
        + ND
        # «звонить после 18»: an hour after «после»/«около», never a reading
        + r"|"
        + PL
        + r"(?:около|после|позже)\s?(?:[01]?[0-9]|2[0-4])"
        + ND
        + r"(?![.,:][0-9])"
        + r"|"
        + PD
        + r"[0-9]{1,2}(?:[.,][0-9])?\s?-?\s?(?:час\w*|ч|утра|вечера|ночи|дня|мин\w*"
        r"|сек\w*)" + NL + r"\.?",
    ),
    (
        "money",
        PD + r"[0-9]+(?:\s[0-9]{3})*(?:[.,][0-9]{1,2})?\s?(?:руб\w*|р|₽|rub\w*|коп\w*|тыс\w*"
        r"|т\.?\s?р)" + NL + r"\.?"
        r"|" + PL + r"(?:сумм\w*|оплат\w*|оплачен\w*|заплат\w*|внес|внесла|внесли|внесено"
        r"|перевел\w*|перечисл\w*|долг\w*|задолженн\w*|переплат\w*|недоплат\w*|начисл\w*"
        r"|выставил\w*|выставлен\w*|пен[иья]\w*|штраф\w*|к\s+оплате|остат\w*|списал\w*"
        r"|вернуть|возврат\w*|насчита\w*"
        # «а зачли только 200»: the amount credited
        r"|зачл[иа]|зачисл\w*|засчита\w*|учли"
        # «а пришло 3000», «пришла квитанция на 3000»: the bill's amount
        r"|(?:пришл[оаи]|пришел|прислали)(?:\s+(?:сч[её]т\w*|квитанци\w*|платежк\w*))?"
        r"|(?:сч[её]т|квитанци\w*|платежк\w*)(?=\s+на\s)"
        # «это нормально что счёт 5000?»: a bill's amount, never a reading
        r"|сч[её]т(?=\s?[0-9]))"
        r"\s?(?:в\s+размере|на\s+сумму|в\s+сумме|составля\w*|составил\w*|-|:|=|на|в|по|около"
        # An amount has at most 7 digits: «долг 1100234567» names the account; «долг на
        # 25.11» is the debt at a date, not 25 roubles 11 kopecks.
        r"|уже|всего|более|больше|почти|только|лишь)?\s?"
        r"(?!(?<=на\s)(?:0?[1-9]|[12][0-9]|3[01])[./](?:0[1-9]|1[0-2])(?![0-9]))"
        r"(?!(?<=на)(?:0?[1-9]|[12][0-9]|3[01])[./](?:0[1-9]|1[0-2])(?![0-9]))"
        r"[0-9]{1,7}(?:\s[0-9]{3})*(?:[.,][0-9]{1,2})?" + ND,
    ),
    ("percent", PD + r"[0-9]+(?:[.,][0-9]+)?\s?(?:%|процент\w*|проц\.?)"),
    (
        "voltage",
        PD + r"[0-9]{2,3}(?:[.,][0-9])?\s?(?:вольт\w*|v" + NL + r"|в(?=\s*(?:$|[^\w\s])))"
        r"|"
        + PD
        + r"[0-9]{2,3}в"
        + NL
        + r"|"
        + PL
        + r"(?:напряжени\w*|вольтаж\w*)[^0-9\n]{0,25}?[0-9]{2,3}"
        + ND,
    ),
    # «с 4400 до 4521», «от 4400 по 4521»: which end is this month's is not said.
    (
        "range",
        PL + r"(?:с|со|от)\s?[0-9]+(?:[.,][0-9]{1,2})?\s?-?\s?(?:до|по|на)\s?"
        r"[0-9]+(?:[.,][0-9]{1,2})?" + ND,
    ),
    (
        "house",
        PL
        + r"(?:д\.\s?[0-9]{1,3}"
        + ND
        + r"(?:[а-я]"
        + NL
        + r")?(?:\s?[/-]\s?[0-9]{1,3}"
        + ND
        + r")?"
        r"|(?:дом|кв|кварт\w*|корп\w*|корпус|стр|строен\w*|подъезд\w*|под|эт|этаж\w*"
        r"|комн?\w*|уч|участ\w*|к)"
        + NL
        + r"\.?\s?(?:№|n)?\s?[0-9]{1,3}"
        + ND
        + r"(?:[а-я]"
        + NL
        + r")?(?:\s?[/-]\s?[0-9]{1,3}"
        + ND
        + r")?"
        r"|д\s?[0-9]{1,3}" + ND + r"(?:[а-я]" + NL + r")?(?=\s?[,.]?\s?кв)"
        r"|(?:ул|улиц\w*|пр-т|пр|просп\w*|пер|переул\w*|бул\w*|б-р|шоссе|ш|наб|набережн\w*|мкр"
        r"|микрорайон\w*|проезд\w*|тракт\w*|пл|площад\w*|пос|поселок|пгт|село|с|дер|деревня"
        r"|г|город|снт)" + NL + r"\.?\s?"
        # «ул. 8 Марта 12», «ул. 40 лет Победы 3»: a street named with a number
        r"(?:[0-9]{1,3}" + ND + r"(?:\s?-?\s?(?:го|я|й))?\s(?=[^\W\d_]))?"
        # «что с обращением 512»: «с» is no settlement before an appeal's number
        r"(?:(?!(?:показ\w*|пок|день|дн|ночь|ноч\w*|сч\w*|лс|т[123]|кв|д|дом|л|обра[щш]ени\w*"
        r"|заявк\w*|жалоб\w*|заявлени\w*)"
        + NL
        + r")[^\W\d_][^\W\d_]*\.?(?:\s|-)?){1,3}\s?,?\s?(?:(?:д|дом)"
        + NL
        + r"\.?)?\s?"
        r"[0-9]{1,3}" + ND + r"(?:[а-я]" + NL + r")?(?:\s?[/-]\s?[0-9]{1,3}" + ND + r")?)",
    ),
    # «было 4400», «прошлые показания 4400», «(предыдущие 4400)»: an earlier reading,
    # quoted for comparison, is not this month's.
    (
        "previous",
        PL + r"(?:было|были|был|прошл\w*|предыдущ\w*|ранее|старые|последн\w*\s+переданн\w*"
        r"|передавал\w*)"
        r"(?:\s(?:показани\w*|пок\.?|счетчика|были|было|месяц\w*|раз))*\s?[:\-=]?\s?"
        # «(прошлые 4400 и 1800)»: every value of the earlier pair; «было 1 900» is one
        # amount (the «1» alone left «900» behind as a reading)
        r"(?:[0-9]{1,3}(?:\s[0-9]{3})+(?![0-9])|[0-9]+)(?:[.,][0-9]{1,2})?"
        r"(?:\s?(?:и|/)\s?[0-9]+(?:[.,][0-9]{1,2})?)*" + ND,
    ),
    # «передал 5312 вместо 3512»: a value corrected, which of the two is meant for now is
    # for a person to read; «минус 120» is no reading a meter can show.
    (
        "correction",
        PD
        + r"[0-9]{1,7}(?:[.,][0-9]{1,2})?\s?(?:вместо|а\s+не)\s?[0-9]{1,7}(?:[.,][0-9]{1,2})?"
        + ND
        + r"|"
        + PL
        + r"минус\s?[0-9]+(?:[.,][0-9]{1,2})?"
        + ND,
    ),
    # A firm's requisites («ИНН 110123456789») are no account and no reading.
    (
        "requisite",
        PL
        + r"(?:инн|кпп|огрн(?:ип)?|бик|окпо|снилс)"
        + NL
        + r"\.?\s?(?:№|:)?\s?[0-9\- ]{9,17}"
        + ND,
    ),
    # «ошибка Е-03», «код ошибки 21»: an error code shown by a meter is no reading.
    (
        "code",
        PL + r"(?:ошибк[аиуе]|код\s+ошибки|error|err)\s?[:\-]?\s?(?:№\s?)?"
        # (not a zone label: «ошибка, т1 4521» still reads «т1 4521»)
        r"(?:(?![тtдdнnп])[a-zа-я]{1,3}\s?-?\s?)?[0-9]{1,4}" + ND,
    ),
    (
        "ticket",
        PL + r"(?:обра[щш]ени\w*|заявк\w*|жалоб\w*|заявлени\w*|тикет\w*|ticket\w*)\s?"
        r"(?:номер|ном\.|№|n|#)?\s?:?\s?(?P<tk>[0-9]{1,10})" + ND,
    ),
    (
        "meter",
        r"(?:"
        + PD
        + r"(?P<mo1>[1-3])\s?-?\s?(?:й|ый|ой|ий)\s?|"
        + PD
        + r"(?P<mo2>[1-3])\s(?=счетчик(?:\s|:|-|$))|"
        + PL
        + r"(?P<mow>перв|втор|трет)\w*\s)?"
        + PL
        # Letters only after the stem: «счетчик1» is the label and the ordinal 1.
        + r"(?:сч[е]тчик[^\W\d_]*|сч[е]тч\.?|сч\.?(?=\s?(?:№|n|#|[0-9]|:|-|$))"
        r"|(?:пу|pu|sch)(?=\s?(?:№|n|#|[0-9]|:|-|$))|прибор[^\W\d_]*\s+учет[^\W\d_]*"
        r"|прибор[^\W\d_]*|пу"
        + NL
        + r"|зав(?:одск\w*)?\.?\s?(?:номер|ном\.|№|n)|серийн\w*\s?(?:номер|№)|s/?n"
        + NL
        + ")"
        r"(?:\s?(?P<mno>№|n(?=\s?[0-9])|#|номер|ном\.)\s?)?(?:\s?[:\-=]\s?|\s)?"
        r"(?P<mn>[0-9]+(?:[.,][0-9]{1,2}" + ND + r")?" + ND + ")?",
    ),
    # «платёжное поручение № 345», «Меркурий 201 № 0915432»: a number with «№» and no
    # account or meter label before it is a document's or a serial, never a reading.
    ("numbered", r"№\s?(?P<nn>[0-9]+)" + ND),
    (
        "count",
        PD + r"[0-9]+\s?-?\s?(?:сут\w*|дн(?:я|ей|ям|и)|недел\w*|нед|месяц\w*|мес|год(?:а|ов|у)?"
        r"|лет|раз|раза|штук\w*|шт|человек\w*|чел|счетчик(?:а|ов)|прибор(?:а|ов)"
        r"|тарифн\w*|зонн\w*|фаз\w*|квартир|квартиры|комнат|комнаты|кг|км|х|ти|ми)" + NL + r"\.?"
        r"|"
        + PD
        + r"[0-9]+-(?:й|ой|ий|ый|ая|я|го|му|ом|е|ю)"
        + NL
        # «звоню 3 день»: a day count, not the day-zone reading 3 (a real reading has more
        # digits; «день 45» with the label first, and «сч1 день 4521», are still readings)
        + r"|"
        + PD
        + r"[0-9]{1,2}\s?день"
        + NL
        + r"(?!\s?[:=\-]?\s?[0-9])"
        # «расход 121»: a consumption (the difference of two readings), not a reading
        + r"|"
        + PL
        + r"(?:расход\w*|израсходова\w*|потреблени\w*|потребил\w*|нагорел\w*"
        r"|намотал\w*|разниц\w*)\s?(?:за\s+(?:месяц|период)\s?)?(?:составил\w*|-|:|=)?"
        r"\s?[0-9]+(?:[.,][0-9]{1,2})?"
        + ND
        # «счёт 3000 руб за 250 кВт»: the kWh billed for, not a reading
        + r"|"
        + PL
        + r"за\s?[0-9]+(?:[.,][0-9]{1,2})?\s?(?:квт\w*|kwh|kw|киловатт\w*)",
    ),
    (
        "zone",
        PL + r"(?:[тt]\s?[.\-]?\s?(?P<zd>[123])" + ND + r"|[тt](?P<zd2>[123])(?=[0-9]{3})"
        r"|(?:тариф\w*|зон[аы]?)\s?[.\-№]?\s?(?P<zd3>[123])" + ND + ")"
        r"|" + PL + r"(?P<zday>дневн\w*|днев|день|дн[е]м|дн|д|day|den|dn|d)" + NL + r"\.?"
        r"|" + PL + r"(?P<znight>ночн\w*|ночь|ночью|ноч|нч|н|night|noch|n)" + NL + r"\.?"
        r"|" + PL + r"(?P<zsemi>полупиков\w*|полупик|полу-пик|п/п|пп|polupik|pp)" + NL + r"\.?"
        r"|" + PL + r"(?P<zpeak>пиков\w*|пик|peak|pik)" + NL + r"\.?",
    ),
    (
        "unit",
        PL + r"(?:квт\w*(?:\s?[*.\-/]?\s?ч(?:ас\w*)?)?|kwh|kw\s?[*.\-/]?\s?h|kw"
        r"|киловатт\w*(?:\s?-?\s?час\w*)?|кв\.?\s?ч)" + NL + r"\.?",
    ),
    # «4 521», «12 345»: thousands or two numbers; «45 21»: one number split in two.
    (
        "ambig",
        PD + r"(?:[0-9]{1,3}(?:\s[0-9]{3})+|[0-9]{1,2}\s[0-9]{1,2})" + ND + r"(?![.,][0-9])",
    ),
    # No look-behind: a number may follow a label glued to it («т14521»); the scan never
    # starts inside a number, since every digit begins some token.
    ("num", r"[0-9]+(?:[.,][0-9]{1,2}" + ND + ")?"),
    ("word", r"[^\W\d_]+"),
    ("qmark", r"\?"),
]

MASTER: Final = re.compile("|".join(f"(?P<{name}>{body})" for name, body in _ALTERNATIVES))

_ZONE_GROUPS: Final = {
    "zday": "T1",
    "zpeak": "T1",
    "znight": "T2",
    "zsemi": "T3",
}
_ZONE_DIGIT: Final = {"1": "T1", "2": "T2", "3": "T3"}
_ORDINAL_WORD: Final = {"перв": "1", "втор": "2", "трет": "3"}


def _account_run(run: str, account_digits: tuple[int, int]) -> tuple[str, int, bool]:
    """How much of the digit run after an account label is the account.

    Returns the account digits, the length of `run` they take, and whether the next
    group might still belong to the account (then it is no reading either). Groups are
    joined while the account is short of `account_digits[0]`; a first group that is
    already a whole account stands alone («ЛС 12345678 4521»); «1234-567-890» and
    «12 345 678 90» are one number; spaces join chunks of up to four digits only.
    """
    lo, hi = account_digits
    parts = re.findall(r"[0-9]+|[^0-9]+", run)
    digits = parts[0]
    used = len(parts[0])
    i = 1
    while i + 1 < len(parts):
        sep, group = parts[i], parts[i + 1]
        if len(digits) + len(group) > hi:
            break
        if "-" not in sep and (len(parts[0]) > 4 or len(group) > 4):
            # Spaces group an account in short chunks («12 34 56 78 90», «1234 5678»);
            # a longer group after a space is the next number («лс 123456 4521»).
            break
        if len(digits) >= lo and (i == 1 or ("-" not in sep and len(group) > 3)):
            # Written in groups and already long enough: a following long group may be
            # the account's tail or a reading; say less.
            return digits, used, i > 1
        digits += group
        used += len(sep) + len(group)
        i += 2
    return digits, used, False


def tokenize(norm: str, orig: str, account_digits: tuple[int, int] = (8, 12)) -> list[Token]:
    """Split normalised text into tokens; gaps between tokens are separators."""
    tokens: list[Token] = []
    pos = 0
    n = len(norm)
    ambiguous_next = False
    while pos < n:
        m = MASTER.search(norm, pos)
        if m is None:
            break
        kind = m.lastgroup or "word"
        start, end = m.span()
        if end <= start:  # pragma: no cover - every alternative consumes
            pos = start + 1
            continue
        tok = Token(kind, start, end, m.group())
        if kind == "account":
            run = m.group("an")
            if run and _protected_at(norm, m.start("an")):
                # «лс 25.11»: the label is bare, the date stays a date.
                run = None
                tok.end = end = m.start("an")
                tok.text = norm[start:end]
            if run:
                digits, used, unsure = _account_run(run, account_digits)
                ambiguous_next = unsure
                tok.value = digits
                tok.end = m.start("an") + used
                tok.text = norm[start : tok.end]
            else:
                tok.kind = "account_label"
        elif kind == "ticket":
            tok.value = m.group("tk")
        elif kind == "numbered":
            tok.value = m.group("nn")
        elif kind == "meter":
            ordinal = m.group("mo1") or m.group("mo2")
            if ordinal is None and m.group("mow"):
                ordinal = _ORDINAL_WORD[m.group("mow")]
            number = m.group("mn")
            if number is not None and _protected_at(norm, m.start("mn")):
                # «счётчик 25.11 поверили»: a date after the label stays a date.
                number = None
                tok.end = end = m.start("mn")
                tok.text = norm[start:end]
            if number is not None and len(number) == 1 and ordinal is None:
                # «сч1», «счётчик 2:»: a single digit right after the label is an ordinal.
                ordinal, number = number, None
            tok.value = ordinal
            if number is not None:
                # The number after the label: a serial or a reading, decided later.
                tok.kind = "meter_num"
                tok.serial = bool(m.group("mno"))
                tokens.append(Token("meter", start, m.start("mn"), "", ordinal))
                tok = Token("meter_num", m.start("mn"), end, number, ordinal, tok.serial)
        elif kind == "zone":
            digit = m.group("zd") or m.group("zd2") or m.group("zd3")
            if digit:
                tok.value = _ZONE_DIGIT[digit]
            else:
                for group, zone in _ZONE_GROUPS.items():
                    if m.group(group):
                        tok.value = zone
                        break
        if (
            kind == "num"
            and tokens
            and tokens[-1].kind in PROTECTED
            and tokens[-1].end == start - 1
            and norm[start - 1] in ".,:/-"
        ):
            # «д 01.01»: what a protected span left of a date or a phone is no number.
            tok.kind = "fragment"
        elif ambiguous_next and kind == "num":
            tok.kind = "ambig"
            ambiguous_next = False
        elif kind != "account":
            ambiguous_next = False
        tokens.append(tok)
        pos = tok.end
    _mark_addresses(tokens, orig)
    _mark_volts(tokens, orig)
    return tokens


# Mains voltages a customer may quote («250 В в розетке»), in volts.
_VOLTS: Final = range(100, 421)


def _mark_volts(tokens: list[Token], orig: str) -> None:
    """«у нас 250 В в розетке»: a capital «В» after a mains voltage is the unit, though a
    word follows (lower case, «в» is the preposition: «4521 в 14:30»). ALL CAPS text
    carries no such cue."""
    if "В" not in orig:
        return
    for tok, unit in zip(tokens, tokens[1:], strict=False):
        if (
            tok.kind == "num"
            and unit.kind == "word"
            and orig[unit.start : unit.end] == "В"
            and tok.text.isdigit()
            and int(tok.text) in _VOLTS
            and orig[tok.end : unit.start].isspace()
            and not _shouted(orig)
        ):
            tok.kind = "voltage"


def _shouted(orig: str) -> bool:
    """Whether `orig` is mostly capital letters (no case cue can be read from it)."""
    return sum(c.isupper() for c in orig) * 2 > sum(c.isalpha() for c in orig)


# Spans that win over the number after an account or meter label. Phones do not: a
# labelled «1234-567-890» is an account written with dashes.
_PROTECTED_AFTER_LABEL: Final = frozenset({"date", "time", "money", "percent", "voltage", "count"})
# Spans whose tail, cut off by a separator, must not be read on its own.
PROTECTED: Final = frozenset(
    {
        "phone",
        "date",
        "time",
        "money",
        "percent",
        "voltage",
        "house",
        "count",
        "ambig",
        "ticket",
        "previous",
        "range",
        "numbered",
        "requisite",
        "correction",
        "code",
        "link",
    }
)


def _protected_at(norm: str, pos: int) -> bool:
    """Whether a date, a time, an amount, … starts at `pos`."""
    m = MASTER.match(norm, pos)
    return m is not None and m.lastgroup in _PROTECTED_AFTER_LABEL


def _mark_addresses(tokens: list[Token], orig: str) -> None:
    """«Ленина 31»: a short number after a capitalised word of no meaning to us is a
    house number, not a reading (docs/interfaces.md §5). ALL CAPS text carries no such cue."""
    for i in range(1, len(tokens)):
        tok, prev = tokens[i], tokens[i - 1]
        if tok.kind != "num" or prev.kind != "word" or len(tok.text) > 3:
            continue
        if not orig[prev.end : tok.start].isspace():
            continue
        word = orig[prev.start : prev.end]
        if len(word) < 3 or not word[0].isupper() or not word[1:].islower():
            continue
        if prev.text in _NOT_ADDRESS_WORDS or prev.text.startswith(_NOT_ADDRESS_PREFIXES):
            continue
        if i >= 2 and tokens[i - 2].kind in {"zone", "meter", "meter_num", "num"}:
            continue
        tok.kind = "house"
        # «Ленина 31-5», «Ленина 31/2»: the flat or the building goes with the house.
        if (
            i + 1 < len(tokens)
            and tokens[i + 1].kind == "num"
            and len(tokens[i + 1].text) <= 3
            and orig[tok.end : tokens[i + 1].start].strip() in {"-", "/"}
        ):
            tokens[i + 1].kind = "house"


_NOT_ADDRESS_WORDS: Final = frozenset(
    {
        "итого",
        "было",
        "стало",
        "сейчас",
        "всего",
        "вот",
        "передаю",
        "передаем",
        "сегодня",
        "здравствуйте",
        "привет",
        "спасибо",
        "итог",
        "ответ",
        "расход",
        "данные",
    }
)
# «Статус 77»: the number after a command word is a ticket or an account, no house
# (a capitalised «Статус» with a two-digit ticket was `unknown`).
_NOT_ADDRESS_PREFIXES: Final = (
    "показ",
    "пок",
    "счет",
    "свет",
    "электр",
    "прибор",
    "статус",
    "status",
    "баланс",
    "обращ",
    "заявк",
    "номер",
)
