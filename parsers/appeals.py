"""Appeal classifier: free text → one of the contract's appeal categories.

Rules are written over lemmas (pymorphy3), so that «отключили», «отключат» and
«отключить» are one word to them; a rule fires when each of its groups has a lemma in
the message, and adds its weight to its category. Words the dictionary does not know
(typos: «напряжееие», «атключили») are matched to the rules' vocabulary with the
`regex` module's fuzzy matching. Lemmas are cached: a gateway sees the same few
thousand words again and again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import regex  # type: ignore[import-untyped,unused-ignore]

from parsers import budget
from parsers.budget import LOOKUPS
from parsers.intent import APPEAL_CATEGORIES, AppealCategory

# A category needs this score to make a message an appeal even when it holds numbers.
STRONG: Final = 2

# «category weight: a b + c d» fires when the message has a lemma of the first group (a
# or b) and one of the second (c or d). «- e f» at the end is negative evidence: the rule
# does not fire when the message has e or f («свет моргает, когда включаю чайник» is no
# question of when the power comes back). An indented line continues the rule above.
_RULES_TEXT: Final = """
outage 3: нет нету без пропасть пропадать отключить отключать отсутствовать отсутствие вырубить
    выключить вырубать отрубить
    погаснуть гаснуть потухнуть тухнуть отключиться выбить выбивать + свет электричество
    электроэнергия энергия электроснабжение ток - комиссия
outage 3: дать давать включить включать появиться вернуть восстановить + свет электричество
    электроэнергия энергия электроснабжение ток + когда скоро сколько долго не ли опять снова
    будет ждать почему где нет нету - моргать мигать мерцать
outage 3: выбить выбивать вышибить + пробка автомат
outage 2: отключение обесточить обесточение обесточивание авария аварийный блэкаут
outage 2: отключить отключать отключиться + дом улица деревня поселок район весь квартира
    подстанция линия
outage 3: нет нету без пропасть отсутствовать + напряжение фаза
outage 3: обрыв оборвать оборваться упасть порвать порваться повалить лежать искрить висеть
    провиснуть сгореть гореть дымить + провод линия столб трансформатор подстанция кабель опора
    - дозвониться звонить позвонить телефон оператор трубка
outage 2: темнота темно + сидеть весь опять снова час день
outage 2: свет + когда сколько опять снова вчера утро ночь час - моргать мигать мерцать
outage 1: свет электричество
outage 2: темно темнота + деревня дом улица подъезд квартира поселок район
power_quality 3: напряжение + низкий высокий скакать прыгать падать упасть плавать маленький
    слабый пониженный повышенный перепад скачок нестабильный просесть проседать недостаточный
    ниже выше мало маленький норма скачка падение низко плохой
power_quality 2: перепад скачок просадка пониженный повышенный - тон голос разговаривать
power_quality 3: моргать мигать мерцать мигание моргание мерцание тусклый тускло моргнуть
    мигнуть плавать полнакал вполнакала + свет лампа лампочка освещение
power_quality 2: моргать мигать мерцать мигание моргание мерцание
power_quality 5: тухнуть потухнуть гаснуть погаснуть пропадать пропасть отключаться выключаться
    + загораться загореться зажигаться зажечься появляться появиться включаться + то
power_quality 4: сгореть сгорать погореть выйти испортиться сломаться вылететь полететь
    перегореть накрыться сжечь + холодильник телевизор техника бытовой котел насос компьютер
    стиральный машинка лампа лампочка микроволновка микроволновый роутер бойлер телевизора блок
    плата электроника морозилка кондиционер обогреватель чайник плита ноутбук приставка
    водонагреватель электроприбор
power_quality 2: вольт вольтаж напряжение - норм
power_quality 2: холодильник насос котел + не + работать включаться запускаться тянуть
    запустить
billing 2: счет квитанция платежка начисление сумма платежный + большой огромный завышенный
    завысить неправильный неверный ошибка почему непонятный странный много выше дорого большой
    откуда космический бешеный увеличиться вырасти неверно неправильно ошибочный чужой
billing 2: начислить начисление начислять доначислить доначисление насчитать насчитывать
billing 2: оплата + почему откуда зачем
billing 2: выставить выставлять + счет квитанция сумма
billing 2: руб рубль + ошибка ошибочный неправильный неверный почему откуда много дорого
billing 2: норматив среднемесячный средний нормативный
billing 3: перерасчет пересчитать перерасчитать пересчет перерасчитывать
billing 3: квитанция счет платежка + не перестать + прийти получить приходить получать доставить
    доходить прислать
billing 3: исправить поправить ошибиться ошибочно неправильно неверно опечатка ошибка ошибочный
    неправильный неверный исправление скорректировать корректировка перепутать + показание
    - бояться опасаться страшно
billing 2: оплатить заплатить платить + прийти прислать выставить насчитать
billing 3: показание + квитанция счет платежка + другой неправильный неверный совпадать
billing 3: вместо + исправить исправление ошибиться ошибка опечатка перепутать ошибочно
    неправильно неверно - оплатить заплатить оплата платеж перевести
billing 3: посчитать насчитать рассчитать подсчитать начислить + неправильно неверно ошибочно
    ошибка неправильный неверный
billing 2: нажечь нагореть намотать нажигать наматывать
billing 2: тариф + почему повысить изменить неправильный какой поднять повышение вырасти
billing 2: пеня пени
billing 2: долг задолженность + откуда почему ошибка неправильный согласный непонятный взяться
billing 3: отключить отключение ограничение ограничить + долг задолженность неуплата неоплата
payment 3: оплата платеж оплатить заплатить деньги деньга перевод перевести оплачивать платить
    средство внести поручение + не + поступить пройти зачислить отразиться учесть прийти дойти
    видно засчитать зачесть отображаться учитываться поступать отражаться отразить прислать
    измениться уменьшиться поменяться
payment 5: оплатить заплатить оплата платеж оплачивать платить внести + долг задолженность висеть
    минус числиться показывать отрицательный
payment 3: дважды двойной повторно двойной двое два лишний + оплатить списать заплатить платеж
    оплата списание оплачивать
payment 3: оплатить заплатить внести перевести + оплата платеж деньги деньга + нет нету не
payment 3: возврат вернуть возвратить + деньги деньга переплата оплата средство платеж сумма
payment 2: переплата переплатить
payment 3: оплатить заплатить внести перевести оплата платеж + зачесть зачислить учесть
    засчитать поступить + только часть половина
payment 3: оплатить заплатить перевести оплата платеж оплачивать деньги деньга + чужой другой
    ошибочно ошибка тот неправильный неверный ошибиться туда
meter 3: счетчик прибор пу + сломаться сгореть крутиться мотать остановиться разбить треснуть
    неисправный неисправность поломка сломать сломанный заменить замена поменять менять
    установить установка поверка поверить пломба опломбировать опломбирование перейти сгорать
    погаснуть моргать мигать мигание мерцать врать накручивать дымиться пахнуть горелый гарь дым
    плавиться перегореть украсть заменять ставить поставить истечь закончиться срок вынести
    перенести отключить снять распломбировать строй минус отрицательный принести
meter 3: счетчик прибор пу + гудеть гудение греться нагреваться нагреться горячий щелкать
    трещать треск пищать пищит нагрев запах оплавиться искрить искра перестать жужжать
meter 3: поверка опломбировать опломбирование пломба распломбировать распломбировка
    опломбировка межповерочный поверить
meter 3: многотарифный двухтарифный двухзонный трехтарифный трехзонный однотарифный многозонный
    + перейти установить поставить переход хотеть заменить поменять
meter 3: счетчик прибор пу экран дисплей табло + ошибка error код + показывать выдавать
    высвечивать выдать высветить гореть писать
meter 3: экран дисплей табло индикатор + ошибка error код
meter 3: экран дисплей табло индикатор цифра счетчик лампочка + не + гореть показывать работать
    видно мигать моргать
billing 1: счетчик + неправильно неверно быстро много
contract 3: переоформить переоформление оформить оформление заключить заключение расторгнуть
    расторжение закрыть открыть смена сменить поменять изменить перевести переписать завести +
    договор лицевой собственник владелец хозяин фио фамилия абонент
contract 3: переоформить переоформление расторгнуть расторжение
contract 2: собственник владелец наследство наследник наследовать
contract 2: купить продать купля продажа + дом квартира дача участок жилье
contract 2: документ справка + нужный какой необходимый нужно надо принести список предоставить
    перечень
contract 2: умереть смерть скончаться умерший покойный
contract 1: договор
service_complaint 3: хамить нахамить хамство грубить нагрубить грубый грубо невежливый хам
    хамка наорать орать хамский грубиян нахамить хамло
service_complaint 2: очередь
service_complaint 3: бросить положить + трубка
service_complaint 3: дозвониться дозваниваться + не невозможно нельзя
service_complaint 3: не никто нет никакой ни + отвечать ответить ответ брать реагировать
    перезвонить прийти + трубка
    телефон письмо обращение звонок жалоба заявление заявка запрос почта сообщение оператор
    приемная сайт писать написать
service_complaint 2: не никто + ответить отвечать перезвонить реагировать
service_complaint 3: контролер инспектор сотрудник сотрудница оператор мастер специалист монтер
    электрик кассир кассирша девушка работник менеджер персонал + хамить грубый нахамить поведение
    пьяный угрожать голос кричать накричать тон
    обмануть нагрубить вести грубить хамство неприемлемый безобразный некомпетентный
    некомпетентность отказаться отказать послать требовать вымогать удостоверение
service_complaint 3: оператор сотрудник сотрудница специалист консультант кассир менеджер
    работник персонал + ничего + знать разбираться - я мы
service_complaint 3: контролер инспектор сотрудник мастер монтер электрик + прийти - когда
service_complaint 2: безобразие возмутительно
service_complaint 2: не + принять + заявление документ обращение заявка
service_complaint 2: обслуживание + плохой ужасный отвратительный некачественный безобразный
service_complaint 2: жалоба пожаловаться жаловаться
service_complaint 3: обещать сказать + перезвонить позвонить ждать прийти ответить сделать + пройти
    тишина никто
service_complaint 3: офис касса отделение + нет нету не + бланк ручка образец никто
service_complaint 3: ответить ответ + обращение письмо жалоба заявление заявка запрос + ждать
    неделя месяц долго
other 3: поблагодарить благодарность благодарить благодарный спасибо признательный
    признательность + сотрудник сотрудница контролер инспектор оператор мастер бригада электрик
    специалист персонал работник коллектив монтер офис оперативность помощь работа быстрый
    оперативный девушка консультант кассир менеджер ребята вежливость отзывчивость внимание
other 2: напоминание напоминать + сделать добавить присылать прислать хотеть удобно удобный
    можно предложить предлагать хотеться бот здорово хорошо пожалуйста срок
other 3: предложение предлагать предложить пожелание предлагаю
other 3: бот сайт приложение кабинет + не + принимать принять работать отправлять отправляться
    передаваться проходить пройти уходить
other 2: продавать продать купить покупать приобрести + вы вам ваш - дом квартира дача участок
    жилье
other 2: персональный + дать данные данный
other 3: воровать украсть кража хищение воровство + свет электричество электроэнергия ток
other 2: отозвать + согласие
other 2: хотеться удобно удобный сделать добавить + приложение сайт бот кабинет оплата
    возможность
other 1: вопрос подсказать узнать интересовать разъяснить объяснить просьба помочь почему зачем
    прошу просить разъяснение консультация уточнить можно ли вакансия трудоустройство
    обращаться обратиться
"""

# Tie-break: the category that needs the faster answer first (docs/architecture.md: 24 hours for
# outage and power quality).
_PRIORITY: Final = {category: i for i, category in enumerate(APPEAL_CATEGORIES)}


_Rule = tuple[AppealCategory, int, tuple[frozenset[str], ...], frozenset[str]]


def _load_rules() -> list[_Rule]:
    joined = re.sub(r"\n\s+", " ", _RULES_TEXT.strip())
    rules: list[_Rule] = []
    for line in joined.splitlines():
        head, body = line.split(":", 1)
        name, weight = head.split()
        category = next(c for c in APPEAL_CATEGORIES if c == name)
        body, _, unless = body.partition(" - ")
        groups = tuple(frozenset(g.split()) for g in body.split("+"))
        rules.append((category, int(weight), groups, frozenset(unless.split())))
    return rules


_RULES: Final = _load_rules()


def _index_rules() -> dict[str, list[int]]:
    index: dict[str, list[int]] = {}
    for i, rule in enumerate(_RULES):
        for word in rule[2][0]:
            index.setdefault(word, []).append(i)
    return index


_FIRST_GROUP_INDEX: Final = _index_rules()
VOCABULARY: Final = frozenset(
    lemma for _, _, groups, unless in _RULES for g in (*groups, unless) for lemma in g
)

_WORD: Final = re.compile(r"[а-яё]+")
# Short function words: lemmatising them costs time and they are their own lemma.
_SELF: Final = frozenset({"не", "нет", "без", "ли", "и", "а", "в", "на", "с", "по", "за", "у"})


@lru_cache(maxsize=1)
def _morph() -> Any:
    """The pymorphy3 analyser, loaded at first use (its dictionary takes a moment)."""
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


@dataclass(frozen=True, slots=True)
class _FuzzyIndex:
    """Fuzzy patterns for the vocabulary, and which of them a word may match at all.

    A stem is the lemma less its last two letters; an unknown word matches when it is
    the stem with one edit (two for long stems) and an ending of up to five letters.
    Each insertion, deletion or substitution breaks at most two of the stem's letter
    pairs, so a word that shares fewer than `needed` distinct pairs with a stem cannot
    match it and its pattern is not tried (the same answer, for a fraction of the work).
    """

    lemmas: tuple[str, ...]
    stem_lengths: tuple[int, ...]
    patterns: tuple[Any, ...]
    needed: tuple[int, ...]  # distinct letter pairs of the stem a match must keep
    by_pair: dict[str, tuple[int, ...]]  # letter pair → the patterns whose stem has it
    always: tuple[int, ...]  # patterns with nothing needed (short stems, two edits)


def _pairs(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


@lru_cache(maxsize=1)
def _fuzzy_index() -> _FuzzyIndex:
    lemmas: list[str] = []
    lengths: list[int] = []
    patterns: list[Any] = []
    needed: list[int] = []
    by_pair: dict[str, list[int]] = {}
    for word in sorted(VOCABULARY):
        if len(word) < 6:
            continue
        stem = word[:-2]
        edits = 2 if len(stem) >= 9 else 1
        pairs = _pairs(stem)
        for pair in pairs:
            by_pair.setdefault(pair, []).append(len(lemmas))
        lemmas.append(word)
        lengths.append(len(stem))
        patterns.append(regex.compile(f"(?:{stem}){{e<={edits}}}[а-я]{{0,5}}"))
        needed.append(len(pairs) - 2 * edits)
    return _FuzzyIndex(
        tuple(lemmas),
        tuple(lengths),
        tuple(patterns),
        tuple(needed),
        {pair: tuple(found) for pair, found in by_pair.items()},
        tuple(i for i, need in enumerate(needed) if need <= 0),
    )


def _fuzzy_guess(word: str) -> str | None:
    """The vocabulary lemma `word` is a typo of (the fewest edits; the first in
    alphabetical order among equals), or None."""
    LOOKUPS.guesses += 1
    index = _fuzzy_index()
    shared: dict[int, int] = dict.fromkeys(index.always, 0)
    for pair in _pairs(word):
        for i in index.by_pair.get(pair, ()):
            shared[i] = shared.get(i, 0) + 1
    best: tuple[int, str] | None = None
    for i in sorted(shared):
        if shared[i] < index.needed[i] or not 0 <= len(word) - index.stem_lengths[i] + 2 <= 7:
            continue
        m = index.patterns[i].fullmatch(word)
        if m is not None:
            cost = sum(m.fuzzy_counts)
            if best is None or cost < best[0]:
                best = (cost, index.lemmas[i])
    return best[1] if best else None


_LONGEST_WORD: Final = 40
# Compounds the rules know by their head word.
_SYNONYMS: Final = {"электросчетчик": "счетчик", "электросчетчика": "счетчик"}

# Typos that happen to be other dictionary words, so pymorphy3 takes them at face value.
# «пеня» is first «пенить» (foaming) to the dictionary.
# «норм» is «fine» to a customer («напряжение 220 В норм»), a plural of «норма» to the
# dictionary («ниже нормы» is a complaint).
_KNOWN_TYPOS: Final = {
    "свита": "свет",
    "щетчик": "счетчик",
    "щет": "счет",
    "пеня": "пеня",
    "норм": "норм",
}


# Words remembered by each per-word cache: a gateway's customers use a few tens of
# thousands of distinct words; a flood of novel ones pushes the oldest out instead of
# growing the memory (each entry is a few hundred bytes).
_WORDS_CACHED: Final = 32_768


@lru_cache(maxsize=1_024)
def _analysis(word: str) -> tuple[str, bool]:
    """The lemma of `word` and whether it is a verb in the past tense: one pymorphy3
    analysis serves both (they are asked about the same word within one message)."""
    LOOKUPS.analyses += 1
    parses = _morph().parse(word)
    tag = parses[0].tag
    return _lemma_of(word, parses), tag.POS == "VERB" and "past" in tag


def _lemma_of(word: str, parses: list[Any]) -> str:
    parse = parses[0]
    normal: str = parse.normal_form.replace("ё", "е")
    normal = _SYNONYMS.get(normal, normal)
    if normal not in VOCABULARY:
        # «оборван»: a short adjective to the dictionary first («оборванный», ragged),
        # the participle of «оборвать» to a customer («провод оборван»).
        for other in parses[1:]:
            verb: str = other.normal_form.replace("ё", "е")
            if {"PRTS", "PRTF"} & {other.tag.POS} and verb in VOCABULARY:
                return verb
    # (`_is_known` is `parse.is_known` for a lower-case word, and remembered)
    if _is_known(word) or len(word) < 6 or normal in VOCABULARY:
        return normal
    return _fuzzy_guess(word) or normal


def lemma(word: str) -> str:
    """The dictionary form of a lower-case Russian word (ё as е); typos of the rules'
    vocabulary map to the word meant. A word beyond the message's look-up budget
    (`parsers.budget`) is its own lemma."""
    if word in _SELF or len(word) < 3 or len(word) > _LONGEST_WORD:
        # Run-together letters («уведомленияуведомления…») are no word: pymorphy3's
        # prefix analysis recurses once per letter and would overflow the stack.
        return word
    if word in _KNOWN_TYPOS:
        return _KNOWN_TYPOS[word]
    allowed = budget.allowed()
    return _lemma(word) if allowed is None or word in allowed else word


@lru_cache(maxsize=_WORDS_CACHED)
def _lemma(word: str) -> str:
    return _analysis(word)[0]


_LATIN: Final = re.compile(r"[a-z']+")
_TRANSLIT: Final = re.compile(r"shch|sch|sh|ch|zh|kh|ts|yo|yu|ya|[a-z']")
_TRANSLIT_MAP: Final = {
    "shch": "щ", "sch": "щ", "sh": "ш", "ch": "ч", "zh": "ж", "kh": "х", "ts": "ц",
    "yo": "е", "yu": "ю", "ya": "я", "a": "а", "b": "б", "v": "в", "g": "г", "d": "д",
    "e": "е", "z": "з", "i": "и", "k": "к", "l": "л", "m": "м", "n": "н", "o": "о",
    "p": "п", "r": "р", "s": "с", "t": "т", "u": "у", "f": "ф", "h": "х", "c": "ц",
    "w": "в", "x": "х", "j": "й", "q": "к", "'": "ь",
}  # fmt: skip
_VOWELS: Final = frozenset("aeiouy")
_INFINITIVE: Final = re.compile(r"[a-z]{3}(?:a|i|y)t$")


# Latin words the command wordings know as they are (English, or a brand written in
# Latin): never read as translit («no» is not «но», «email» not «емаил»).
LATIN_KEPT: Final = frozenset(
    {
        "yes",
        "y",
        "no",
        "ok",
        "okay",
        "please",
        "balance",
        "offices",
        "email",
        "mail",
        "gmail",
        "max",
    }
)
_TRANSLIT_LONGEST: Final = 20
# Translit loses what Latin has no letter for: the soft sign («bolshe», «obrashalas»),
# щ written as «sh» («soobshenii»), э as «e» («etot»), й as «i» («novostei», «pozhaluista»). When
# the letter-for-letter reading is no dictionary word, these are put back, one kind of
# repair at a time and together, and the first dictionary word wins.
_SOFT_END: Final = re.compile(r"(?<=[лтсдзнрмвпчшщ])$")
_REFLEXIVE: Final = re.compile(r"ця$")
_SOFT_INSIDE: Final = re.compile(r"(?<=л)(?=[бвгджзклмнпрстфхцчшщ])")
_VOWEL_I: Final = re.compile(r"(?<=[аеоуыяю])и(?=[бвгджзклмнпрстфхцчшщ]|$)")


def _translit_repairs(word: str) -> list[str]:
    variants = [word]
    for repair in (
        lambda w: w.replace("ш", "щ"),
        lambda w: "э" + w[1:] if w.startswith("е") else w,
        lambda w: _SOFT_INSIDE.sub("ь", w),
        lambda w: _SOFT_END.sub("ь", w),
        lambda w: _VOWEL_I.sub("й", w),
        # «-tsya» is «-ться» or «-тся» («podpisatsya», «otpisatsya»)
        lambda w: _REFLEXIVE.sub("ться", w),
        lambda w: _REFLEXIVE.sub("тся", w),
    ):
        variants += [v for v in map(repair, variants) if v not in variants]
    return variants


# Words of everyday speech, dialects and the region's other languages (Tatar, Komi,
# Ukrainian) that customers mix into Russian, as the Russian word the rules know: «чаво
# тут писать» asks what to write, «Свет юк» says there is no power, «лічильник
# зламався» that the meter broke. Exact written forms (lower case, ё as е): a word the
# dictionary cannot see through (letters outside Russian, or a speech form it lacks).
REGIONAL: Final = {
    # everyday Russian and dialects
    "чаво": "что", "чево": "что", "чо": "что", "че": "что", "шо": "что", "што": "что",
    "ничо": "ничего", "ниче": "ничего", "скока": "сколько", "скоко": "сколько",
    "куды": "куда", "тута": "тут", "щас": "сейчас",
    "напруга": "напряжение", "напруги": "напряжения", "напругу": "напряжение",
    "напруге": "напряжении", "напругой": "напряжением",
    # Ukrainian
    "ні": "нет", "немає": "нет", "нема": "нет", "скільки": "сколько",
    "винна": "должна", "винен": "должен", "борг": "долг", "допомога": "помощь",
    "дякую": "спасибо", "світло": "свет", "світла": "света", "світлом": "светом",
    "світиться": "светится", "показання": "показания", "лічильник": "счетчик",
    "лічильника": "счетчика", "лічильнику": "счетчику", "зламався": "сломался",
    "зламаний": "сломанный",
    # Tatar
    "әйе": "да", "әе": "да", "юк": "нет", "дөрес": "верно", "ярдәм": "помощь",
    "рәхмәт": "спасибо", "рахмат": "спасибо", "исәнмесез": "здравствуйте",
    "сәлам": "привет",
    # Komi
    "аттьӧ": "спасибо", "аттьо": "спасибо",
}  # fmt: skip


def cyrillic(word: str) -> str:
    """A Latin-letter word read as Russian written in translit, as old phones send it
    («net sveta» → «нет света», «bolshe» → «больше»), and a word of `REGIONAL` as its
    Russian; other words unchanged, and a Latin word beyond the message's look-up budget
    stays as it is (noise to the rules)."""
    if word in REGIONAL:
        return REGIONAL[word]
    allowed = budget.allowed()
    return _cyrillic(word) if allowed is None or word in allowed else word


@lru_cache(maxsize=_WORDS_CACHED)
def _cyrillic(word: str) -> str:
    if not _LATIN.fullmatch(word):
        return word
    plain = _letters(word)
    if len(word) > _TRANSLIT_LONGEST:
        return plain
    LOOKUPS.translits += 1
    if _morph().word_is_known(plain):
        return plain
    for variant in _translit_repairs(plain)[1:]:
        if _morph().word_is_known(variant):
            return variant
    return plain


def fold_latin(word: str) -> str:
    """`word` for the command wordings: a whole Latin word as Cyrillic («da» → «да»),
    except the English and brand words they know as written."""
    return word if word in LATIN_KEPT else cyrillic(word)


def _letters(word: str) -> str:
    out: list[str] = []
    for m in _TRANSLIT.finditer(word):
        chunk = m.group()
        if chunk == "y":
            before = word[m.start() - 1] if m.start() else ""
            after = word[m.end()] if m.end() < len(word) else ""
            out.append("й" if before in _VOWELS and after not in _VOWELS else "ы")
        else:
            out.append(_TRANSLIT_MAP[chunk])
    if _INFINITIVE.search(word):
        out.append("ь")  # «peredat» is «передать»: translit drops the soft sign
    return "".join(out)


# -л, -ла, -ло, -ли, -лся, -лась, …: the endings of the past tense of almost every verb
_PAST_ENDING: Final = re.compile(r"^[а-я]+л(?:[аои]?с[ья]|[аои])?$")


def past_tense(word: str) -> bool:
    """Whether a lower-case word is most likely a verb in the past tense («подавала»);
    a word beyond the message's look-up budget is not."""
    if not _PAST_ENDING.search(word) or len(word) > _LONGEST_WORD:
        return False  # (the ending first: the dictionary is asked only when it may be)
    allowed = budget.allowed()
    return (allowed is None or word in allowed) and _past(word)


@lru_cache(maxsize=_WORDS_CACHED)
def _past(word: str) -> bool:
    return _analysis(word)[1]


# What a word costs to look up (`_kind`): nothing, a dictionary analysis, a guess (an
# analysis by analogy and a fuzzy match), or first a reading as translit (a Latin word;
# one over `_TRANSLIT_LONGEST` letters is read letter for letter, without the dictionary).
_FREE, _DICTIONARY, _GUESS, _READ_LATIN, _LONG_LATIN = range(5)


@lru_cache(maxsize=_WORDS_CACHED)
def _kind(written: str) -> tuple[str, int]:
    """The word `lemma` and `past_tense` are asked about for `written` (ё as е), and
    what looking it up costs."""
    written = REGIONAL.get(written, written)
    if _LATIN.fullmatch(written):
        return written, _READ_LATIN if len(written) <= _TRANSLIT_LONGEST else _LONG_LATIN
    word = written.replace("ё", "е")
    if (
        not _WORD.fullmatch(word)
        or word in _SELF
        or word in _KNOWN_TYPOS
        or len(word) > _LONGEST_WORD
        or (len(word) < 3 and not _PAST_ENDING.search(word))
    ):
        return word, _FREE
    return word, _DICTIONARY if _is_known(word) else _GUESS


@lru_cache(maxsize=_WORDS_CACHED)
def _is_known(word: str) -> bool:
    LOOKUPS.checks += 1
    return bool(_morph().word_is_known(word))


# A message with no more distinct words than this is within every budget.
_SURELY_WITHIN: Final = min(budget.DICTIONARY_WORDS, budget.GUESSED_WORDS, budget.TRANSLIT_WORDS)


def plan_lookups(words: Iterable[str]) -> budget.Plan:
    """The words of one message that may be looked up (`parsers.budget`): its distinct
    words in the order given, each Latin one read as translit first, until a budget is
    spent. `words` must hold every word the parser may ask about."""
    distinct = dict.fromkeys(words)
    if len(distinct) <= _SURELY_WITHIN:
        return budget.COMPLETE
    left = [0, budget.DICTIONARY_WORDS, budget.GUESSED_WORDS, budget.TRANSLIT_WORDS, 0]
    allowed: set[str] = set()
    seen: set[str] = set()
    complete = True
    for examined, written in enumerate(distinct):
        if examined == budget.EXAMINED_WORDS or not any(left):
            complete = False
            break  # nothing more can be allowed
        word, kind = _kind(written)
        if kind in (_READ_LATIN, _LONG_LATIN):
            if kind == _READ_LATIN:
                if not left[_READ_LATIN]:
                    complete = False
                    continue
                left[_READ_LATIN] -= 1
            allowed.add(written)
            word, kind = _kind(_cyrillic(written))
        if word in seen or kind == _FREE:
            continue
        seen.add(word)
        if not left[kind]:
            complete = False
            continue
        left[kind] -= 1
        allowed.add(word)
    return budget.Plan(frozenset(allowed), complete) if not complete else budget.COMPLETE


def lemmas(words: Iterable[str]) -> frozenset[str]:
    """Lemmas of the Cyrillic words among `words`; Latin words are read as translit."""
    found = (cyrillic(w).replace("ё", "е") for w in words)
    return frozenset(lemma(w) for w in found if _WORD.fullmatch(w))


def word_lemma(word: str) -> str | None:
    """The lemma `lemmas` takes from one word (None: no Russian word, even as translit)."""
    found = cyrillic(word).replace("ё", "е")
    return lemma(found) if _WORD.fullmatch(found) else None


# «свет дали, спасибо»: news that the power is back, not an outage appeal (the weak
# «свет» rule made it one). Asked or denied («когда дадут», «не дали») it is an appeal.
_RESTORED: Final = frozenset({"дать", "включить", "появиться", "вернуть", "восстановить"})
_POWER: Final = frozenset({"свет", "электричество", "электроэнергия", "электроснабжение"})
_ASKED: Final = frozenset(
    {
        "когда",
        "скоро",
        "сколько",
        "долго",
        "не",
        "ли",
        "опять",
        "снова",
        "будет",
        "ждать",
        "почему",
        "где",
        "нет",
        "нету",
    }
)


def score_appeal(words: Iterable[str]) -> tuple[AppealCategory | None, int]:
    """The best category for lower-case `words` and its score (0 when nothing fits)."""
    every = lemmas(words)
    found = every & VOCABULARY
    if not found:
        return None, 0
    category, score = (_score_cached if len(found) <= _SCORE_CACHED_UP_TO else _score)(found)
    if (
        category == "outage"
        and score < STRONG
        and every & _RESTORED
        and every & _POWER
        and not every & _ASKED
    ):
        return None, 0
    return category, score


def _score(found: frozenset[str]) -> tuple[AppealCategory | None, int]:
    # Only rules whose first group a lemma touches can fire: the index skips the rest.
    candidates = sorted({i for word in found for i in _FIRST_GROUP_INDEX.get(word, ())})
    scores: dict[AppealCategory, int] = {}
    for i in candidates:
        category, weight, groups, unless = _RULES[i]
        if all(found & group for group in groups[1:]) and not found & unless:
            scores[category] = scores.get(category, 0) + weight
    if not scores:
        return None, 0
    return max(scores.items(), key=lambda item: (item[1], -_PRIORITY[item[0]]))


# Sets of lemmas remembered with their score: only small ones (a real message names a
# handful of the vocabulary's words), so that a flood of long texts cannot fill memory.
_SCORE_CACHED_UP_TO: Final = 12
_score_cached: Final = lru_cache(maxsize=16_384)(_score)


def clear_caches() -> None:
    """Forget every word seen (the dictionary stays loaded): benches and tests time and
    count look-ups from cold."""
    for cache in (_analysis, _lemma, _past, _cyrillic, _is_known, _kind, _score_cached):
        cache.cache_clear()


def classify_appeal(text: str) -> AppealCategory | None:
    """The appeal category of `text`, or None when it reads as no appeal at all.

    For handlers that already know a text is an appeal (a reply to «опишите проблему»):
    a weak cue («подскажите», «вопрос») gives `other`.
    """
    words = _WORD.findall(text.lower())
    with budget.planned(plan_lookups(words)):
        category, score = score_appeal(words)
    if category is None:
        return None
    if score >= STRONG:
        return category
    return category if score >= 1 else None
